import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
		});
	});
}

/** Whether a server failed to start because its port is taken (Postgres, PostgREST, Node's listen). */
export function isPortTaken(error: unknown): boolean {
	const message = error instanceof Error ? `${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}` : String(error);
	return /EADDRINUSE|Address already in use|could not bind/i.test(message);
}

/**
 * Starts a server on the port asked for, else on a free one. A free port is free when chosen, not
 * necessarily when the server binds it: another process (an outgoing connection's local port
 * comes from the same range) can take it in between, and the server fails with "address already
 * in use". Then it starts again on another free port, up to three tries. A port asked for is not
 * changed: that failure is the user's to see.
 */
export async function onFreePort<T>(asked: number | undefined, start: (port: number) => Promise<T>): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		const port = asked ?? (await freePort());
		try {
			return await start(port);
		} catch (error) {
			if (asked !== undefined || attempt >= 3 || !isPortTaken(error)) throw error;
		}
	}
}

/**
 * A free port none of `taken` (chosen, not yet bound): for servers that start together, each on
 * its own port. `choose` picks a candidate (freePort; a test may pass its own).
 */
export async function freePortOutside(taken: ReadonlySet<number>, choose: () => Promise<number> = freePort): Promise<number> {
	for (;;) {
		const port = await choose();
		if (!taken.has(port)) return port;
	}
}
