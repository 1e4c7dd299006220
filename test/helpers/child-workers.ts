// Node runs in separate processes, the way n8n's queue-mode workers run executions: each its own
// n8n engine and Supabase client, sharing nothing with the test or each other but the database and
// the simulators. The script (test/nodes/*/support/child-*.ts) loads everything, prints `ready`, and
// runs when told to go, so that several start at the same moment; its last line of output is JSON.
// The workers run at a raised priority where the system allows it (as root, as CI runs): a test of a
// shared rate judges when their requests arrive, and a sender that waits for a core after its slot
// came sends late, next to the following slot. Slots are 10 % apart beyond the rate, so a second
// holds 100 ms of margin in all. With two busy loops beside the stack, the shortest gap between
// arrivals at 110 ms spacing (test/nodes/FacebookSend/shared-rate.test.ts, 5 runs each) was 77-84 ms
// at the normal priority and 87-102 ms at -5. The simulator that stamps the arrivals runs higher
// still (test/helpers/priority.ts): the instrument before what it measures.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { raisePriority, WORKER_PRIORITY } from './priority';

export interface ChildWorker<Result> {
	child: ChildProcess;
	/** The priority it was given: WORKER_PRIORITY, or the normal one where raising is not allowed. */
	priority: number;
	ready: Promise<void>;
	done: Promise<Result>;
}

const ROOT = path.resolve(__dirname, '..', '..');
const running = new Set<ChildProcess>();
const folders: string[] = [];

export function startChildWorker<Result>(script: string, job: unknown): ChildWorker<Result> {
	const folder = mkdtempSync(path.join(tmpdir(), 'leadflow-worker-'));
	folders.push(folder);
	const file = path.join(folder, 'job.json');
	writeFileSync(file, JSON.stringify(job));
	// `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild, which a kill of
	// the CLI would leave running.
	const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(ROOT, script), file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
	running.add(child);
	const priority = raisePriority(child.pid, WORKER_PRIORITY);
	let output = '';
	let errors = '';
	child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
	const ready = new Promise<void>((resolve, reject) => {
		child.stdout?.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			if (output.startsWith('ready\n')) resolve();
		});
		child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it was ready: ${errors}`)));
	});
	const done = new Promise<Result>((resolve, reject) =>
		child.once('exit', (code) => {
			running.delete(child);
			if (code !== 0) return reject(new Error(`the worker exited with ${code}: ${errors}`));
			resolve(JSON.parse(output.split('\n').filter(Boolean).at(-1) ?? '{}') as Result);
		}),
	);
	// Keeps an unhandled rejection from surfacing when a test ends before waiting on it.
	ready.catch(() => undefined);
	done.catch(() => undefined);
	return { child, priority, ready, done };
}

/** Starts every job's worker, waits until all are ready, tells them to go at once, and waits for their results. */
export async function runChildWorkers<Result>(script: string, jobs: unknown[]): Promise<Result[]> {
	const workers = jobs.map((job) => startChildWorker<Result>(script, job));
	await Promise.all(workers.map((worker) => worker.ready));
	for (const worker of workers) worker.child.stdin?.write('go\n');
	return await Promise.all(workers.map((worker) => worker.done));
}

/** For afterAll: kills what is still running and removes the job files. */
export function stopChildWorkers(): void {
	for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
}
