// Helper of the benchmarks (not one itself): the CPU time a Postgres backend has used so far, read
// from /proc (Linux, the stack on this machine). Wall time on a shared machine measures the
// neighbours as much as the query; the backend's own CPU time much less.
import { readFileSync } from 'node:fs';
import type { Client } from 'pg';

const TICKS_PER_SECOND = 100;

/** The backend's pid, to pass to backendCpuMs. */
export async function backendPid(db: Client): Promise<number> {
	return (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
}

/** The fields of /proc/<pid>/stat after the process name (state first: field 3 of proc(5) is [0]). */
function statFields(pid: number): string[] {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU milliseconds of the process `pid` (10 ms resolution). */
export function backendCpuMs(pid: number): number {
	const fields = statFields(pid);
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * Minor page faults of the process `pid` so far. A backend faults once on each page of shared memory
 * (shared_buffers) it touches for the first time, so a new connection's first large call pays for
 * every buffer page it reads, where a connection that has read them before does not.
 */
export function backendMinorFaults(pid: number): number {
	return Number(statFields(pid)[7]);
}

/**
 * What this machine takes to map a new 4 KB page of memory, in µs (median of 3): a new 64 MB buffer
 * of this process written once per page, each write a page fault. A new connection's first large
 * call is slower than a warm one's by about this times its extra page faults.
 */
export function pageMappingMicros(): number {
	const size = 64 * 1024 * 1024;
	const costs: number[] = [];
	for (let round = 0; round < 3; round++) {
		const buffer = Buffer.allocUnsafeSlow(size);
		const started = performance.now();
		for (let offset = 0; offset < size; offset += 4096) buffer[offset] = 1;
		costs.push(((performance.now() - started) * 1000) / (size / 4096));
	}
	return costs.sort((a, b) => a - b)[1];
}
