import { readFileSync } from 'node:fs';

/** Whether a process with this id is running (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/**
 * Like isAlive, but a zombie (an ended process its new parent has not collected yet: an orphan
 * whose new parent, the machine's first process, may never collect it) counts as ended. Linux: the
 * state is read from /proc.
 */
export function isRunning(pid: number): boolean {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat[stat.lastIndexOf(')') + 2] !== 'Z';
	} catch {
		return false;
	}
}
