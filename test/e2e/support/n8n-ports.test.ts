// n8n started on ports chosen as it starts (scripts/n8n/n8n-ports.ts): when a port is taken between
// the choice and n8n's bind, every process of that try stops and all start again on other ports; a
// port the caller asked for is never changed; other failures are not retried. A stand-in script
// plays n8n: it binds its two ports and, when one is taken, says so in n8n's words and exits.
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { n8nEnvironment, type N8nPorts } from '../../../scripts/n8n/n8n-environment';
import { startOnFreePorts } from '../../../scripts/n8n/n8n-ports';
import { spawnN8n, type N8nProcess } from '../../../scripts/n8n/n8n-process';
import { freePort } from '../../../stack/ports';
import { until } from '../../helpers/until';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures', 'fake-n8n');
const listeningN8n = path.join(fixtures, 'listening-n8n.js');

let held: Server;
let heldPort: number;
const started: N8nProcess[] = [];

beforeAll(async () => {
	held = createServer();
	await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
	heldPort = (held.address() as { port: number }).port;
});

afterAll(async () => {
	await Promise.all(started.map((process) => process.stop(2_000)));
	await new Promise((resolve) => held.close(resolve));
});

/** Ports from `first` while it lasts, then free ones. */
function chooser(first: number[]): () => Promise<number> {
	const queue = [...first];
	return async () => queue.shift() ?? freePort();
}

function startFakes(options: { count?: number; askedHttpPort?: number; choosePort: () => Promise<number>; args?: string[] }) {
	const tries: N8nPorts[][] = [];
	const result = startOnFreePorts({
		count: options.count ?? 1,
		askedHttpPort: options.askedHttpPort,
		choosePort: options.choosePort,
		spawn: (ports) => {
			tries.push(ports);
			const processes = ports.map((each) => spawnN8n(listeningN8n, options.args ?? [], n8nEnvironment(fixtures, each), fixtures));
			started.push(...processes);
			return processes;
		},
		stop: async (processes) => {
			await Promise.all(processes.map((process) => process.stop(2_000)));
		},
		ready: async (processes, ports) => {
			const up = await until(() => processes.every((process) => process.output().includes('n8n ready on') || process.exited()), 20_000);
			const gone = processes.find((process) => process.exited());
			if (gone) throw new Error(`n8n exited during start-up:\n${gone.output()}`);
			if (!up) throw new Error('n8n was not up in time');
			return { processes, ports };
		},
	});
	return { result, tries };
}

test('a task broker port taken before n8n binds it: n8n starts again on other ports', async () => {
	const { result, tries } = startFakes({ choosePort: chooser([await freePort(), heldPort]) });
	const { processes, ports } = await result;

	expect(tries).toHaveLength(2);
	expect(tries[0][0].taskBroker).toBe(heldPort);
	expect(ports[0].taskBroker).not.toBe(heldPort);
	expect(processes[0].exited()).toBe(false);
	expect(processes[0].output()).toContain(`n8n ready on 127.0.0.1, port ${ports[0].http}`);
	await processes[0].stop(2_000);
});

test('one of several processes finding its port taken restarts them all, every port different', async () => {
	const { result, tries } = startFakes({ count: 3, choosePort: chooser([await freePort(), await freePort(), heldPort]) });
	const { processes, ports } = await result;

	expect(tries).toHaveLength(2);
	expect(tries[0][1].http).toBe(heldPort);
	const all = ports.flatMap((each) => [each.http, each.taskBroker]);
	expect(new Set(all).size).toBe(6);
	expect(all).not.toContain(heldPort);
	expect(processes.every((process) => !process.exited())).toBe(true);
	await Promise.all(processes.map((process) => process.stop(2_000)));
});

test('an HTTP port the caller asked for is not changed: its being taken is the error', async () => {
	const { result, tries } = startFakes({ askedHttpPort: heldPort, choosePort: freePort });

	await expect(result).rejects.toThrow(`n8n's port ${heldPort} is already in use`);
	expect(tries).toHaveLength(1);
});

test('a port taken on every try: three tries, then the error names the port', async () => {
	const { result, tries } = startFakes({ choosePort: chooser([await freePort(), heldPort, await freePort(), heldPort, await freePort(), heldPort]) });

	await expect(result).rejects.toThrow(`port ${heldPort} is already in use`);
	expect(tries).toHaveLength(3);
});
