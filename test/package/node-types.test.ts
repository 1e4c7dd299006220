// This package's nodes and credentials as the harness loads them: from the TypeScript sources that
// package.json's `n8n` section points at, under the type names shipped workflows use.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HarnessCredentialTypes } from '../harness/credential-types';
import { loaders } from '../harness/loaders';
import { HarnessNodeTypes } from '../harness/node-types';
import { PACKAGE_ROOT } from '../harness/package-entries';

const manifest = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
	name: string;
	n8n: { nodes: string[]; credentials: string[] };
};

test('every credential listed in package.json loads from its source, with its test request', async () => {
	const loaded = await loaders();
	const credentialTypes = new HarnessCredentialTypes(loaded);
	expect(Object.keys(loaded.own.known.credentials)).toHaveLength(manifest.n8n.credentials.length);
	for (const [name, known] of Object.entries(loaded.own.known.credentials)) {
		expect(known.sourcePath).toMatch(/^dist\/credentials\/.+\.credentials\.js$/);
		const type = credentialTypes.getByName(name);
		expect(type.name).toBe(name);
		expect(type.test?.request).toBeDefined();
	}
	expect(credentialTypes.getByName('leadflowSupabaseApi').displayName).toBe('Leadflow Supabase API');
});

test('every node listed in package.json resolves as n8n-nodes-leadflow.<name> and CUSTOM.<name>', async () => {
	const loaded = await loaders();
	const nodeTypes = new HarnessNodeTypes(loaded);
	expect(Object.keys(loaded.own.nodeTypes)).toHaveLength(manifest.n8n.nodes.length);
	for (const name of Object.keys(loaded.own.nodeTypes)) {
		expect(nodeTypes.getByNameAndVersion(`${manifest.name}.${name}`)).toBe(nodeTypes.getByNameAndVersion(`CUSTOM.${name}`));
	}
	expect(() => nodeTypes.getByName(`${manifest.name}.noSuchNode`)).toThrow(/not one of this package's nodes/);
});

test('built-in credentials used by workflows come from n8n-nodes-base', async () => {
	const credentialTypes = new HarnessCredentialTypes(await loaders());
	expect(credentialTypes.getByName('httpHeaderAuth').properties.map((property) => property.name)).toEqual(expect.arrayContaining(['name', 'value']));
	expect(() => credentialTypes.getByName('noSuchCredential')).toThrow(/Unknown credential type/);
});
