// Facebook Send's Options given by an expression are checked against the ranges the editor shows
// (nodes/FacebookSend/description.ts, through nodes/shared/checked-options.ts), per item: a value
// out of range fails the item naming the option as the editor shows it, the value and the range,
// before its contact is begun or anything is sent, and its ready_to_send contact is given back
// (claimable again at once); with Continue On Fail that item fails alone and the others are sent.
// A value at either edge of a range is accepted. Against the local stack and the Graph simulator.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { serviceClient, testStack } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { startRpcCounter, type RpcCounter } from './support/rpc-counter';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await counter.stop();
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	counter.reset();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

/** A value as an expression gives it (the editor's bounds do not hold for it). */
const expression = (value: unknown) => `={{ ${JSON.stringify(value)} }}`;

const stageCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/automation_')).map((path) => path.replace('/rest/v1/rpc/', ''));

async function claimAgain(ruleId: string): Promise<string[]> {
	const { data, error } = await serviceClient().rpc('automation_claim', { p_rule_id: ruleId, p_limit: 10, p_execution_id: `exec-${randomUUID()}` });
	expect(error).toBeNull();
	return (data as IDataObject[]).map((row) => String(row.state_id)).sort();
}

test.each([
	['Backoff (Ms)', 'backoffMs', -1, 'a whole number from 0 to 2147483647', '-1'],
	['Parallel Sends', 'concurrency', 'ten', 'a whole number from 1 to 100', '"ten"'],
	['Parallel Sends', 'concurrency', 101, 'a whole number from 1 to 100', '101'],
	['Request Timeout (Seconds)', 'timeoutSeconds', 0.5, 'a whole number from 1 to 3600', '0.5'],
	['Retries', 'retries', 11, 'a whole number from 0 to 10', '11'],
	['Retry Later After (Minutes)', 'retryLaterMinutes', 0, 'a whole number from 1 to 43200', '0'],
	['Send Lease (Seconds)', 'leaseSeconds', 3, 'a whole number from 5 to 86400', '3'],
	['Send Lease (Seconds)', 'leaseSeconds', 'three', 'a whole number from 5 to 86400', '"three"'],
])('%s (%s) = %j from an expression stops the node naming it, before anything is begun or sent; the contacts are claimable again', async (label, name, value, range, shown) => {
	const batch = await readyContacts({ count: 2 });

	const run = await runSend(batch.items, { ...FAST, options: { ...FAST.options, [name]: expression(value) } }, credentials());

	expect(run.result.error?.message).toBe(`${label} must be ${range} (got ${shown})`);
	expect(run.result.error?.description).toContain(`Set ${label} in the node's Options to ${range}`);
	expect(await sims.graph.control.messages()).toEqual([]);
	// Nothing begun: the contacts are only given back.
	expect(stageCalls()).toEqual(['automation_release']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['queued', 'queued']);
	expect(await claimAgain(batch.ruleId)).toEqual([...batch.stateIds].sort());
});

test('with Continue On Fail an item whose own option is out of range fails alone, naming it; the other is sent', async () => {
	const batch = await readyContacts({ count: 2 });
	const [refused, sent] = batch.stateIds;
	const options = { ...FAST.options, retries: `={{ $json.state_id === ${JSON.stringify(refused)} ? 12 : 2 }}` };

	const run = await runSend(batch.items, { ...FAST, options }, credentials(), { continueOnFail: true });

	expect(run.result.error).toBeUndefined();
	expect(run.failed.map((item) => item.error)).toEqual([expect.objectContaining({ message: 'Retries must be a whole number from 0 to 10 (got 12)' })]);
	expect((await sims.graph.control.messages()).length).toBe(1);
	expect((await statesOf([refused, sent])).map((state) => state.current_stage)).toEqual(['queued', 'sent']);
	expect(await claimAgain(batch.ruleId)).toContain(refused);
});

test.each([
	['the upper edges', { backoffMs: 2_147_483_647, concurrency: 100, timeoutSeconds: 3600, retries: 10, retryLaterMinutes: 43_200, leaseSeconds: 86_400 }],
	['the lower edges (as text, as an expression may give them)', { backoffMs: '0', concurrency: '1', timeoutSeconds: '5', retries: '0', retryLaterMinutes: '1', leaseSeconds: '5' }],
])('every option at %s, from expressions, is accepted: the contacts are sent', async (_edges, values) => {
	const batch = await readyContacts({ count: 2 });
	const options = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, expression(value)]));

	const run = await runSend(batch.items, { ...FAST, options }, credentials());

	expect(run.result.error).toBeUndefined();
	expect(run.failed).toEqual([]);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['sent', 'sent']);
});

test('Request Timeout (Seconds) at its lowest, 1, is accepted', async () => {
	const batch = await readyContacts({ count: 1 });

	const run = await runSend(batch.items, { ...FAST, options: { ...FAST.options, timeoutSeconds: expression(1) } }, credentials());

	expect(run.result.error).toBeUndefined();
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['sent']);
});
