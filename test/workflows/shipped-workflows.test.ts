// "A shipped workflow is a tested workflow": every file in workflows/ loads in n8n's engine (every
// node type and version, every credential type), can run in-process (no Code node: it needs a task
// runner), has a trigger to start from, and is run by at least one test.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Workflow } from 'n8n-workflow';
import { HarnessCredentialTypes } from '../harness/credential-types';
import { loaders } from '../harness/loaders';
import { HarnessNodeTypes } from '../harness/node-types';
import { PACKAGE_ROOT } from '../harness/package-entries';
import { loadWorkflow, TRIGGER_NODE_TYPES, WEBHOOK_TRIGGER_TYPES } from '../harness/workflow-file';

const WORKFLOWS_DIR = path.join(PACKAGE_ROOT, 'workflows');
const shipped = readdirSync(WORKFLOWS_DIR).filter((file) => file.endsWith('.json'));

function testSources(dir = path.join(PACKAGE_ROOT, 'test')): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : testSources(full);
		return entry.name.endsWith('.test.ts') ? [readFileSync(full, 'utf8')] : [];
	});
}

test('workflows/ holds workflow JSON files only', () => {
	expect(shipped.length).toBeGreaterThan(0);
	expect(readdirSync(WORKFLOWS_DIR).filter((file) => !file.endsWith('.json'))).toEqual([]);
});

describe.each(shipped)('workflows/%s', (file) => {
	const workflow = loadWorkflow(path.join('workflows', file));

	test('every node type, version and credential type is one n8n has', async () => {
		const loaded = await loaders();
		const nodeTypes = new HarnessNodeTypes(loaded);
		const credentialTypes = new HarnessCredentialTypes(loaded);
		for (const node of workflow.nodes) {
			const type = nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
			const versions = [type.description.version].flat();
			expect({ node: node.name, supported: versions.includes(node.typeVersion) }).toEqual({ node: node.name, supported: true });
			for (const credentialType of Object.keys(node.credentials ?? {})) expect(credentialTypes.recognizes(credentialType)).toBe(true);
		}
		expect(() => new Workflow({ nodes: workflow.nodes, connections: workflow.connections, active: false, nodeTypes })).not.toThrow();
	});

	test('has a trigger and no Code node', () => {
		const triggers = [...Object.values(TRIGGER_NODE_TYPES), ...WEBHOOK_TRIGGER_TYPES];
		expect(workflow.nodes.some((node) => triggers.includes(node.type))).toBe(true);
		expect(workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.code').map((node) => node.name)).toEqual([]);
	});

	test('is run in-process by a test', () => {
		const runners = testSources().filter((source) => source.includes(`workflows/${file}`) && source.includes('runWorkflow('));
		expect(runners.length).toBeGreaterThan(0);
	});
});
