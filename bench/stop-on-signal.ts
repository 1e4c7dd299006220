// Loaded before each benchmark (`--import`, by bench/run.ts): Ctrl-C or a SIGTERM (a `timeout`, a
// CI's cancel) stops the local stacks the benchmark started, and the n8n processes and commands it
// runs, before the process ends. Without it a benchmark ended by a signal never reached its
// `finally`, and its PostgreSQL, PostgREST and n8n went on running.
import { stopEveryStack } from '../stack';
import { stopRunningCommands } from '../scripts/n8n/process';

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.once(signal, () => {
		console.error(`\n${signal}: stopping the benchmark's stack…`);
		stopRunningCommands(signal);
		void stopEveryStack().finally(() => process.exit(EXIT_CODES[signal]));
	});
}
