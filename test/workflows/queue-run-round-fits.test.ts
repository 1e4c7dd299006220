// workflows/queue-run.json claims again only when one more round, as long as the run's rounds so far
// took on average, still ends inside its 40 seconds (Claim Again?: elapsed + elapsed ÷ rounds <
// 40,000 ms). Before, the 40 s were checked only before each claim, and nothing bounded the round
// the claim started (10 groups of 10 sends, each waiting for its slowest answer): with Meta at 3.2 s
// a call, Run Now with 300 due answered after 68 s (its last send at 65 s, inside the next minute's
// run). Here every send takes at least 2.1 s, so the first round alone takes over 21 s and a second
// could not end by 40 s: the run claims once and answers. Asserted by the number of claims, never
// by wall-clock bounds: a loaded machine only makes the rounds longer, which claims no more.
// The run's messages it did not claim stay queued, and running again (a retry after a proxy's
// timeout) sends them, nothing twice.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { useStackOfItsOwn } from '../helpers/stack';
import { leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-run.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
// Every send waits this long for Meta's answer: 10 groups of 10 take over 21 s, more than half the budget.
const META_MS = 2100;
let sims: RunningSimulators;

// A claim of the queue's due messages must find only this test's.
useStackOfItsOwn();

beforeAll(async () => {
	sims = await startSimulators({ latencyMs: META_MS });
});

afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });
const runNow = (owner: string) =>
	runWorkflow(WORKFLOW, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });

test('a full claim whose round took more than half the 40 s is not followed by another; running again sends the rest, nothing twice', async () => {
	const owner = await queueOwner({ daily_capacity: 200 });
	await leadsOf(owner, 200);
	expect((await prepareDue(owner)).queued).toBe(200);

	const run = await runNow(owner);
	expect(run.error).toBeUndefined();
	expect(run.response?.statusCode).toBe(200);
	// Before: a second claim of 100 (the run was under 40 s old when the first round ended).
	expect(run.run!.data.resultData.runData['Claim Due Messages'].map((one) => one.data?.main[0]?.length)).toEqual([100]);
	expect(run.response?.body).toEqual({ claimed: 100, sent: 100, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect((await messagesOf(owner)).filter((row) => row.status === 'queued')).toHaveLength(100);

	const again = await runNow(owner);
	expect(again.response?.body).toMatchObject({ claimed: 100, sent: 100, released: 0 });
	expect((await messagesOf(owner)).filter((row) => row.status !== 'sent')).toEqual([]);
	const sends = (await sims.graph.control.requests()).filter((entry) => entry.method === 'POST' && entry.path.endsWith('/messages'));
	expect(sends).toHaveLength(200);
	expect(new Set(sends.map((entry) => (entry.body as { to?: string }).to)).size).toBe(200);
}, 240_000);
