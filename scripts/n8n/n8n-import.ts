// Prepares an n8n user folder the way a self-hosting user would: this package installed as a
// community package into `.n8n/nodes`, credentials and workflows imported with n8n's CLI, webhook
// workflows published (activated). Used by the end-to-end tests and `npm run editor`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './process';

/** A workflow as n8n exports it (the files in `workflows/`), with the fields used here. */
export interface N8nWorkflow {
	id: string;
	name?: string;
	nodes: Array<{
		name: string;
		type: string;
		disabled?: boolean;
		webhookId?: string;
		parameters?: Record<string, unknown>;
		credentials?: Record<string, { id: string | null; name: string }>;
	}>;
	connections: Record<string, unknown>;
	[key: string]: unknown;
}

export interface ImportedCredential {
	id: string;
	name: string;
	type: string;
	data: Record<string, unknown>;
}

/**
 * Installs the tarball with npm, as n8n's own community-package installer does it: without the
 * package's install scripts and without peer dependencies (n8n provides n8n-workflow itself).
 */
export async function installCommunityPackage(userFolder: string, tarball: string, env: NodeJS.ProcessEnv) {
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	mkdirSync(nodesDir, { recursive: true });
	await run('npm', ['install', tarball, '--ignore-scripts', '--omit=peer', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: nodesDir, env });
}

/** One credential per id the workflows reference, filled with the data given for its type. */
export function credentialsFor(workflows: N8nWorkflow[], dataByType: Record<string, Record<string, unknown>>): ImportedCredential[] {
	const byId = new Map<string, ImportedCredential>();
	for (const workflow of workflows) {
		for (const node of workflow.nodes) {
			for (const [type, reference] of Object.entries(node.credentials ?? {})) {
				if (!reference.id) throw new Error(`Node "${node.name}" of workflow ${workflow.id} references a "${type}" credential without an id.`);
				const data = dataByType[type];
				if (!data) throw new Error(`Workflow ${workflow.id} needs a "${type}" credential ("${reference.name}"): pass credentials: { ${type}: {…} }.`);
				byId.set(reference.id, { id: reference.id, name: reference.name, type, data });
			}
		}
	}
	return [...byId.values()];
}

export async function importIntoN8n(options: {
	n8nBin: string;
	workDir: string;
	env: NodeJS.ProcessEnv;
	workflows: N8nWorkflow[];
	credentials: ImportedCredential[];
	publish: string[];
}) {
	const n8n = (args: string[]) => run(process.execPath, [options.n8nBin, ...args], { cwd: options.workDir, env: options.env });
	if (options.credentials.length > 0) {
		const file = path.join(options.workDir, 'credentials.json');
		writeFileSync(file, JSON.stringify(options.credentials, null, 2), { mode: 0o600 });
		await n8n(['import:credentials', `--input=${file}`]);
	}
	const workflowsDir = path.join(options.workDir, 'workflows');
	mkdirSync(workflowsDir, { recursive: true });
	for (const workflow of options.workflows) writeFileSync(path.join(workflowsDir, `${workflow.id}.json`), JSON.stringify(workflow, null, 2));
	await n8n(['import:workflow', '--separate', `--input=${workflowsDir}`]);
	for (const id of options.publish) await n8n(['publish:workflow', `--id=${id}`]);
}
