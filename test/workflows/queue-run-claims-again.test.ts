// workflows/queue-run.json claims again while a claim comes back full: Claim Due Messages takes 100,
// and while it came back full and everything it took was tried (nothing released: a stopped batch,
// a rate limit, stops it), Claim Again? sends the run back to claim the next 100, up to 10 claims a
// run and only while one more round, at the run's average so far, still ends within its first 40
// seconds (queue-run-round-fits.test.ts: a slow Meta). Before,
// a run claimed once: at most 100 messages a minute across every owner, so a day whose capacity
// needed more in its hours was never finished (review Q: 1,000 in 5 minutes sent 401). The answer
// counts every claim of the run.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { useStackOfItsOwn } from '../helpers/stack';
import { leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-run.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;

// The schedule's run claims every owner's due messages.
useStackOfItsOwn();

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

afterEach(async () => {
	await sims.graph.control.clearFaults();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });
const runNow = (owner: string) =>
	runWorkflow(WORKFLOW, { startNode: 'Run Now', webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} }, credentials: credentials() });

async function dueQueue(count: number): Promise<string> {
	const owner = await queueOwner({ daily_capacity: count });
	await leadsOf(owner, count);
	expect((await prepareDue(owner)).queued).toBe(count);
	return owner;
}

test('the every-minute run claims again too, for every owner together (first: the stack of its own holds no other due message)', async () => {
	const [one, two] = [await dueQueue(120), await dueQueue(130)];
	const run = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs['Summarise Run']?.[0]).toMatchObject({ claimed: 250, sent: 250, released: 0 });
	expect(run.run!.data.resultData.runData['Claim Due Messages']).toHaveLength(3);
	expect([...(await messagesOf(one)), ...(await messagesOf(two))].filter((row) => row.status !== 'sent')).toEqual([]);
}, 180_000);

test('with 250 due, one run claims three times (100, 100, 50) and sends them all', async () => {
	const owner = await dueQueue(250);
	const run = await runNow(owner);
	expect(run.error).toBeUndefined();
	expect(run.response?.statusCode).toBe(200);
	expect(run.response?.body).toEqual({ claimed: 250, sent: 250, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect(run.run!.data.resultData.runData['Claim Due Messages'].map((one) => one.data?.main[0]?.length)).toEqual([100, 100, 50]);
	expect((await messagesOf(owner)).filter((row) => row.status !== 'sent')).toEqual([]);

	const again = await runNow(owner);
	expect(again.response?.body).toMatchObject({ claimed: 0, sent: 0 });
}, 180_000);

test('a claim whose batch was stopped (a rate limit: the rest released) is not followed by another', async () => {
	const owner = await dueQueue(150);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 130429 } });
	const run = await runNow(owner);
	expect(run.response?.statusCode).toBe(200);
	expect(run.run!.data.resultData.runData['Claim Due Messages']).toHaveLength(1);
	expect(run.response?.body).toMatchObject({ claimed: 100, failed: 1, errors: expect.arrayContaining([{ code: '130429', count: 1 }]) });
	expect((run.response?.body as { released: number }).released).toBeGreaterThan(0);
	expect((await messagesOf(owner)).filter((row) => row.status === 'queued').length).toBeGreaterThanOrEqual(50);
}, 180_000);
