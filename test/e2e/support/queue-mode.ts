// Real n8n in queue mode, as businesses that outgrow one process run it: Redis (scripts/n8n/redis.ts),
// a database of n8n's own in the stack's Postgres (queue mode needs one every process shares), a
// main instance (`n8n start`: the editor, the webhooks, the schedules) and workers (`n8n worker`)
// that run the executions, all with EXECUTIONS_MODE=queue and one encryption key. This package is
// installed the way users install it (npm pack → .n8n/nodes, as scripts/n8n/start.ts does), the
// credentials and workflows imported with n8n's CLI, the webhook workflows published.
//
//   const cluster = await startQueueCluster({ workflows, credentials, workers: 2 });
//   try { await cluster.callWebhook('leadflow/trigger', { method: 'POST', … }); cluster.workers[0].kill(); } finally { await cluster.stop(); }
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ensureN8n } from '../../../scripts/n8n/install';
import { n8nEnvironment } from '../../../scripts/n8n/n8n-environment';
import { importIntoN8n, installCommunityPackage, type ImportedCredential, type N8nWorkflow } from '../../../scripts/n8n/n8n-import';
import { spawnN8n, type N8nProcess } from '../../../scripts/n8n/n8n-process';
import { startOnFreePorts } from '../../../scripts/n8n/n8n-ports';
import { packTarball } from '../../../scripts/n8n/package-tarball';
import { node24Env } from '../../../scripts/n8n/process';
import { startRedis, type RunningRedis } from '../../../scripts/n8n/redis';
import { callWebhook, untilRegistered, webhookEndpoints, type WebhookAnswer, type WebhookCall } from '../../../scripts/n8n/webhooks';
import { freePort } from '../../../stack/ports';
import { testStack } from '../../helpers/stack';

export interface QueueClusterOptions {
	workflows: N8nWorkflow[];
	/** Every credential the workflows reference, by id (two Facebook Pages need two of one type). */
	credentials: ImportedCredential[];
	/** How many `n8n worker` processes; default 2. */
	workers?: number;
	/** Each worker's `--concurrency`; default 10 (n8n's). */
	workerConcurrency?: number;
	/** How long to wait for everything to be up; default 180 s. */
	startTimeoutMs?: number;
}

export interface QueueWorker {
	/** The `n8n worker` process itself (not its watchdog). */
	pid: number;
	/** The executions this worker started, from its log. */
	executions(): string[];
	/** Those it started and has not finished. */
	running(): string[];
	output(): string;
	exited(): boolean;
	/** `kill -9` of the worker process: no clean-up, as a crash or an OOM kill. */
	killHard(): void;
}

export interface QueueCluster {
	baseUrl: string;
	workers: QueueWorker[];
	/** Seconds from starting the processes to every webhook registered and every worker ready. */
	startSeconds: number;
	/** Seconds of the set-up before: Redis, n8n's database, packing and installing, the imports. */
	setupSeconds: number;
	callWebhook(webhookPath: string, call?: WebhookCall): Promise<WebhookAnswer>;
	mainOutput(): string;
	stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process the watchdog started (Linux: /proc lists a process's children). */
function childOf(watchdogPid: number): number | undefined {
	try {
		const children = readFileSync(`/proc/${watchdogPid}/task/${watchdogPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
		return children.length > 0 ? Number(children[0]) : undefined;
	} catch {
		return undefined;
	}
}

async function withAdmin<T>(fn: (db: Client) => Promise<T>): Promise<T> {
	const db = new Client({ connectionString: testStack().dbUrl });
	await db.connect();
	try {
		return await fn(db);
	} finally {
		await db.end();
	}
}

function databaseEnv(database: string): Record<string, string> {
	const url = new URL(testStack().dbUrl);
	return {
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: url.hostname,
		DB_POSTGRESDB_PORT: url.port || '5432',
		DB_POSTGRESDB_DATABASE: database,
		DB_POSTGRESDB_USER: decodeURIComponent(url.username),
		DB_POSTGRESDB_PASSWORD: decodeURIComponent(url.password),
	};
}

export async function startQueueCluster(options: QueueClusterOptions): Promise<QueueCluster> {
	const setupStarted = performance.now();
	const installation = await ensureN8n();
	const userFolder = mkdtempSync(path.join(tmpdir(), 'leadflow-n8n-queue-'));
	const database = `n8n_queue_${randomBytes(4).toString('hex')}`;
	const processes: N8nProcess[] = [];
	let redis: RunningRedis | undefined;
	let databaseCreated = false;

	const stop = async () => {
		// Workers first (they report to the main), then the main, Redis and n8n's database.
		await Promise.all(processes.slice(1).map((process) => process.stop(10_000)));
		await processes[0]?.stop(10_000);
		await redis?.stop();
		if (databaseCreated) await withAdmin((db) => db.query(`drop database if exists ${database} with (force)`));
		if (process.env.LEADFLOW_E2E_KEEP !== '1') rmSync(userFolder, { recursive: true, force: true });
	};

	try {
		redis = await startRedis({ log: (line) => process.stderr.write(`${line}\n`) });
		await withAdmin((db) => db.query(`create database ${database}`));
		databaseCreated = true;
		const shared = {
			...databaseEnv(database),
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: redis.host,
			QUEUE_BULL_REDIS_PORT: String(redis.port),
			QUEUE_HEALTH_CHECK_ACTIVE: 'false',
			N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
			N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '5',
			// Every process must answer its webhooks with the execution's own data.
			EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'all',
		};
		// The CLI imports bind no port; the processes get theirs, chosen when they start.
		const importEnv = n8nEnvironment(userFolder, { http: await freePort(), taskBroker: await freePort() }, shared);

		const tarball = await packTarball(userFolder);
		await installCommunityPackage(userFolder, tarball, node24Env());
		const { credentials } = options;
		const publish = options.workflows.filter((workflow) => webhookEndpoints(workflow).length > 0).map((workflow) => workflow.id);
		await importIntoN8n({ n8nBin: installation.bin, workDir: userFolder, env: importEnv, workflows: options.workflows, credentials, publish });
		const setupSeconds = (performance.now() - setupStarted) / 1000;

		const started = performance.now();
		const endpoints = options.workflows.filter((workflow) => publish.includes(workflow.id)).flatMap(webhookEndpoints);
		const baseUrl = await startOnFreePorts({
			count: 1 + (options.workers ?? 2),
			spawn: ([mainPorts, ...workerPorts]) => {
				processes.push(spawnN8n(installation.bin, ['start'], n8nEnvironment(userFolder, mainPorts, shared), userFolder));
				for (const ports of workerPorts) {
					processes.push(spawnN8n(installation.bin, ['worker', `--concurrency=${options.workerConcurrency ?? 10}`], n8nEnvironment(userFolder, ports, shared), userFolder));
				}
				return processes;
			},
			stop: async (tried) => {
				await Promise.all(tried.map((process) => process.stop(10_000)));
				processes.length = 0;
			},
			ready: async ([main, ...workerProcesses], [mainPorts]) => {
				const baseUrl = `http://127.0.0.1:${mainPorts.http}`;
				const deadline = Date.now() + (options.startTimeoutMs ?? 180_000);
				const failIfExited = () => {
					const gone = [main, ...workerProcesses].find((process) => process.exited());
					if (gone) throw new Error(`an n8n process exited during start-up:\n${gone.output().slice(-4000)}`);
					if (Date.now() > deadline) throw new Error(`n8n queue mode was not up in time:\n${main.output().slice(-3000)}\n${workerProcesses.map((worker) => worker.output().slice(-2000)).join('\n')}`);
				};
				await untilRegistered(baseUrl, endpoints, failIfExited, 200);
				while (!workerProcesses.every((worker) => worker.output().includes('n8n worker is now ready'))) {
					failIfExited();
					await sleep(200);
				}
				return baseUrl;
			},
		});
		const [main, ...workerProcesses] = processes;

		const workers: QueueWorker[] = workerProcesses.map((worker) => {
			const pid = childOf(worker.pid);
			if (pid === undefined) throw new Error(`the n8n worker under watchdog ${worker.pid} has no process`);
			return {
				pid,
				executions: () => [...worker.output().matchAll(/Worker started execution (\d+)/g)].map((match) => match[1]),
				running: () => {
					const finished = new Set([...worker.output().matchAll(/Worker finished execution (\d+)/g)].map((match) => match[1]));
					return [...worker.output().matchAll(/Worker started execution (\d+)/g)].map((match) => match[1]).filter((id) => !finished.has(id));
				},
				output: () => worker.output(),
				exited: () => worker.exited(),
				killHard: () => process.kill(pid, 'SIGKILL'),
			};
		});
		return {
			baseUrl,
			workers,
			startSeconds: (performance.now() - started) / 1000,
			setupSeconds,
			callWebhook: (webhookPath, call = {}) => callWebhook(baseUrl, webhookPath, call),
			mainOutput: () => main.output(),
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
