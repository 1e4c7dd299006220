// The simulators for tests that judge arrival times (test/helpers/simulators-process.ts): Gemini and
// Graph each answered by a process of its own, that process the simulator itself (the one whose
// priority was raised, not a launcher in front of it), and both gone after stop().
import { getPriority } from 'node:os';
import { readFileSync } from 'node:fs';
import { isAlive } from '../helpers/process-alive';
import { startSimulatorsProcess } from '../helpers/simulators-process';

/** The command line of a running process (Linux). */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

test('Gemini and Graph each in a process of its own, which runs at the priority it was given; none left after stop', async () => {
	const sims = await startSimulatorsProcess();
	const { gemini, graph } = sims.processes;
	try {
		expect(graph.pid).not.toBe(gemini.pid);
		for (const { pid, priority } of [gemini, graph]) {
			expect(pid).toEqual(expect.any(Number));
			// The simulator runs in this very process (tsx loaded as a hook), not in a child of it…
			expect(commandLine(pid!)).toEqual([process.execPath, '--import', 'tsx', 'scripts/simulators.ts', '--json']);
			// …so the priority it was given is the simulator's: raised where allowed (root, as CI runs).
			expect(getPriority(pid!)).toBe(priority);
		}
		// Each answers for its service.
		expect(await sims.graph.control.requests()).toEqual([]);
		expect(await sims.gemini.control.requests()).toEqual([]);
	} finally {
		await sims.stop();
	}
	expect([isAlive(gemini.pid!), isAlive(graph.pid!)]).toEqual([false, false]);
});
