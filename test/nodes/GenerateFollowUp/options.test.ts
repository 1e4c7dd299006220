// Generate Follow-Up's Options given by an expression are checked against the ranges the editor
// shows (Lease (Seconds) only with Record in Supabase on, where it acts) (nodes/GenerateFollowUp/description.ts, through nodes/shared/checked-options.ts): a value out
// of range stops the node naming the option as the editor shows it, the value and the range, before
// anything is moved to generating or Gemini is called, and the claimed contacts are given back
// (claimable again at once); with Continue On Fail an item whose own option is wrong fails alone.
// A value at either edge of a range is accepted. Against the local stack and the Gemini simulator.
import { randomUUID } from 'node:crypto';
import { NodeHelpers, type IDataObject, type INodeParameters, type INodeProperties } from 'n8n-workflow';
import { GenerateFollowUp } from '../../../nodes/GenerateFollowUp/GenerateFollowUp.node';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import type { TestCredentials } from '../../harness';
import { serviceClient, testStack } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { claimedContacts, statesOf } from './support/claimed';
import { runGenerate } from './support/workflow';

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

function credentials(): TestCredentials {
	return {
		leadflowGeminiApi: { apiKeys: `options-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
	};
}

/** An option's value as an expression gives it (the editor's bounds do not hold for it). */
const expression = (value: unknown) => `={{ ${JSON.stringify(value)} }}`;

const stageCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/automation_')).map((path) => path.replace('/rest/v1/rpc/', ''));

async function claimAgain(ruleId: string): Promise<string[]> {
	const { data, error } = await serviceClient().rpc('automation_claim', { p_rule_id: ruleId, p_limit: 10, p_execution_id: `exec-${randomUUID()}` });
	expect(error).toBeNull();
	return (data as IDataObject[]).map((row) => String(row.state_id)).sort();
}

test.each([
	['Concurrency', 'concurrency', 'three', 'a whole number from 1 to 100', '"three"'],
	['Concurrency', 'concurrency', 1.5, 'a whole number from 1 to 100', '1.5'],
	['Key Rest After 429 (Seconds)', 'keyRestSeconds', 0, 'a whole number from 1 to 172800', '0'],
	['Lease (Seconds)', 'leaseSeconds', 3, 'a whole number from 5 to 86400', '3'],
	['Lease (Seconds)', 'leaseSeconds', 'three', 'a whole number from 5 to 86400', '"three"'],
	['Max Messages in Prompt', 'maxMessages', -1, 'a whole number from 0 to 1000', '-1'],
	['Max Output Tokens', 'maxOutputTokens', -1, 'a whole number from 0 to 65536', '-1'],
	['Max Retries', 'maxRetries', 11, 'a whole number from 0 to 10', '11'],
	['Max Wait for a Resting Key (Ms)', 'maxQuotaWaitMs', '10s', 'a whole number from 0 to 3600000', '"10s"'],
	['Retry Delay (Ms)', 'retryDelayMs', 'soon', 'a whole number from 0 to 30000', '"soon"'],
	['Temperature', 'temperature', 2.5, 'a number from 0 to 2', '2.5'],
	['Temperature', 'temperature', 'hot', 'a number from 0 to 2', '"hot"'],
	['Timeout (Ms)', 'timeoutMs', 99, 'a whole number from 100 to 3600000', '99'],
	['Too Long Reply', 'tooLongReply', 'cut', 'one of shorten, fail', '"cut"'],
])('%s (%s) = %j from an expression stops the node naming it, before anything is generated; the contacts are claimable again', async (label, name, value, range, shown) => {
	const batch = await claimedContacts(2);

	const { result, generated, failed } = await runGenerate(batch.items, { options: { [name]: expression(value) } }, credentials());

	expect(result.error?.message).toBe(`${label} must be ${range} (got ${shown})`);
	expect(result.error?.description).toContain(`Set ${label} in the node's Options to ${range}`);
	expect([generated, failed]).toEqual([[], []]);
	// Nothing moved to generating and no Gemini call: the claimed contacts are only given back.
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(stageCalls()).toEqual(['automation_release']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['queued', 'queued']);
	expect(await claimAgain(batch.ruleId)).toEqual([...batch.stateIds].sort());
});

test('with Continue On Fail an item whose own option is out of range fails alone, naming it; the others are generated', async () => {
	const batch = await claimedContacts(2);
	// Per item: the first contact (Ana) gets a temperature Gemini does not take.
	const options = { temperature: '={{ $json.sender_name === "Ana" ? 7 : 0.7 }}' };

	const ana = String(batch.items.find((item) => item.sender_name === 'Ana')?.state_id);
	const other = batch.stateIds.find((id) => id !== ana);

	const { result, generated, failed } = await runGenerate(batch.items, { options }, credentials(), { continueOnFail: true });

	expect(result.error).toBeUndefined();
	expect(generated.map((item) => [item.state_id, item.stage])).toEqual([[other, 'ready_to_send']]);
	expect(failed.map((item) => item.error)).toEqual([
		expect.objectContaining({ message: 'Temperature must be a number from 0 to 2 (got 7)', description: expect.stringContaining("Gemini's temperature runs from 0 to 2.") }),
	]);
	// One Gemini call, for the other contact; the refused one is given back, claimable again.
	expect((await sims.gemini.control.requests()).length).toBe(1);
	expect((await statesOf([ana, other!])).map((state) => state.current_stage)).toEqual(['queued', 'ready_to_send']);
	expect(await claimAgain(batch.ruleId)).toEqual([ana]);
});

test.each([
	[
		'the upper edges',
		{ concurrency: 100, keyRestSeconds: 172_800, leaseSeconds: 86_400, maxMessages: 1000, maxOutputTokens: 65_536, maxRetries: 10, maxQuotaWaitMs: 3_600_000, retryDelayMs: 30_000, temperature: 2, timeoutMs: 3_600_000, tooLongReply: 'fail' },
	],
	[
		'the lower edges (as text, as an expression may give them)',
		{ concurrency: '1', keyRestSeconds: '1', leaseSeconds: '5', maxMessages: '0', maxOutputTokens: '0', maxRetries: '0', maxQuotaWaitMs: '0', retryDelayMs: '0', temperature: '0', timeoutMs: '20000', tooLongReply: 'shorten' },
	],
])('every option at %s, from expressions, is accepted: the contacts are generated', async (_edges, values) => {
	const batch = await claimedContacts(2);
	const options = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, expression(value)]));

	const { result, generated, failed } = await runGenerate(batch.items, { options }, credentials());

	expect(result.error).toBeUndefined();
	expect(failed).toEqual([]);
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send']);
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['ready_to_send', 'ready_to_send']);
});

test('Timeout (Ms) at its lowest, 100, is accepted (the call may then time out, as any call can)', async () => {
	const batch = await claimedContacts(1);

	const { result, generated, failed } = await runGenerate(batch.items, { options: { timeoutMs: expression(100), maxRetries: 0 } }, credentials());

	expect(result.error).toBeUndefined();
	expect([...generated.map((item) => item.stage), ...failed.map((item) => (item.error as IDataObject).code)]).toEqual([expect.stringMatching(/^(ready_to_send|timeout)$/)]);
});

test('options above a maximum added after workflows were saved with larger values are clamped to it, not refused: the contacts are generated', async () => {
	// Saved before these options had a maximum: the node used them (or clamped them) then, so a
	// saved workflow must not start failing every run now.
	const batch = await claimedContacts(1);
	const options = { keyRestSeconds: 300_000, maxMessages: 5000, maxOutputTokens: 100_000, maxQuotaWaitMs: 7_200_000, retryDelayMs: 60_000, timeoutMs: 900_000 };

	const { result, generated, failed } = await runGenerate(batch.items, { options }, credentials());

	expect(result.error).toBeUndefined();
	expect(failed).toEqual([]);
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send']);
	const [request] = await sims.gemini.control.requests();
	expect((request.body as { generationConfig?: IDataObject }).generationConfig).toMatchObject({ maxOutputTokens: 65_536 });
});

// Lease (Seconds) acts only with Record in Supabase on (it is how long the claimed contacts stay
// held): the editor shows it only there, and a standalone item neither reads nor checks it. Before,
// it was shown in standalone mode, where it did nothing, and a value out of range there (saved, or
// given by an expression) stopped a node that holds nothing.
describe('Lease (Seconds) only where it acts', () => {
	const nodeType = new GenerateFollowUp();
	const optionsProperty = nodeType.description.properties.find((property) => property.name === 'options')!;
	const lease = (optionsProperty.options as INodeProperties[]).find((option) => option.name === 'leaseSeconds')!;
	// As the editor decides it: on the node's parameters with their defaults filled in.
	const filled = (parameters: INodeParameters) => NodeHelpers.getNodeParameters(nodeType.description.properties, parameters, true, false, { typeVersion: 1 }, nodeType.description)!;
	const shownWith = (parameters: INodeParameters, option: INodeProperties = lease) =>
		NodeHelpers.displayParameterPath(filled(parameters), option, 'options', { typeVersion: 1 }, nodeType.description);

	test('the editor shows it with Record in Supabase on (the default), not with it off; the options beside it in both', () => {
		expect([shownWith({}), shownWith({ recordStages: true }), shownWith({ recordStages: false })]).toEqual([true, true, false]);
		const others = (optionsProperty.options as INodeProperties[]).filter((option) => option.name !== 'leaseSeconds');
		expect(others.filter((option) => !shownWith({ recordStages: false }, option) || !shownWith({}, option))).toEqual([]);
	});

	test('a standalone workflow saved with a Lease, in range or not, still runs: the value is neither read nor refused', async () => {
		const item = { sender_name: 'Ana', follow_up_number: 1, rule: { instructions: 'Be brief.' }, messages: [{ direction: 'inbound', text: 'Is Tuesday free?' }] };
		const gemini = { leadflowGeminiApi: { apiKeys: `options-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' } };

		for (const leaseSeconds of [300, 3, expression('three')]) {
			const { result, generated, failed } = await runGenerate([item], { recordStages: false, options: { leaseSeconds } }, gemini);
			expect({ leaseSeconds, error: result.error?.message, failed }).toEqual({ leaseSeconds, error: undefined, failed: [] });
			expect(generated).toEqual([expect.objectContaining({ followUp: expect.objectContaining({ message: expect.any(String) }) })]);
		}
		// Nothing is held, so no database call at all.
		expect(stageCalls()).toEqual([]);
	});
});
