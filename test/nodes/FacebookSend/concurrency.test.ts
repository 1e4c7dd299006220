// Parallel sends (option Parallel Sends): calls overlap while Facebook is slow to answer, yet the
// Page's rate still caps how fast calls start (also across two executions at once), a refused
// token stops every call not yet started, and duplicates stay impossible. Read from the Graph
// simulator's own log: when each request arrived and how long it was open.
import type { LoggedRequest } from '../../../simulators';
import type { RunningSimulators } from '../../../simulators';
import { testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';
import { runsAlone } from '../../helpers/quiet-machine';
import { startSimulatorsProcess } from '../../helpers/simulators-process';

// Judges when requests arrive: alone on the machine, with the simulators in a process of their own
// (see both helpers; in the test's process, a paused event loop stamped a call sent before a
// throttle 93 ms after it, as if it had started after the back-off began).
runsAlone();

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulatorsProcess();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configure({ pageTokens: { [PAGE_ID]: PAGE_TOKEN } });
	await sims.graph.control.setLatency(0);
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

const parallel = (concurrency: number, messagesPerSecond = FAST.messagesPerSecond) => ({
	...FAST,
	messagesPerSecond,
	options: { ...FAST.options, concurrency },
});

const sendsOf = (requests: LoggedRequest[]) => requests.filter((request) => request.method === 'POST' && request.path.endsWith('/messages'));

/** The most requests the simulator held open at the same moment. */
function mostAtOnce(requests: LoggedRequest[]): number {
	const edges = requests.flatMap((request) => {
		const start = Date.parse(request.receivedAt);
		return [
			{ at: start, change: 1 },
			{ at: start + (request.durationMs ?? 0), change: -1 },
		];
	});
	// At the same millisecond an end comes before a start: touching is not overlapping.
	edges.sort((a, b) => a.at - b.at || a.change - b.change);
	let open = 0;
	let most = 0;
	for (const edge of edges) {
		open += edge.change;
		most = Math.max(most, open);
	}
	return most;
}

/** Gaps between consecutive arrivals, in ms. */
const gapsOf = (requests: LoggedRequest[]) => {
	const times = requests.map((request) => Date.parse(request.receivedAt)).sort((a, b) => a - b);
	return times.slice(1).map((time, index) => time - times[index]);
};

/**
 * The median gap between arrivals. The pacer spaces the calls' starts; an arrival can lag its start
 * by a few tens of ms on a busy machine, which shortens one gap and lengthens the next, so single
 * gaps are not a fair measure. Without the cap every gap would be about 0.
 */
const medianGapOf = (requests: LoggedRequest[]) => {
	const gaps = gapsOf(requests).sort((a, b) => a - b);
	return gaps[Math.floor(gaps.length / 2)];
};

/**
 * The least time 10 calls paced 50 ms apart may span, as received: after a stall of the process
 * (a starved CPU) the pacer lets late calls catch up at twice the rate, the first call also opens
 * the connection, and an arrival lags its start. Without the cap the 10 would arrive within a few ms.
 */
const LEAST_SPAN_MS = 9 * 50 * 0.8;

test('Facebook answering after 200 ms, 10 items at Parallel Sends 5: five calls overlap, never six, and the batch takes two rounds', async () => {
	const batch = await readyContacts({ count: 10 });
	await sims.graph.control.setLatency(200);

	const started = Date.now();
	const run = await runSend(batch.items, parallel(5), credentials());
	const sendMs = Date.now() - started;

	expect(run.sent).toHaveLength(10);
	const sends = sendsOf(await sims.graph.control.requests());
	expect(sends).toHaveLength(10);
	expect(mostAtOnce(sends)).toBe(5);
	// One after another it would take 10 × 200 ms; in two rounds of five, about 400 ms plus the two
	// database calls and the workflow around the node (a busy machine adds to the latter).
	expect(sendMs).toBeLessThan(10 * 200 + 1500);
	const span = Math.max(...sends.map((send) => Date.parse(send.receivedAt))) - Math.min(...sends.map((send) => Date.parse(send.receivedAt)));
	expect(span).toBeLessThan(10 * 200);
	expect(new Set(sends.map((send) => send.recipient)).size).toBe(10);
});

test('Parallel Sends 1 is one call after another', async () => {
	const batch = await readyContacts({ count: 4 });
	await sims.graph.control.setLatency(50);

	const run = await runSend(batch.items, parallel(1), credentials());

	expect(run.sent).toHaveLength(4);
	expect(mostAtOnce(sendsOf(await sims.graph.control.requests()))).toBe(1);
});

test('the rate caps how fast calls start however many are in flight: 10 items at 20 per second, Parallel Sends 10', async () => {
	const batch = await readyContacts({ count: 10 });
	await sims.graph.control.setLatency(100);

	const run = await runSend(batch.items, parallel(10, 20), credentials());

	expect(run.sent).toHaveLength(10);
	const sends = sendsOf(await sims.graph.control.requests());
	// Several calls are open at once (100 ms each, one starting every 50 ms)…
	expect(mostAtOnce(sends)).toBeGreaterThanOrEqual(2);
	// …but they start 50 ms apart. Without the cap they would all arrive within a few ms.
	expect(medianGapOf(sends)).toBeGreaterThanOrEqual(40);
	const arrivals = sends.map((send) => Date.parse(send.receivedAt));
	expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(LEAST_SPAN_MS);
});

test('two executions sending for the same Page at once share its rate', async () => {
	const [first, second] = [await readyContacts({ count: 5 }), await readyContacts({ count: 5 })];
	await sims.graph.control.setLatency(100);

	const runs = await Promise.all([first, second].map((batch) => runSend(batch.items, parallel(10, 20), credentials())));

	expect(runs.map((run) => run.sent.length)).toEqual([5, 5]);
	const sends = sendsOf(await sims.graph.control.requests());
	expect(sends).toHaveLength(10);
	expect(medianGapOf(sends)).toBeGreaterThanOrEqual(40);
	const arrivals = sends.map((send) => Date.parse(send.receivedAt));
	expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(LEAST_SPAN_MS);
});

test('the same batch in two executions at once, in parallel: each contact reaches Facebook once', async () => {
	const batch = await readyContacts({ count: 12 });
	await sims.graph.control.setLatency(30);

	const runs = await Promise.all([1, 2].map(() => runSend(batch.items, parallel(10), credentials())));

	const sent = runs.reduce((sum, run) => sum + run.sent.length, 0);
	expect(sent).toBe(12);
	const recipients = sendsOf(await sims.graph.control.requests()).map((send) => String(send.recipient));
	expect(recipients).toHaveLength(12);
	expect(new Set(recipients).size).toBe(12);
	expect(recipients.sort()).toEqual([...batch.psids].sort());
	const ledger = await ledgerOf(batch.ruleId);
	expect(ledger.map((row) => row.status)).toEqual(Array.from({ length: 12 }, () => 'sent'));
	expect(new Set(ledger.map((row) => row.state_id)).size).toBe(12);
});

test('one contact many times in one batch, in parallel: sent once, the rest duplicates', async () => {
	const batch = await readyContacts({ count: 1 });
	const repeated = Array.from({ length: 6 }, () => batch.items[0]);

	const run = await runSend(repeated, parallel(6), credentials());

	expect(run.sent).toHaveLength(1);
	expect(run.skipped.map((item) => item.send)).toEqual(Array.from({ length: 5 }, () => expect.objectContaining({ outcome: 'duplicate', reason: 'same_batch' })));
	expect(await sims.graph.control.messages()).toHaveLength(1);
});

test('190 in parallel: the calls already in flight finish and are recorded, none starts after the refusal', async () => {
	const batch = await readyContacts({ count: 6 });
	await sims.graph.control.setLatency(150);
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, effect: { kind: 'graphError', code: 190 } });

	const run = await runSend(batch.items, parallel(3), credentials(), { continueOnFail: true });

	// Items 0, 1 and 2 were in flight (started 5 ms apart) when item 0's 190 came back.
	const sends = sendsOf(await sims.graph.control.requests());
	expect(sends.map((send) => send.recipient).sort()).toEqual(batch.psids.slice(0, 3).sort());
	expect(run.sent.map((item) => item.state_id).sort()).toEqual(batch.stateIds.slice(1, 3).sort());
	expect(run.failed.map((item) => [item.state_id, (item.send as { reason: string }).reason, (item.send as { attempts: number }).attempts])).toEqual([
		[batch.stateIds[0], 'invalid_token', 1],
		[batch.stateIds[3], 'invalid_token', 0],
		[batch.stateIds[4], 'invalid_token', 0],
		[batch.stateIds[5], 'invalid_token', 0],
	]);
	const states = await statesOf(batch.stateIds);
	expect(states.map((state) => state.current_stage)).toEqual(['failed', 'sent', 'sent', 'failed', 'failed', 'failed']);
	expect(states.every((state) => state.locked_by === null)).toBe(true);
});

test('throttled in parallel: the Page pauses for the back-off, then every item is sent', async () => {
	const batch = await readyContacts({ count: 6 });
	// The first call is throttled once; the other five must wait out its back-off too.
	await sims.graph.control.addFault({ match: { recipient: batch.psids[0] }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 32 } });
	const backoffMs = 300;

	const run = await runSend(batch.items, { ...parallel(6), options: { ...parallel(6).options, backoffMs } }, credentials());

	expect(run.sent).toHaveLength(6);
	const sends = sendsOf(await sims.graph.control.requests());
	const throttledAt = Date.parse(sends.find((send) => send.outcome === 'fault')!.receivedAt);
	// Calls already started before the throttle came back are not recalled; every call after it
	// waits at least the back-off (less its 20 % jitter).
	const afterwards = sends.filter((send) => Date.parse(send.receivedAt) > throttledAt + 20);
	expect(afterwards.length).toBeGreaterThanOrEqual(1);
	for (const send of afterwards) expect(Date.parse(send.receivedAt) - throttledAt).toBeGreaterThanOrEqual(backoffMs * 0.8 - 5);
});

test('a slow Facebook near the end of a short send lease: calls stop starting in time for the outcomes to be recorded while the lease holds, so a contact never called is claimable again, not send_uncertain', async () => {
	const batch = await readyContacts({ count: 4 });
	// Every answer takes 2.5 s; the calls start for 6 s (5 s of Send Lease + 1 s for the rate), one
	// after another: at 0, 2.5 and 5 s. The fourth contact's turn comes at 7.5 s: not called.
	await sims.graph.control.setLatency(2500);
	const parameters = { ...FAST, options: { ...FAST.options, concurrency: 1, leaseSeconds: 5, timeoutSeconds: 3 } };
	// The next claim's reaper, as another execution would run it: as soon as a contact still in
	// sending is past its lease.
	let running = true;
	const reaper = (async () => {
		while (running) {
			const { rows } = await withDb((db) =>
				db.query(`select count(*)::int n from public.ai_automation_contact_states where id = any($1::uuid[]) and current_stage = 'sending' and locked_until <= now()`, [
					batch.stateIds,
				]),
			);
			if (rows[0].n > 0) {
				await withDb((db) => db.query(`select * from public.automation_reap(p_rule_id => $1)`, [batch.ruleId]));
				return true;
			}
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		return false;
	})();

	const run = await runSend(batch.items, parameters, credentials());
	running = false;
	const reaped = await reaper;
	expect(sendsOf(await sims.graph.control.requests())).toHaveLength(3);
	expect(run.sent.map((item) => item.send)).toEqual(batch.items.slice(0, 3).map(() => expect.objectContaining({ outcome: 'sent', recorded: 'sent' })));
	expect(run.failed.map((item) => item.send)).toEqual([expect.objectContaining({ reason: 'lease_expired', retryLater: true, attempts: 0, recorded: 'failed' })]);
	const states = await statesOf(batch.stateIds);
	expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at !== null])).toEqual([
		['sent', null, false],
		['sent', null, false],
		['sent', null, false],
		['failed', 'lease_expired', true],
	]);
	// The reaper never found a contact in sending past its lease.
	expect(reaped).toBe(false);
}, 30_000);
