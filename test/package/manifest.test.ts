// The package as n8n sees it: package.json's `n8n` section lists exactly the nodes and credentials
// in the source tree, with the type names workflows and users refer to.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { ICredentialType, INodeType, INodeTypeDescription } from 'n8n-workflow';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

/** `dist/nodes/X/X.node.js` → `nodes/X/X.node.ts` */
const sourceOf = (distFile: string) => path.join(root, distFile.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

const FIXED_NODE_NAMES: Record<string, string> = {
	TagEligibility: 'tagEligibility',
	GenerateFollowUp: 'generateFollowUp',
	FacebookSend: 'facebookSend',
	AutoAssignStage: 'autoAssignStage',
	QueueLedger: 'queueLedger',
	CampaignSessionCreate: 'campaignSessionCreate',
	MessengerTrigger: 'messengerTrigger',
	MessengerSync: 'messengerSync',
	LeadflowConsole: 'leadflowConsole',
};

async function loadClass<T>(file: string): Promise<T> {
	const exported = (await import(file)) as Record<string, new () => T>;
	const classes = Object.values(exported).filter((value) => typeof value === 'function');
	expect(classes).toHaveLength(1);
	return new classes[0]();
}

describe('package.json', () => {
	it('is a community node package for self-hosted n8n', () => {
		expect(pkg.name).toMatch(/^n8n-nodes-/);
		expect(pkg.keywords).toContain('n8n-community-node-package');
		expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
		expect(pkg.n8n.strict).toBe(false);
		expect(pkg.peerDependencies).toHaveProperty('n8n-workflow');
		expect(pkg.files).toEqual(['dist']);
	});

	it('is MIT licensed, with the license text in LICENSE (npm packs it with the package)', () => {
		expect(pkg.license).toBe('MIT');
		const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');
		expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 n8n-nodes-leadflow contributors\n/);
		expect(license).toContain('Permission is hereby granted, free of charge, to any person obtaining a copy');
		expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
	});

	// `npm run build` runs beside things that read dist/ (the e2e tests' and the editor's packs, the
	// console page an in-process test serves): it writes over the last build and never removes it.
	// Only a pack (and so a publish) empties dist/ first, so a tarball holds nothing of an older build.
	it('builds over dist/ without emptying it; npm pack and npm publish empty it, then build', () => {
		expect(pkg.scripts.build).not.toMatch(/clean-dist|rimraf|\brm\s|rmSync/);
		expect(pkg.scripts.prepack).toBe('node scripts/clean-dist.js && npm run build');
	});

	it('declares every package its nodes and credentials load at run time: in dependencies, or in peerDependencies for what n8n provides (n8n-workflow, luxon)', () => {
		const sources = (dir: string): string[] =>
			readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
				const relative = `${dir}/${entry.name}`;
				if (entry.isDirectory()) return sources(relative);
				return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts') ? [relative] : [];
			});
		const loaded = new Map<string, string>();
		for (const file of [...sources('nodes'), ...sources('credentials')]) {
			const text = readFileSync(path.join(root, file), 'utf8');
			const specifiers = [
				...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+'([^']+)'/gm),
				...text.matchAll(/^\s*import\s+'([^']+)'/gm),
				...text.matchAll(/\b(?:require|import)\(\s*'([^']+)'\s*\)/g),
			].map((match) => match[1]);
			for (const specifier of specifiers) {
				if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
				const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
				if (!loaded.has(name)) loaded.set(name, file);
			}
		}
		expect(loaded.get('luxon')).toBeDefined();
		const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
		const undeclared = [...loaded].filter(([name]) => !declared.has(name)).map(([name, file]) => `${name} (loaded by ${file})`);
		expect(undeclared).toEqual([]);
		// What n8n itself provides is a peer: n8n's installer leaves peers out, so the package uses n8n's own copy.
		expect(pkg.peerDependencies).toMatchObject({ 'n8n-workflow': '*', luxon: '^3.0.0' });
		expect(pkg.dependencies).not.toHaveProperty('luxon');
	});

	it('lists every credential file, and each has a test request', async () => {
		const files = readdirSync(path.join(root, 'credentials')).filter((f) => f.endsWith('.credentials.ts'));
		expect(pkg.n8n.credentials.map((f: string) => path.basename(sourceOf(f))).sort()).toEqual(files.sort());
		for (const file of pkg.n8n.credentials as string[]) {
			const credential = await loadClass<ICredentialType>(sourceOf(file));
			expect(credential.test).toBeDefined();
			const secrets = credential.properties.filter((p) => /key|token|secret/i.test(p.name));
			expect(secrets.length).toBeGreaterThan(0);
			for (const secret of secrets) expect(secret.typeOptions?.password).toBe(true);
		}
	});

	it('lists every node folder, each node with its fixed type name, usable as an AI tool (a trigger never: n8n\'s lint forbids it)', async () => {
		const folders = readdirSync(path.join(root, 'nodes'), { withFileTypes: true })
			.filter((entry) => entry.isDirectory() && existsSync(path.join(root, 'nodes', entry.name, `${entry.name}.node.ts`)))
			.map((entry) => entry.name);
		const listed = (pkg.n8n.nodes as string[]).map((file) => path.basename(path.dirname(sourceOf(file))));
		expect(listed.sort()).toEqual(folders.sort());
		for (const file of pkg.n8n.nodes as string[]) {
			const folder = path.basename(path.dirname(sourceOf(file)));
			const node = await loadClass<INodeType>(sourceOf(file));
			const description = node.description as INodeTypeDescription;
			expect(FIXED_NODE_NAMES[folder]).toBe(description.name);
			expect(description.displayName).toMatch(/^Leadflow /);
			expect(description.usableAsTool).toBe(description.group.includes('trigger') ? undefined : true);
			expect(existsSync(sourceOf(file).replace(/\.ts$/, '.json'))).toBe(true);
		}
	});
});
