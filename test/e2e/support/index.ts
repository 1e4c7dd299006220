// Real n8n for end-to-end tests: this package installed as a community package, workflows and
// credentials imported, webhook workflows published, `n8n start` on a free loopback port.
//
//   const n8n = await startN8n({ workflows: ['workflows/x.json'], credentials: { leadflowSupabaseApi: {…} } });
//   try { const answer = await n8n.callWebhook('x/path', { method: 'POST', body }); … } finally { await n8n.stop(); }
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureN8n } from '../../../scripts/n8n/install';
import { node24Env } from '../../../scripts/n8n/process';
import { freePort } from '../../../stack/ports';
import { readExecutions, type ExecutionRecord } from './executions';
import { n8nEnvironment } from './n8n-environment';
import { credentialsFor, importIntoN8n, installCommunityPackage, type E2eWorkflow } from './n8n-import';
import { spawnN8n } from './n8n-process';
import { PACKAGE_ROOT, packTarball } from './package-tarball';
import { callWebhook, isRegistered, type WebhookAnswer, type WebhookCall, type WebhookEndpoint } from './webhooks';

export type { ExecutionRecord } from './executions';
export type { WebhookAnswer, WebhookCall } from './webhooks';
export type { E2eWorkflow } from './n8n-import';

export interface StartN8nOptions {
	/** Workflow files (relative to the package root) or objects; each needs its `id`. */
	workflows: Array<string | E2eWorkflow>;
	/** Credential data by type; one credential is created per id the workflows reference. */
	credentials?: Record<string, Record<string, unknown>>;
	/** Workflow ids to publish; default: every workflow with an enabled Webhook node. */
	publish?: string[];
	/** Extra environment for n8n. */
	env?: Record<string, string>;
	/** How long to wait for the webhooks to be registered; default 90 s. */
	startTimeoutMs?: number;
}

export interface RunningN8n {
	baseUrl: string;
	userFolder: string;
	/** Seconds from `n8n start` to every published webhook answering. */
	startSeconds: number;
	/** Seconds spent in each step before that (n8n install check, npm pack, community package install, CLI imports). */
	setupSeconds: { n8nInstall: number; pack: number; packageInstall: number; imports: number };
	callWebhook(webhookPath: string, call?: WebhookCall): Promise<WebhookAnswer>;
	/** Recorded executions, oldest first. */
	executions(options?: { workflowId?: string; afterId?: number }): Promise<ExecutionRecord[]>;
	/** Waits until an execution matching `predicate` is recorded and finished (n8n saves it after answering). */
	waitForExecution(predicate: (execution: ExecutionRecord) => boolean, timeoutMs?: number): Promise<ExecutionRecord>;
	/** What n8n printed (for failure messages). */
	logs(): string;
	stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function loadWorkflow(source: string | E2eWorkflow): E2eWorkflow {
	const workflow = typeof source === 'string' ? (JSON.parse(readFileSync(path.resolve(PACKAGE_ROOT, source), 'utf8')) as E2eWorkflow) : source;
	if (!workflow.id) throw new Error(`Workflow "${workflow.name ?? source}" has no id: n8n needs one to import, publish and find it.`);
	return workflow;
}

/** The production webhook paths a workflow registers (a path with `:params` lives under the node's webhookId, as in n8n). */
function webhookEndpoints(workflow: E2eWorkflow): WebhookEndpoint[] {
	return workflow.nodes
		.filter((node) => node.type === 'n8n-nodes-base.webhook' && !node.disabled)
		.map((node) => {
			const parameters = node.parameters ?? {};
			const methods = parameters.multipleMethods ? ((parameters.httpMethod as string[] | undefined) ?? ['GET', 'POST']) : [String(parameters.httpMethod ?? 'GET')];
			const nodePath = String(parameters.path ?? '').replace(/^\/+|\/+$/g, '');
			const dynamic = nodePath.split('/').some((segment) => segment.startsWith(':'));
			const probePath = dynamic ? `${node.webhookId}/${nodePath.replace(/:[^/]+/g, 'probe')}` : nodePath;
			return { path: probePath, methods: methods.map((method) => method.toUpperCase()) };
		});
}

const since = (started: number) => (performance.now() - started) / 1000;

export async function startN8n(options: StartN8nOptions): Promise<RunningN8n> {
	let step = performance.now();
	const installation = await ensureN8n();
	const setupSeconds = { n8nInstall: since(step), pack: 0, packageInstall: 0, imports: 0 };
	const workflows = options.workflows.map(loadWorkflow);
	const publish = options.publish ?? workflows.filter((workflow) => webhookEndpoints(workflow).length > 0).map((workflow) => workflow.id);
	const credentials = credentialsFor(workflows, options.credentials ?? {});

	const userFolder = mkdtempSync(path.join(tmpdir(), 'leadflow-n8n-e2e-'));
	const keep = process.env.LEADFLOW_E2E_KEEP === '1';
	let stopping: Promise<void> | undefined;
	let stopProcess: () => Promise<void> = async () => undefined;
	const stop = () =>
		(stopping ??= (async () => {
			await stopProcess();
			if (!keep) rmSync(userFolder, { recursive: true, force: true });
		})());

	try {
		const ports = { http: await freePort(), taskBroker: await freePort() };
		const env = n8nEnvironment(userFolder, ports, options.env);
		step = performance.now();
		const tarball = await packTarball(userFolder);
		setupSeconds.pack = since(step);
		step = performance.now();
		await installCommunityPackage(userFolder, tarball, node24Env());
		setupSeconds.packageInstall = since(step);
		step = performance.now();
		await importIntoN8n({ n8nBin: installation.bin, workDir: userFolder, env, workflows, credentials, publish });
		setupSeconds.imports = since(step);

		const baseUrl = `http://127.0.0.1:${ports.http}`;
		const started = performance.now();
		const n8n = spawnN8n(installation.bin, ['start'], env, userFolder);
		stopProcess = () => n8n.stop();
		const endpoints = workflows.filter((workflow) => publish.includes(workflow.id)).flatMap(webhookEndpoints);
		const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
		for (const endpoint of endpoints) {
			while (!(await isRegistered(baseUrl, endpoint))) {
				if (n8n.exited()) throw new Error(`n8n exited during start-up:\n${n8n.output().slice(-4000)}`);
				if (Date.now() > deadline) throw new Error(`Webhook ${endpoint.path} was not registered in time:\n${n8n.output().slice(-4000)}`);
				await sleep(100);
			}
		}
		const startSeconds = since(started);
		const databaseFile = path.join(userFolder, '.n8n', 'database.sqlite');
		const executions = (filter?: { workflowId?: string; afterId?: number }) => readExecutions(installation.dir, databaseFile, filter);

		return {
			baseUrl,
			userFolder,
			startSeconds,
			setupSeconds,
			callWebhook: (webhookPath, call) => callWebhook(baseUrl, webhookPath, call),
			executions,
			async waitForExecution(predicate, timeoutMs = 15_000) {
				const until = Date.now() + timeoutMs;
				for (;;) {
					const found = (await executions()).find((execution) => execution.stoppedAt !== null && predicate(execution));
					if (found) return found;
					if (Date.now() > until) throw new Error(`No matching execution was recorded within ${timeoutMs} ms.`);
					await sleep(100);
				}
			},
			logs: () => n8n.output(),
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
