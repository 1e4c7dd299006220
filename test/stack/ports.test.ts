// A stack on free ports survives a port taken between choosing it and binding it (stack/ports.ts):
// the server starts again on another free port; a port the user asked for is never swapped.
import { createServer, type Server } from 'node:net';
import { startStack } from '../../stack';
import { freePort, freePortOutside, isPortTaken, onFreePort } from '../../stack/ports';

const taken = () => Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:5000'), { code: 'EADDRINUSE' });

test('a free port taken before the server binds it: the server starts on another one', async () => {
	const tried: number[] = [];
	const started = await onFreePort(undefined, async (port) => {
		tried.push(port);
		if (tried.length === 1) throw taken();
		return `listening on ${port}`;
	});
	expect(tried).toHaveLength(2);
	expect(started).toBe(`listening on ${tried[1]}`);
});

test('freePortOutside passes over the ports already given out and answers the first other one', async () => {
	const candidates = [40001, 40002, 40001, 40003];
	const choose = async () => candidates.shift()!;
	expect(await freePortOutside(new Set([40001, 40002]), choose)).toBe(40003);
	expect(candidates).toEqual([]);
	const port = await freePortOutside(new Set([1]));
	expect(port).toBeGreaterThan(1);
});

test('a port asked for is not swapped: its failure is thrown as it is', async () => {
	const tried: number[] = [];
	await expect(onFreePort(54321, async (port) => {
		tried.push(port);
		throw taken();
	})).rejects.toThrow(/EADDRINUSE/);
	expect(tried).toEqual([54321]);
});

test('any other failure is thrown at once, and a port taken three times in a row too', async () => {
	let calls = 0;
	await expect(onFreePort(undefined, async () => {
		calls += 1;
		throw new Error('PostgreSQL exited during start-up (code 1): FATAL: data directory has wrong ownership');
	})).rejects.toThrow(/wrong ownership/);
	expect(calls).toBe(1);

	calls = 0;
	await expect(onFreePort(undefined, async () => {
		calls += 1;
		throw taken();
	})).rejects.toThrow(/EADDRINUSE/);
	expect(calls).toBe(3);
});

test("PostgreSQL's own refusal of a taken port is recognised", async () => {
	const port = await freePort();
	const holder: Server = createServer();
	await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
	try {
		const error = await startStack({ fast: true, dbPort: port }).then(
			async (stack) => {
				await stack.stop();
				return undefined;
			},
			(refusal: unknown) => refusal,
		);
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).message).toMatch(/could not bind IPv4 address "127.0.0.1": Address already in use/);
		expect(isPortTaken(error)).toBe(true);
	} finally {
		await new Promise<void>((resolve) => holder.close(() => resolve()));
	}
}, 120_000);
