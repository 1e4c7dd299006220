// Gemini keys shared by several workers through the database: two processes (each its own n8n
// engine and Supabase client, as two queue-mode workers are) generate for their own claimed
// contacts with the same credential. A key Google throttles in one of them is called by neither
// before its rest ends (the Gemini simulator's log says when each request came with which key), and
// the round robin runs across both: every key carries its share.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import type { LoggedRequest, RunningSimulators } from '../../../simulators';
import { runChildWorkers, stopChildWorkers } from '../../helpers/child-workers';
import { keyIdOf } from '../../../nodes/shared/gemini/keyRing';
import { testStack, withDb } from '../../helpers/stack';
import { claimedContacts, statesOf } from './support/claimed';
import { runsAlone } from '../../helpers/quiet-machine';
import { startSimulatorsProcess } from '../../helpers/simulators-process';

// Judges when requests arrive: alone on the machine, with the simulators in a process of their own
// (see both helpers).
runsAlone();

const MODEL = 'gemini-3-flash';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulatorsProcess();
});

afterAll(async () => {
	stopChildWorkers();
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
});

const freshKeys = (count: number) => Array.from({ length: count }, (_, index) => `shared-key-${index + 1}-${randomUUID()}`);

const credentials = (keys: string[]) => ({
	leadflowGeminiApi: { apiKeys: keys.join('\n'), baseUrl: sims.gemini.baseUrl, model: MODEL },
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

interface GenerateResult {
	generated: number;
	failed: IDataObject[];
}

async function generateInTwoWorkers(counts: [number, number], keys: string[], options: IDataObject) {
	const batches = await Promise.all(counts.map((count) => claimedContacts(count)));
	const results = await runChildWorkers<GenerateResult>(
		'test/nodes/GenerateFollowUp/support/child-generate.ts',
		batches.map((batch) => ({ items: batch.items, parameters: { options: { retryDelayMs: 10, ...options } }, credentials: credentials(keys) })),
	);
	return { batches, results };
}

const generateCalls = async (): Promise<LoggedRequest[]> =>
	(await sims.gemini.control.requests()).filter((request) => request.method === 'POST' && request.path.includes(':generateContent'));
const arrival = (request: LoggedRequest) => Date.parse(request.receivedAt);

test('a key Google throttled in one worker is called by neither worker before its rest ends; then it takes its turns again', async () => {
	const keys = freshKeys(3);
	// Gemini answers after 200 ms, so the two workers (3 calls at a time each) keep calling for
	// about 4 s: 120 calls, 6 at a time. Once both have used the second key a few times (about
	// 0.5 s in), its next call is answered 429 with a RetryInfo of 2 s, which leaves work for the
	// key after its rest even on a fast machine.
	await sims.gemini.control.setLatency(200);
	const running = generateInTwoWorkers([60, 60], keys, { concurrency: 3 });
	await sims.gemini.control.waitForRequests((requests) => requests.filter((request) => request.key === keys[1]).length >= 4, { timeoutMs: 60_000 });
	await sims.gemini.control.addFault({ match: { key: keys[1] }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 429, retryDelaySeconds: 2 } });
	const { batches, results } = await running;

	expect(results.map((result) => result.generated)).toEqual([60, 60]);
	const calls = await generateCalls();
	const refusal = calls.find((call) => call.key === keys[1] && call.status === 429);
	expect(refusal).toBeDefined();
	// From the moment the rest was recorded (the database's clock, this machine's), no call with the
	// key arrives from either worker until it ends, but those that had taken their turn before: a
	// turn is used within 50 ms of being taken (TURN_TTL_MS), and a request takes a few ms more.
	const { rows } = await withDb((db) => db.query<{ rested_at: Date; rested_until: Date }>('select rested_at, rested_until from leadflow_private.limit_gemini_keys where key_id = $1', [keyIdOf(keys[1])]));
	const [restedAt, restedUntil] = [rows[0].rested_at.getTime(), rows[0].rested_until.getTime()];
	expect(restedUntil - restedAt).toBe(2000);
	expect(restedAt).toBeGreaterThanOrEqual(arrival(refusal!));
	const during = calls.filter((call) => call.key === keys[1] && arrival(call) > restedAt + 100 && arrival(call) < restedUntil);
	expect(during.map((call) => arrival(call) - restedAt)).toEqual([]);
	// Meanwhile the other keys carried the work, and the rested key was used again after its rest.
	expect(calls.filter((call) => call.key !== keys[1] && arrival(call) > restedAt + 100 && arrival(call) < restedUntil).length).toBeGreaterThan(0);
	expect(calls.filter((call) => call.key === keys[1] && arrival(call) >= restedUntil).length).toBeGreaterThan(0);
	const stages = await statesOf(batches.flatMap((batch) => batch.stateIds));
	expect(new Set(stages.map((state) => state.current_stage))).toEqual(new Set(['ready_to_send']));
});

test('the round robin runs across both workers: 7 calls each over 3 keys gives the keys 5, 5 and 4 calls, not 6, 4, 4', async () => {
	const keys = freshKeys(3);
	// Gemini answering at once: each call's turn taken ahead is used (see TURN_TTL_MS), none expires.
	await sims.gemini.control.setLatency(0);
	const { results } = await generateInTwoWorkers([7, 7], keys, { concurrency: 1 });

	expect(results.map((result) => result.generated)).toEqual([7, 7]);
	const calls = await generateCalls();
	const perKey = keys.map((key) => calls.filter((call) => call.key === key).length).sort((a, b) => b - a);
	// Each worker starting its own turn at the first key would give it 3 + 3 calls.
	expect(perKey).toEqual([5, 5, 4]);
});

test('with an even number of keys and Gemini slower than a turn taken ahead lives, every key still carries its share: 2 keys, two workers of 5 calls one at a time, 5 and 5', async () => {
	const keys = freshKeys(2);
	// Each call's spare turn expires before the next call starts (TURN_TTL_MS): the round robin
	// moves on by the turns taken, used or not.
	await sims.gemini.control.setLatency(150);
	const { results } = await generateInTwoWorkers([5, 5], keys, { concurrency: 1 });

	expect(results.map((result) => result.generated)).toEqual([5, 5]);
	const calls = await generateCalls();
	expect(keys.map((key) => calls.filter((call) => call.key === key).length)).toEqual([5, 5]);
});
