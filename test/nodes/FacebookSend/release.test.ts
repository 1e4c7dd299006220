// FacebookSend failing as a node before any send began (a Page credential without a valid Page ID,
// a rate it refuses, a begin the database refused) gives back the ready_to_send contacts it was
// handed: one automation_release call, queued with the reason send_setup_failed, claimable again at
// once. A contact its begin moved to sending is never given back (its message may have gone out):
// a Page token Facebook refused (190) records every begun contact and gives nothing back. Against
// the local stack and the Graph simulator, the Supabase credential through a counting pass-through.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { startRpcCounter, type RpcCounter } from './support/rpc-counter';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, SEQUENTIAL } from './support/workflow';

const NO_PAGE = 'The Facebook Page credential has no valid Page ID';
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

const credentials = (facebook: Record<string, string> = {}) => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl, facebook),
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

const stageCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/automation_'));

async function releasedReasons(stateIds: string[]): Promise<Array<[string, string, string]>> {
	const { rows } = await withDb((db) =>
		db.query<{ from_stage: string; reason: string; held_by: string }>(
			`select from_stage, detail ->> 'reason' as reason, detail ->> 'held_by' as held_by from public.ai_automation_stage_events
			  where state_id = any ($1::uuid[]) and to_stage = 'queued' and from_stage is not null order by state_id`,
			[stateIds],
		),
	);
	return rows.map((row) => [row.from_stage, row.reason, row.held_by]);
}

async function claimAgain(ruleId: string): Promise<string[]> {
	const { data, error } = await serviceClient().rpc('automation_claim', { p_rule_id: ruleId, p_limit: 10, p_execution_id: `exec-${randomUUID()}` });
	expect(error).toBeNull();
	return (data as IDataObject[]).map((row) => String(row.state_id)).sort();
}

test('a Page credential without a valid Page ID: the node fails with its own message, its ready_to_send contacts given back in one call, claimable again at once', async () => {
	const batch = await readyContacts({ count: 3 });

	const run = await runSend(batch.items, FAST, credentials({ pageId: '' }));

	expect(run.result.error).toMatchObject({ message: NO_PAGE, description: 'Enter the numeric ID of the Page in the Leadflow Facebook Page API credential.', node: 'Send' });
	expect(await sims.graph.control.messages()).toEqual([]);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.locked_by])).toEqual(batch.stateIds.map(() => ['queued', null]));
	expect(await releasedReasons(batch.stateIds)).toEqual(batch.stateIds.map(() => ['ready_to_send', 'send_setup_failed', batch.executionId]));
	expect(await claimAgain(batch.ruleId)).toEqual([...batch.stateIds].sort());
});

test('a rate the node refuses, with Continue On Fail: every item fails with it and its contact is given back', async () => {
	const batch = await readyContacts({ count: 2 });

	const run = await runSend(batch.items, { ...FAST, messagesPerSecond: 20_000 }, credentials(), { continueOnFail: true });

	expect(run.result.error).toBeUndefined();
	expect(run.failed.map((item) => (item.error as IDataObject).message)).toEqual(batch.stateIds.map(() => expect.stringMatching(/^Messages per Second must be above 0/)));
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['queued', 'queued']);
});

test('a begin the database refused (after its repeats): nothing was sent, the contacts are given back', async () => {
	const batch = await readyContacts({ count: 2 });
	counter.failNext('automation_begin_send', 10);

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.result.error?.message).toMatch(/^automation_begin_send failed/);
	expect(await sims.graph.control.messages()).toEqual([]);
	expect(stageCalls().filter((path) => path.endsWith('automation_release'))).toHaveLength(1);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['queued', 'queued']);
});

test('a Page token Facebook refused (190): every contact the begin moved to sending is recorded, none given back', async () => {
	const batch = await readyContacts({ count: 3 });
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });

	const run = await runSend(batch.items, SEQUENTIAL, credentials());

	expect(run.result.error?.message).toBe('The Page token is invalid or expired: reconnect the credential');
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_begin_send', '/rest/v1/rpc/automation_record_send']);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.error_code])).toEqual(batch.stateIds.map(() => ['failed', 'invalid_token']));
	expect(await releasedReasons(batch.stateIds)).toEqual([]);
});

test('a begin the database committed but whose every answer was lost: the contacts it moved to sending are never given back', async () => {
	const batch = await readyContacts({ count: 2 });
	counter.loseNextAnswers('automation_begin_send', 10);

	const run = await runSend(batch.items, FAST, credentials());

	expect(run.result.error?.message).toMatch(/^automation_begin_send failed/);
	expect(await sims.graph.control.messages()).toEqual([]);
	// Asked to give them back, the database refuses: a send that began may have gone out; the reaper
	// decides once the send lease ends (send_uncertain).
	expect(stageCalls().filter((path) => path.endsWith('automation_release'))).toHaveLength(1);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.locked_by])).toEqual(batch.stateIds.map(() => ['sending', batch.executionId]));
	expect(await releasedReasons(batch.stateIds)).toEqual([]);
});
