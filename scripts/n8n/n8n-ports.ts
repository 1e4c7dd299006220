// n8n processes started on ports chosen just before they start, and started again on others when
// one was taken in between. A free port is free when chosen, not when n8n binds it 12-15 s later
// (n8n loads for that long): any process, an outgoing connection's local port included, can take
// it meanwhile. n8n then says so and exits ("n8n's port 40123 is already in use. Do you have another
// instance of n8n running already?", or "n8n Task Broker's port …"). The local stack's servers have
// the same guard (stack/ports.ts onFreePort); n8n needs its own because it takes two ports per
// process and says "taken" in its own words, sometimes without exiting.
import { freePort, freePortOutside } from '../../stack/ports';
import type { N8nPorts } from './n8n-environment';
import type { N8nProcess } from './n8n-process';

/** n8n's words for a port it was given and could not bind. */
const PORT_TAKEN = /port (\d+) is already in use/;

const TRIES = 3;

/** The port an n8n process said was taken, if one did. */
export function takenPort(processes: N8nProcess[]): number | undefined {
	for (const process of processes) {
		const match = PORT_TAKEN.exec(process.output());
		if (match) return Number(match[1]);
	}
	return undefined;
}

export interface StartOnFreePortsOptions<T> {
	/** How many n8n processes (each gets its own HTTP and task broker ports). */
	count: number;
	/** The HTTP port of the first process, when the caller chose it; never changed. */
	askedHttpPort?: number;
	/** Starts the processes on these ports (one entry per process). */
	spawn: (ports: N8nPorts[]) => N8nProcess[];
	/** Resolves once the processes are ready; throws when they cannot be (exited, timed out). */
	ready: (processes: N8nProcess[], ports: N8nPorts[]) => Promise<T>;
	/** Stops the processes of a failed try; default: each process's stop(). */
	stop?: (processes: N8nProcess[]) => Promise<void>;
	/** Where free ports come from (tests give a taken one). */
	choosePort?: () => Promise<number>;
}

/**
 * Starts n8n processes and waits until they are ready. When one says a port it was given is taken,
 * every process of that try is stopped and all start again on newly chosen ports, up to three
 * tries. A port the caller asked for is not changed: when it is the one taken, that error is the
 * caller's to see. Any other failure is thrown as it is.
 */
export async function startOnFreePorts<T>(options: StartOnFreePortsOptions<T>): Promise<T> {
	const choosePort = options.choosePort ?? freePort;
	for (let attempt = 1; ; attempt++) {
		const ports = await distinctPorts(options, choosePort);
		const processes = options.spawn(ports);
		let watching = true;
		// n8n may log "already in use" and keep running without its server: do not wait for a timeout.
		const watcher = (async () => {
			while (watching) {
				const port = takenPort(processes);
				if (port !== undefined) {
					throw new Error(`n8n could not listen on port ${port}: another process holds it.\n${processes.map((process) => process.output().slice(-2000)).join('\n')}`);
				}
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		})();
		try {
			// The watcher ends without a value only after this race (below): the value is ready's.
			return (await Promise.race([options.ready(processes, ports), watcher])) as T;
		} catch (error) {
			await (options.stop ? options.stop(processes) : Promise.all(processes.map((process) => process.stop())));
			const port = takenPort(processes);
			if (port === undefined || port === options.askedHttpPort || attempt >= TRIES) throw error;
		} finally {
			watching = false;
			await watcher.catch(() => undefined);
		}
	}
}

/** HTTP and task broker ports for each process, all different (the asked HTTP port first). */
async function distinctPorts(options: { count: number; askedHttpPort?: number }, choosePort: () => Promise<number>): Promise<N8nPorts[]> {
	const used = new Set<number>(options.askedHttpPort === undefined ? [] : [options.askedHttpPort]);
	const next = async () => {
		const port = await freePortOutside(used, choosePort);
		used.add(port);
		return port;
	};
	const ports: N8nPorts[] = [];
	for (let index = 0; index < options.count; index++) {
		const http = index === 0 && options.askedHttpPort !== undefined ? options.askedHttpPort : await next();
		ports.push({ http, taskBroker: await next() });
	}
	return ports;
}
