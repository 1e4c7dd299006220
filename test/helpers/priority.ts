// Raising the priority of a process a test measures or measures with (the simulators that stamp
// arrivals, the child workers that send): where the system allows it (as root, as CI runs).
import { getPriority, setPriority } from 'node:os';

/** The Graph and Gemini simulators' processes: above everything they measure. */
export const SIMULATOR_PRIORITY = -10;
/** The child workers whose sends a test judges: above the rest of the machine, below the simulators. */
export const WORKER_PRIORITY = -5;

/** Gives `pid` the priority where allowed; returns the priority it now has (this process's own otherwise). */
export function raisePriority(pid: number | undefined, priority: number): number {
	try {
		if (pid === undefined) return getPriority();
		setPriority(pid, priority);
		return priority;
	} catch {
		// Not allowed for this user (EACCES): the normal priority.
		return getPriority();
	}
}
