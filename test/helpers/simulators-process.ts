// The Gemini and Graph simulators each in a process of its own (`scripts/simulators.ts --json`),
// for tests that judge when requests arrive. In the test's own process the simulators stamp a
// request when that process's event loop gets to it, and a jest worker's event loop pauses (garbage
// collection of its large heap, compiling the next module) long enough to stamp requests that
// arrived 100 ms apart as if they came together. Graph's arrivals are the measure of a Page's rate,
// so Graph gets a process that does nothing else: Gemini's answers (a thousand prompts while the
// sends go out) are another process's work and garbage.
// On a machine this busy (n8n, workers, Postgres on 2 cores) even such a process can wait for a
// core and stamp requests late and together: it runs at a higher priority where the system allows
// it (as root, as CI runs), as a measuring instrument should; elsewhere at the normal one. The
// process spawned is the simulator itself (`node --import tsx`), not tsx's command line, which would
// run it in a child of its own that the priority never reaches.
// Same shape as startSimulators(); stop() ends the processes (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SimulatorControl, type RunningSimulators } from '../../simulators';
import { raisePriority, SIMULATOR_PRIORITY } from './priority';

const root = path.resolve(__dirname, '../..');

interface SimulatorsChild {
	geminiBaseUrl: string;
	graphBaseUrl: string;
	pid: number | undefined;
	/** The priority it was given: SIMULATOR_PRIORITY, or the normal one where raising is not allowed. */
	priority: number;
	stop(): Promise<void>;
}

async function spawnSimulators(): Promise<SimulatorsChild> {
	const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/simulators.ts', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
	const priority = raisePriority(child.pid, SIMULATOR_PRIORITY);
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	const stop = async () => {
		if (child.exitCode !== null || child.signalCode !== null) return;
		const exited = once(child, 'exit');
		child.kill('SIGTERM');
		const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
		await exited;
		clearTimeout(timer);
	};
	try {
		const lines = createInterface({ input: child.stdout });
		let first: string | undefined;
		for await (const line of lines) {
			first = line;
			break;
		}
		if (first === undefined) throw new Error(`the simulators' process ended before it was ready: ${stderr}`);
		const { geminiBaseUrl, graphBaseUrl } = JSON.parse(first) as { geminiBaseUrl: string; graphBaseUrl: string };
		return { geminiBaseUrl, graphBaseUrl, pid: child.pid, priority, stop };
	} catch (error) {
		await stop();
		throw error;
	}
}

interface Measured {
	/** The processes answering for Gemini and Graph, and the priority each was given. */
	processes: { gemini: { pid?: number; priority: number }; graph: { pid?: number; priority: number } };
}

/** The simulators in processes of their own. */
export async function startSimulatorsProcess(): Promise<RunningSimulators & Measured> {
	const started = await Promise.allSettled([spawnSimulators(), spawnSimulators()]);
	const children = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
	const stop = async () => {
		await Promise.all(children.map((child) => child.stop()));
	};
	const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
	if (failed) {
		await stop();
		throw failed.reason;
	}
	// The first answers for Gemini, the second for Graph; each leaves the other's simulator idle.
	const [forGemini, forGraph] = children;
	return {
		gemini: { baseUrl: forGemini.geminiBaseUrl, control: new SimulatorControl(forGemini.geminiBaseUrl) },
		graph: { baseUrl: forGraph.graphBaseUrl, control: new SimulatorControl(forGraph.graphBaseUrl) },
		processes: { gemini: { pid: forGemini.pid, priority: forGemini.priority }, graph: { pid: forGraph.pid, priority: forGraph.priority } },
		stop,
	};
}
