// The batches one process sends at once for one Page share one pacer (helpers/pacer.ts,
// withSharedPacer): the shipped follow-up workflow sends its batches in sub-executions it does not
// wait for, and with a pacer each they raced one another for the Page's row in the database, each
// holding slots only its own calls could use, so a slot one batch could not start in time was lost
// to all (measured: 2,300 takes and ~0.15 s of lost slots for 1,000 sends in 20 batches). Shared,
// the process asks for the Page's slots one take at a time, a quarter of a second of them at a
// time (not one round trip a slot), and every contact is still sent once. And the pacer's own rule for a failed take: it is thrown to the calls waiting when
// it failed, not to every batch that comes after (a shared pacer outlives one batch's bad moment);
// a take that fails for a moment is taken again (one 503 used to give up the unsent contacts of every
// batch waiting); and batches share a pacer only when they reach Supabase with the same credential
// (one workflow's refused key must not fail another's sends).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from 'n8n-workflow';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import type { LoggedRequest, RunningSimulators } from '../../../simulators';
import { testStack } from '../../helpers/stack';
import { Pacer, type SlotSource, type TakenSlots } from '../../../nodes/FacebookSend/helpers/pacer';
import { startRpcCounter, type RpcCounter } from './support/rpc-counter';
import { PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	sims = await startSimulatorsProcess();
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await counter.stop();
	await sims.stop();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configure({ pageTokens: { [PAGE_ID]: PAGE_TOKEN } });
	await sims.graph.control.setLatency(0);
});

const sendsOf = (requests: LoggedRequest[]) => requests.filter((request) => request.method === 'POST' && request.path.endsWith('/messages'));

test('four executions of one process sending for one Page at once take its slots one take at a time, a quarter second of them at a time, and send every contact once', async () => {
	const batches = await Promise.all([1, 2, 3, 4].map(() => readyContacts({ count: 25 })));
	counter.reset();

	const runs = await Promise.all(batches.map((batch) => runSend(batch.items, { ...FAST, messagesPerSecond: 200, options: { ...FAST.options, concurrency: 10 } }, credentials())));

	expect(runs.map((run) => run.sent.length)).toEqual([25, 25, 25, 25]);
	const sends = sendsOf(await sims.graph.control.requests());
	expect(sends).toHaveLength(100);
	expect(new Set(sends.map((send) => send.recipient)).size).toBe(100);
	expect((await statesOf(batches.flatMap((batch) => batch.stateIds))).every((state) => state.current_stage === 'sent')).toBe(true);
	// With a pacer each, the four batches' first calls asked the database at the same moment.
	expect(counter.peakInFlight('/limit_take_send_slots')).toBe(1);
	// 100 slots 5.5 ms apart span 0.55 s: a take each time half of the 250 ms taken is behind is
	// about 6. Taken as the calls waited, every slot was handed out at once and the next take got
	// only the one or two that had opened since: about one take a slot.
	const takes = counter.paths.filter((path) => path.endsWith('/limit_take_send_slots')).length;
	expect(takes).toBeGreaterThan(0);
	expect(takes).toBeLessThanOrEqual(25);
});

/** A source whose takes answer what the test says, in order. */
function scriptedSource(answers: Array<TakenSlots | Error>): SlotSource & { takes: number } {
	const source = {
		takes: 0,
		chunk: () => 10,
		async take(): Promise<TakenSlots> {
			const answer = answers[source.takes] ?? new Error('no more answers');
			source.takes += 1;
			if (answer instanceof Error) throw answer;
			return answer;
		},
		async pause(): Promise<void> {},
		pausedUntil: () => 0,
	};
	return source;
}

test('a failed take fails the calls waiting for it; a call that comes after it asks again and gets its slot', async () => {
	const now = Date.now();
	const source = scriptedSource([new Error('Supabase answered 503'), { slots: [{ at: now, latest: now + 60_000 }] }]);
	const pacer = new Pacer(source);

	await expect(pacer.waitForSlot(100)).rejects.toThrow('Supabase answered 503');
	await expect(pacer.waitForSlot(100)).resolves.toBeUndefined();
	expect(source.takes).toBe(2);
});

test('a take of the Page\'s slots that fails for a moment (a 503) is taken again: two executions waiting on it send every contact', async () => {
	const [first, second] = await Promise.all([readyContacts({ count: 30 }), readyContacts({ count: 30 })]);
	const parameters = { ...FAST, messagesPerSecond: 40, options: { ...FAST.options, concurrency: 5 } };
	counter.reset();
	// The third take is answered 503 without reaching the database.
	counter.failNext('/limit_take_send_slots', 1, { after: 2 });

	const runs = await Promise.all([first, second].map((batch) => runSend(batch.items, parameters, credentials(), { continueOnFail: true })));

	expect(counter.requests.filter((sent) => sent.path.endsWith('/limit_take_send_slots')).length).toBeGreaterThan(3);
	expect(runs.map((run) => run.failed.map((item) => item.send))).toEqual([[], []]);
	expect(runs.map((run) => run.sent.length)).toEqual([30, 30]);
});

/** A pass-through to Supabase that also takes a second key, until `revoke` (an owner's old key, rotated out). */
async function gatewayWithSecondKey(target: string, realKey: string, secondKey: string): Promise<{ url: string; revoke(): void; stop(): Promise<void> }> {
	const upstream = new URL(target);
	let revoked = false;
	const server: Server = createServer((incoming, outgoing) => {
		const headers = { ...incoming.headers, host: upstream.host } as unknown as Record<string, string>;
		const second = headers.apikey === secondKey || headers.authorization === `Bearer ${secondKey}`;
		if (second && revoked) {
			incoming.resume();
			outgoing.writeHead(401, { 'content-type': 'application/json' });
			outgoing.end(JSON.stringify({ message: 'Invalid API key' }));
			return;
		}
		if (second) {
			headers.apikey = realKey;
			headers.authorization = `Bearer ${realKey}`;
		}
		const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers }, (answer) => {
			outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
			answer.pipe(outgoing);
		});
		incoming.pipe(forwarded);
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		revoke: () => (revoked = true),
		stop: () => new Promise((resolve) => server.close(() => resolve())),
	};
}

test('two executions for one Page with different Supabase keys: the one whose key is refused mid-run fails alone', async () => {
	const stack = testStack();
	const gateway = await gatewayWithSecondKey(stack.supabaseUrl, stack.serviceRoleKey, 'rotated-out-key-of-another-workflow');
	try {
		const [kept, revoked] = await Promise.all([readyContacts({ count: 20 }), readyContacts({ count: 20 })]);
		// 40 sends 110 ms apart: about 4.4 s, both executions waiting on the Page's slots throughout.
		const parameters = { ...FAST, messagesPerSecond: 10, options: { ...FAST.options, concurrency: 5 } };
		const facebook = facebookCredential(sims.graph.baseUrl);
		const keptRun = runSend(kept.items, parameters, { leadflowFacebookPageApi: facebook, leadflowSupabaseApi: { url: gateway.url, serviceRoleKey: stack.serviceRoleKey } }, { continueOnFail: true });
		await sleep(300);
		const revokedRun = runSend(revoked.items, parameters, { leadflowFacebookPageApi: facebook, leadflowSupabaseApi: { url: gateway.url, serviceRoleKey: 'rotated-out-key-of-another-workflow' } }, { continueOnFail: true });
		await sleep(1500);
		gateway.revoke();
		const [keptResult, revokedResult] = await Promise.all([keptRun, revokedRun]);

		// The execution whose key still works sends every contact, whatever the other's key does.
		expect(keptResult.failed.map((item) => item.send)).toEqual([]);
		expect(keptResult.sent).toHaveLength(20);
		// The other one really was stopped by its refused key (else this test would prove nothing).
		expect(revokedResult.sent.length).toBeLessThan(20);
	} finally {
		await gateway.stop();
	}
});
