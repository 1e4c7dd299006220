// Loaded before each benchmark (`--import`, by bench/run.ts): Ctrl-C, or a SIGINT/SIGTERM sent to
// `tsx bench/run.ts` (which passes it on), or its output's reader going away, stops the local
// stacks the benchmark started and the commands it is waiting for (an n8n install), then ends the
// process. Without it a benchmark ended
// by a signal never reached its `finally`, and its PostgreSQL and PostgREST went on running. (An
// n8n it started ends with it: scripts/n8n/n8n-process.ts's watchdog kills n8n's process group
// when this process exits. npm does not pass a SIGTERM on to its script: `timeout … npm run bench`
// ends npm, and the benchmark runs on to its end, where it stops its stack itself.)
import { stopEveryStack } from '../stack';
import { stopRunningCommands } from '../scripts/n8n/process';

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

let stopping = false;
function stopAndExit(why: string, code: number, signal: NodeJS.Signals): void {
	if (stopping) return;
	stopping = true;
	console.error(`\n${why}: stopping the benchmark's stack…`);
	stopRunningCommands(signal);
	void stopEveryStack().finally(() => process.exit(code));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.once(signal, () => stopAndExit(signal, EXIT_CODES[signal] ?? 1, signal));
}

// Whoever read the output has gone (`npm run bench … | head`): the next line printed fails with
// EPIPE, which would end the process at once, its stack still running. Stopped as for SIGPIPE
// instead (exit 141, 128 + 13, what a shell reports for it).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
	if (error.code !== 'EPIPE') throw error;
	stopAndExit('output closed (EPIPE)', 141, 'SIGTERM');
});
