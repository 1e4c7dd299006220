// GenerateFollowUp failing as a node (a Gemini credential without a key or model, a database call
// that fails) gives back the claimed contacts it was handed before it reports its error: one
// automation_release call, the contacts queued with the reason generation_setup_failed, their
// lease ended, so the next claim takes them at once. With Continue On Fail the items that failed with
// such an error are given back the same way. When giving back fails, the node's own error is still
// what the user sees, the failure added to its description. Against the local stack and the Gemini
// simulator, the Supabase credential through a counting pass-through.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import type { TestCredentials } from '../../harness';
import { serviceClient, testStack } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { claimedContacts, eventsOf, statesOf } from './support/claimed';
import { runGenerate } from './support/workflow';

const NO_KEY = 'The Leadflow Gemini API credential has no API key';
let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	sims = await startSimulators();
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await sims.stop();
	await counter.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	counter.reset();
});

function credentials(gemini: { apiKeys?: string; model?: string } = {}): TestCredentials {
	return {
		leadflowGeminiApi: { apiKeys: `release-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash', ...gemini },
		leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
	};
}

const stageCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/automation_'));

async function expectGivenBack(stateIds: string[], executionId: string) {
	expect((await statesOf(stateIds)).map((state) => [state.current_stage, state.locked_by])).toEqual(stateIds.map(() => ['queued', null]));
	const events = (await eventsOf(stateIds)).filter((event) => event.to_stage === 'queued' && event.from_stage !== null);
	expect(events.map((event) => [event.from_stage, event.detail?.reason, event.detail?.held_by])).toEqual(stateIds.map(() => ['eligible', 'generation_setup_failed', executionId]));
}

/** A claim by another run, now: what it takes of the rule's contacts. */
async function claimAgain(ruleId: string): Promise<string[]> {
	const { data, error } = await serviceClient().rpc('automation_claim', { p_rule_id: ruleId, p_limit: 10, p_execution_id: `exec-${randomUUID()}` });
	expect(error).toBeNull();
	return (data as IDataObject[]).map((row) => String(row.state_id)).sort();
}

it('a credential without a key: the node fails with its own message, its contacts given back in one call first, claimable again at once', async () => {
	const batch = await claimedContacts(3);

	const { result } = await runGenerate(batch.items, {}, credentials({ apiKeys: ' \n ' }));

	expect(result.error).toEqual({ message: NO_KEY, description: 'Add at least one Gemini API key to the credential, one per line.', node: 'Generate' });
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	await expectGivenBack(batch.stateIds, batch.executionId);
	expect(await claimAgain(batch.ruleId)).toEqual([...batch.stateIds].sort());
});

it('a credential with more keys than the database takes the turns of (101): the same, the node\'s message naming the limit', async () => {
	const batch = await claimedContacts(2);
	const apiKeys = Array.from({ length: 101 }, (_, index) => `release-key-${index}-${randomUUID()}`).join('\n');

	const { result } = await runGenerate(batch.items, {}, credentials({ apiKeys }));

	// Before, every item failed unavailable (limit_take_gemini_keys refused the 101 key ids), claimable again in 5 minutes, for ever.
	expect(result.error).toMatchObject({ message: 'The Leadflow Gemini API credential has 101 API keys, more than the 100 it may have', node: 'Generate' });
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	await expectGivenBack(batch.stateIds, batch.executionId);
});

it('no model anywhere (neither the rule, the node nor the credential): the same', async () => {
	const batch = await claimedContacts(2);

	const { result } = await runGenerate(batch.items, {}, credentials({ model: '' }));

	expect(result.error).toMatchObject({ message: 'No model is set', node: 'Generate' });
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	await expectGivenBack(batch.stateIds, batch.executionId);
});

it('with Continue On Fail every item fails with the error, and the contacts are given back the same way', async () => {
	const batch = await claimedContacts(2);

	const { result, generated, failed } = await runGenerate(batch.items, {}, credentials({ apiKeys: '' }), { continueOnFail: true });

	expect(result.error).toBeUndefined();
	expect(generated).toEqual([]);
	expect(failed.map((item) => item.error)).toEqual(
		batch.stateIds.map(() => ({ code: 'invalid_input', message: NO_KEY, description: 'Add at least one Gemini API key to the credential, one per line.' })),
	);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_release']);
	await expectGivenBack(batch.stateIds, batch.executionId);
});

it('contacts another run took over are left to it; a batch generated normally gives nothing back', async () => {
	const batch = await claimedContacts(2);
	const stolen = batch.items.map((item) => ({ ...item, execution_id: `someone-else-${randomUUID()}` }));

	const { result } = await runGenerate(stolen, {}, credentials({ apiKeys: '' }));

	expect(result.error?.message).toBe(NO_KEY);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.locked_by])).toEqual(batch.stateIds.map(() => ['eligible', batch.executionId]));

	counter.reset();
	const { generated } = await runGenerate(batch.items, {}, credentials());
	expect(generated).toHaveLength(2);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_mark_generating', '/rest/v1/rpc/automation_record_generation']);
});

it('when giving back fails too, the node\'s own error is what the user sees, the failure added to its description', async () => {
	const batch = await claimedContacts(2);
	counter.failNext('automation_release', 1);

	const { result } = await runGenerate(batch.items, {}, credentials({ apiKeys: '' }));

	expect(result.error?.message).toBe(NO_KEY);
	expect(result.error?.description).toMatch(
		/^Add at least one Gemini API key to the credential, one per line\. Giving its 2 claimed contacts back failed too \(automation_release failed: .*\): they stay held by their claim until its lease ends/,
	);
	expect(result.error?.description).not.toContain(testStack().serviceRoleKey);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['eligible', 'eligible']);
});
