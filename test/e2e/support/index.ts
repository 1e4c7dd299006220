// Real n8n for end-to-end tests: this package installed as a community package, workflows and
// credentials imported, webhook workflows published, `n8n start` on a free loopback port (the steps
// `npm run editor` shares, in scripts/n8n/start.ts), in a temporary user folder, with the executions
// read from n8n's database.
//
//   const n8n = await startN8n({ workflows: ['workflows/x.json'], credentials: { leadflowSupabaseApi: {…} } });
//   try { const answer = await n8n.callWebhook('x/path', { method: 'POST', body }); … } finally { await n8n.stop(); }
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureN8n } from '../../../scripts/n8n/install';
import { credentialsFor, type N8nWorkflow } from '../../../scripts/n8n/n8n-import';
import { PACKAGE_ROOT } from '../../../scripts/n8n/package-tarball';
import { startN8nWithPackage } from '../../../scripts/n8n/start';
import { callWebhook, type WebhookAnswer, type WebhookCall } from '../../../scripts/n8n/webhooks';
import { readExecutions, type ExecutionRecord } from './executions';

export type { ExecutionRecord } from './executions';
export type { WebhookAnswer, WebhookCall } from '../../../scripts/n8n/webhooks';
export type E2eWorkflow = N8nWorkflow;

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

const since = (started: number) => (performance.now() - started) / 1000;

/**
 * A workflow (a file relative to the package root, or an object) with its Schedule Triggers switched
 * off: published, n8n would otherwise run the shipped schedule for every owner or rule of the
 * stack, racing the test's own calls.
 */
export function withoutSchedule(source: string | E2eWorkflow): E2eWorkflow {
	const workflow = loadWorkflow(source);
	return { ...workflow, nodes: workflow.nodes.map((node) => (node.type === 'n8n-nodes-base.scheduleTrigger' ? { ...node, disabled: true } : node)) };
}


export async function startN8n(options: StartN8nOptions): Promise<RunningN8n> {
	const step = performance.now();
	const installation = await ensureN8n();
	const n8nInstall = since(step);
	const workflows = options.workflows.map(loadWorkflow);
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
		const n8n = await startN8nWithPackage({
			installation,
			userFolder,
			workflows,
			credentials,
			publish: options.publish,
			env: options.env,
			startTimeoutMs: options.startTimeoutMs,
		});
		stopProcess = n8n.stop;
		const { baseUrl } = n8n;
		const databaseFile = path.join(userFolder, '.n8n', 'database.sqlite');
		const executions = (filter?: { workflowId?: string; afterId?: number }) => readExecutions(installation.dir, databaseFile, filter);

		return {
			baseUrl,
			userFolder,
			startSeconds: n8n.startSeconds,
			setupSeconds: { n8nInstall, ...n8n.setupSeconds },
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
			logs: () => n8n.process.output(),
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}

export { signInAsOwner, type N8nRest } from './rest';
