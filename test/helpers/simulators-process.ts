// The Gemini and Graph simulators in a process of their own (`scripts/simulators.ts --json`), for
// tests that judge when requests arrive. In the test's own process the simulators stamp a request
// when that process's event loop gets to it, and a jest worker's event loop pauses (garbage
// collection of its large heap, compiling the next module) long enough to stamp requests that
// arrived 100 ms apart as if they came together. A small process of their own answers at once.
// On a machine this busy (n8n, workers, Postgres on 2 cores) even that process can wait for a core
// and stamp requests late and together: it runs at a higher priority where the system allows it (as
// root, as CI runs), as a measuring instrument should; elsewhere at the normal one.
// Same shape as startSimulators(); stop() ends the process (SIGTERM, then SIGKILL).
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SimulatorControl, type RunningSimulators } from '../../simulators';

const root = path.resolve(__dirname, '../..');
const tsxCli = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export async function startSimulatorsProcess(): Promise<RunningSimulators> {
	const child = spawn(process.execPath, [tsxCli, 'scripts/simulators.ts', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
	try {
		if (child.pid !== undefined) setPriority(child.pid, -10);
	} catch {
		// Not allowed for this user (EACCES): the normal priority.
	}
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
		return {
			gemini: { baseUrl: geminiBaseUrl, control: new SimulatorControl(geminiBaseUrl) },
			graph: { baseUrl: graphBaseUrl, control: new SimulatorControl(graphBaseUrl) },
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
