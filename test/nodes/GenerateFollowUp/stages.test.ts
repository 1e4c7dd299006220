// GenerateFollowUp with Record Stages on, against the local stack and the Gemini simulator: claimed
// contacts move eligible → generating → ready_to_send (message, time, model, tokens) or failed
// (reason), every transition in the event history, in two database round trips per batch however
// many contacts it holds (the keys' turns and rests, shared by every worker, are counted apart).
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { geminiSetupProblem } from '../../../nodes/shared/gemini/setup';
import { startSimulators, type GeminiRequestBody, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type TestCredentials } from '../../harness';
import { serviceClient, testStack } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { claimedContacts, eventsOf, RULE_INSTRUCTIONS, statesOf } from './support/claimed';
import { generateWorkflow, runGenerate } from './support/workflow';

const MODEL = 'gemini-3-flash';
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

function credentials(keyCount = 2): TestCredentials {
	const keys = Array.from({ length: keyCount }, () => `db-key-${randomUUID()}`);
	return {
		leadflowGeminiApi: { apiKeys: keys.join('\n'), baseUrl: sims.gemini.baseUrl, model: MODEL },
		leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
	};
}

const recorded = (options: IDataObject = {}): IDataObject => ({ options: { retryDelayMs: 10, ...options } });
const rpcCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/'));
/** The contacts' stages: the calls that are one per batch. */
const stageCalls = () => rpcCalls().filter((path) => path.startsWith('/rest/v1/rpc/automation_'));
/** The keys' turns and rests, shared by every worker through the database (nodes/shared/gemini/sharedKeyRing.ts). */
const keyCalls = (name: 'limit_take_gemini_keys' | 'limit_rest_gemini_key') => rpcCalls().filter((path) => path === `/rest/v1/rpc/${name}`).length;

it('claimed contacts become ready_to_send with the message, model, time and tokens, in two round trips (and one for the keys\' turns)', async () => {
	const batch = await claimedContacts(4, { language: 'English' });
	const { result, generated, failed } = await runGenerate(batch.items, recorded(), credentials());

	expect(result.error).toBeUndefined();
	expect(failed).toEqual([]);
	expect(generated).toHaveLength(4);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_mark_generating', '/rest/v1/rpc/automation_record_generation']);
	// The four calls start together: their keys' turns are taken in one call.
	expect(keyCalls('limit_take_gemini_keys')).toBe(1);

	// The prompt came from the claim: the rule's instructions and language, the name, the history.
	const [body] = (await sims.gemini.control.requests()).map((request) => request.body as GeminiRequestBody);
	expect(body.systemInstruction?.parts[0].text).toContain(RULE_INSTRUCTIONS);
	expect(body.systemInstruction?.parts[0].text).toContain('Write in English.');
	const user = body.contents[0].parts[0].text ?? '';
	expect(user).toMatch(/^Contact name: An[a-z]+\n/);
	expect(user).toContain('This is the 1st follow-up.');
	expect(user).toMatch(/Contact \(.+\): Do you ship to Leeds\?\nBusiness \(.+\): We do, next day\.\nContact \(.+\): How much is it\?/);

	const states = await statesOf(batch.stateIds);
	generated.forEach((item, index) => {
		const followUp = item.followUp as IDataObject;
		expect(item.state_id).toBe(batch.stateIds[index]);
		expect(item.stage).toBe('ready_to_send');
		expect(followUp.message).toMatch(new RegExp(`^Hi ${String(item.sender_name)}! `));
		expect(states[index]).toMatchObject({
			current_stage: 'ready_to_send',
			generated_message: followUp.message,
			generation_model: MODEL,
			generation_ms: followUp.generationMs,
			error_code: null,
			locked_by: batch.executionId,
		});
		const tokens = followUp.tokens as IDataObject;
		expect(states[index].generation_usage).toEqual({ promptTokenCount: tokens.prompt, candidatesTokenCount: tokens.output, totalTokenCount: tokens.total });
	});

	const events = await eventsOf(batch.stateIds);
	for (const stateId of batch.stateIds) {
		const path = events.filter((event) => event.state_id === stateId).map((event) => `${event.from_stage ?? ''}→${event.to_stage}`);
		expect(path.slice(-2)).toEqual(['eligible→generating', 'generating→ready_to_send']);
	}
});

it('a batch of 60 still makes two round trips for its stages; the keys\' turns of calls starting together are taken together', async () => {
	const batch = await claimedContacts(60);
	const { generated } = await runGenerate(batch.items, recorded({ concurrency: 10 }), credentials(3));
	expect(generated).toHaveLength(60);
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_mark_generating', '/rest/v1/rpc/automation_record_generation']);
	expect(keyCalls('limit_take_gemini_keys')).toBeGreaterThanOrEqual(1);
	expect(keyCalls('limit_take_gemini_keys')).toBeLessThan(60);
	const stages = (await statesOf(batch.stateIds)).map((state) => state.current_stage);
	expect(new Set(stages)).toEqual(new Set(['ready_to_send']));
});

it('a batch of 1,001 from one claim: every contact generated and recorded, in calls of at most 1,000 (the Data API answers at most 1,000 rows)', async () => {
	const batch = await claimedContacts(1001);
	const { generated, failed } = await runGenerate(batch.items, recorded({ concurrency: 32 }), credentials(3));
	expect(failed).toEqual([]);
	expect(generated).toHaveLength(1001);
	expect(new Set(generated.map((item) => item.stage))).toEqual(new Set(['ready_to_send']));
	expect(stageCalls()).toEqual([
		'/rest/v1/rpc/automation_mark_generating',
		'/rest/v1/rpc/automation_mark_generating',
		'/rest/v1/rpc/automation_record_generation',
		'/rest/v1/rpc/automation_record_generation',
	]);
	const stages = (await statesOf(batch.stateIds)).map((state) => state.current_stage);
	expect(stages.filter((stage) => stage === 'ready_to_send')).toHaveLength(1001);
});

it('a batch of 1,001, the second record refused (Continue On Fail): the 1,000 recorded by the first call are output as generated, only the last fails, given back to be claimed again', async () => {
	const batch = await claimedContacts(1001);
	counter.failNext('/rpc/automation_record_generation', 1, { after: 1 });
	const { generated, failed, result } = await runGenerate(batch.items, recorded({ concurrency: 32 }), credentials(3), { continueOnFail: true });
	expect(result.error).toBeUndefined();
	expect(generated).toHaveLength(1000);
	expect(new Set(generated.map((item) => item.stage))).toEqual(new Set(['ready_to_send']));
	expect(failed).toHaveLength(1);
	expect(JSON.stringify(failed[0])).toContain('automation_record_generation failed');
	const stages = (await statesOf(batch.stateIds)).map((state) => state.current_stage);
	expect(stages.slice(0, 1000).every((stage) => stage === 'ready_to_send')).toBe(true);
	// The one whose record failed is not sent by this run: given back (automation_release), not left
	// generating until its lease ends.
	expect(stages[1000]).toBe('queued');
});

it('every key throttled: the contacts fail with quota, claimable again when a key is back', async () => {
	const batch = await claimedContacts(3);
	await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });
	const { generated, failed } = await runGenerate(batch.items, recorded({ maxQuotaWaitMs: 1_000 }), credentials(2));

	expect(generated).toEqual([]);
	expect(failed.map((item) => [(item.error as IDataObject).code, item.stage])).toEqual(Array(3).fill(['quota', 'failed']));
	// What to do, on the item and in the contact's recorded error (what the console shows).
	const quotaAdvice = /Nothing to fix for this item: .*If it happens often, add API keys of other Google Cloud projects to the Leadflow Gemini API credential \(one per line; keys of one project share its quota\), lower Concurrency, or raise the quota at Google\.$/;
	for (const item of failed) expect((item.error as IDataObject).description).toMatch(quotaAdvice);
	// No key was refused: the count says so (a field on every quota failure).
	for (const item of failed) expect((item.error as IDataObject).refusedKeys).toBe(0);
	expect(stageCalls()).toHaveLength(2);
	// Each key was rested in the database, for every worker, once per 429 it answered.
	expect(keyCalls('limit_rest_gemini_key')).toBeGreaterThanOrEqual(2);
	for (const state of await statesOf(batch.stateIds)) {
		expect(state).toMatchObject({ current_stage: 'failed', error_code: 'quota', generated_message: null, locked_by: null });
		expect(state.retry_after_seconds).toBeGreaterThanOrEqual(40);
		expect(state.retry_after_seconds).toBeLessThanOrEqual(46);
		expect(state.error_message).toMatch(/Every Gemini key of the credential \(2\) is throttled/);
		expect(state.error_message).toMatch(quotaAdvice);
	}
	const failedEvents = (await eventsOf(batch.stateIds)).filter((event) => event.to_stage === 'failed');
	expect(failedEvents.map((event) => [event.from_stage, event.detail?.error_code])).toEqual(Array(3).fill(['generating', 'quota']));
});

it('every key refused (an invalid key): the contacts fail with key_refused, claimable again when the keys\' 15-minute rest ends', async () => {
	const batch = await claimedContacts(3);
	// The simulator knows none of the credential's keys: Google's 400 API_KEY_INVALID.
	await sims.gemini.control.configure({ apiKeys: ['a-key-the-credential-does-not-hold'] });
	const { generated, failed } = await runGenerate(batch.items, recorded(), credentials(2));

	expect(generated).toEqual([]);
	expect(failed.map((item) => [(item.error as IDataObject).code, item.stage])).toEqual(Array(3).fill(['key_refused', 'failed']));
	// The same advice Analyze fails its run with (one text, nodes/shared/gemini/setup.ts), on the item
	// and in the contact's recorded error (what the console shows).
	const keysAdvice = geminiSetupProblem({ code: 'key_refused', message: '' }, 'any')!.description;
	expect(keysAdvice).toMatch(/^Fix the API keys of the Leadflow Gemini API credential \(one per line\)/);
	for (const item of failed) expect((item.error as IDataObject).description).toBe(keysAdvice);
	for (const state of await statesOf(batch.stateIds)) {
		expect(state).toMatchObject({ current_stage: 'failed', error_code: 'key_refused', generated_message: null, locked_by: null });
		expect(state.retry_after_seconds).toBeGreaterThanOrEqual(890);
		expect(state.retry_after_seconds).toBeLessThanOrEqual(900);
		expect(state.error_message).toMatch(/Google refused every Gemini key of the credential/);
		expect(state.error_message).toContain(keysAdvice);
	}
});

it('a blocked prompt fails with blocked and waits for a person (no retry time)', async () => {
	const batch = await claimedContacts(2);
	await sims.gemini.control.addFault({ effect: { kind: 'blocked', blockReason: 'PROHIBITED_CONTENT' } });
	const { failed } = await runGenerate(batch.items, recorded(), credentials(1));
	expect(failed.map((item) => (item.error as IDataObject).code)).toEqual(['blocked', 'blocked']);
	for (const state of await statesOf(batch.stateIds)) {
		expect(state).toMatchObject({ current_stage: 'failed', error_code: 'blocked', retry_after_seconds: null });
		expect(state.error_message).toContain('PROHIBITED_CONTENT');
	}
});

it('some generated, some failed: one record call holds both', async () => {
	const batch = await claimedContacts(4);
	// With one call at a time, the first two contacts meet the blocked answers.
	await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 2 }, effect: { kind: 'blocked' } });
	const { generated, failed } = await runGenerate(batch.items, recorded({ concurrency: 1 }), credentials(1));
	expect(failed.map((item) => item.state_id)).toEqual(batch.stateIds.slice(0, 2));
	expect(generated.map((item) => item.state_id)).toEqual(batch.stateIds.slice(2));
	expect(stageCalls()).toHaveLength(2);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['failed', 'failed', 'ready_to_send', 'ready_to_send']);
});

it('contacts this execution does not hold are not generated: lease_lost, the database unchanged', async () => {
	const batch = await claimedContacts(2);
	const otherRun = `someone-else-${randomUUID()}`;
	const stolen = batch.items.map((item) => ({ ...item, execution_id: otherRun }));
	const { generated, failed } = await runGenerate(stolen, recorded(), credentials(1));
	expect(generated).toEqual([]);
	expect(failed.map((item) => (item.error as IDataObject).code)).toEqual(['lease_lost', 'lease_lost']);
	expect(String((failed[0].error as IDataObject).message)).toMatch(/^This execution no longer holds the contact as eligible \(another run took it/);
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(rpcCalls()).toEqual(['/rest/v1/rpc/automation_mark_generating']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['eligible', 'eligible']);
});

it('the contact state and holder may come from any expression', async () => {
	const batch = await claimedContacts(2);
	const parameters = { ...recorded(), stateId: '={{ $json["state_id"] }}', leaseHolder: '={{ $json["execution_id"] }}' };
	const { generated } = await runGenerate(batch.items, parameters, credentials(1));
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['ready_to_send', 'ready_to_send']);
});

it('the same batch run twice generates once: the second run says the contacts are already generated, waiting for Facebook Send', async () => {
	const batch = await claimedContacts(2);
	const first = await runGenerate(batch.items, recorded(), credentials(1));
	await sims.gemini.control.clearRequests();
	// As n8n's Execute step does: the same claim's items again (with other instructions).
	const again = await runGenerate(batch.items, { ...recorded(), instructions: 'Offer a discount.' }, credentials(1));
	expect(again.generated).toEqual([]);
	expect(again.failed.map((item) => item.error)).toEqual(
		Array(2).fill({
			code: 'already_generated',
			message: "The contact's follow-up is already generated (ready_to_send) and waits for Facebook Send, which sends the message recorded then; it was not generated again.",
		}),
	);
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.generated_message])).toEqual(
		first.generated.map((item) => ['ready_to_send', (item.followUp as IDataObject).message]),
	);
});

it('the execution stopped mid-batch (Stop, or the workflow timeout): the contacts not generated are claimable again, not failed for good', async () => {
	const batch = await claimedContacts(6);
	await sims.gemini.control.setLatency(400, ':generateContent');
	const stop = new AbortController();
	const run = runWorkflow(generateWorkflow(batch.items, recorded({ concurrency: 2 })), { credentials: credentials(2), cancel: stop.signal });
	// Two calls at a time: the third starts once one of the first two is answered.
	await sims.gemini.control.waitForRequests(3);
	stop.abort();
	await run;

	const states = await statesOf(batch.stateIds);
	const generated = states.filter((state) => state.current_stage === 'ready_to_send');
	const notGenerated = states.filter((state) => state.current_stage !== 'ready_to_send');
	expect(generated.length).toBeGreaterThanOrEqual(1);
	expect(notGenerated.length).toBeGreaterThanOrEqual(2);
	for (const state of notGenerated) {
		expect(state).toMatchObject({ current_stage: 'failed', error_code: 'cancelled', generated_message: null, locked_by: null });
		// retry_at set: the next claim takes them again once it has passed.
		expect(state.retry_after_seconds).toBeGreaterThan(0);
		expect(state.retry_after_seconds).toBeLessThanOrEqual(300);
	}
	// Every contact was recorded after the cancel: none is left generating for the reaper.
	expect(stageCalls()).toEqual(['/rest/v1/rpc/automation_mark_generating', '/rest/v1/rpc/automation_record_generation']);
	// Once their retry time has passed, the next run claims them again (and only them).
	const { data, error } = await serviceClient().rpc('automation_claim', {
		p_rule_id: batch.ruleId,
		p_limit: 10,
		p_execution_id: `exec-${randomUUID()}`,
		p_now: new Date(Date.now() + 301_000).toISOString(),
	});
	expect(error).toBeNull();
	const notGeneratedIds = batch.stateIds.filter((_, index) => states[index].current_stage !== 'ready_to_send');
	expect((data as IDataObject[]).map((item) => item.state_id).sort()).toEqual(notGeneratedIds.sort());
});
