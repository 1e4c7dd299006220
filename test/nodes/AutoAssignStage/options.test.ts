// Auto Assign Stage's Analyze: its Options given by an expression are checked against the ranges the
// editor shows (through nodes/shared/checked-options.ts): a value out of range stops the node naming
// the option as the editor shows it, the value and the range, before any conversation is read or
// Gemini is called (with Continue On Fail every item fails with it, invalid_input, so a webhook
// answers 400); Max Conversations (Due for Analysis) likewise. A value at either edge of a range is
// accepted. Against the local stack and the Gemini simulator.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { geminiCredentials, runStage } from './support/workflow';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
});

const credentials = () => geminiCredentials(sims.gemini.baseUrl, [`options-key-${randomUUID()}`]);

/** A value as an expression gives it (the editor's bounds do not hold for it). */
const expression = (value: unknown) => `={{ ${JSON.stringify(value)} }}`;

const VALID = JSON.stringify({ lead_status: 'QUALIFIED', lead_score: 72, confidence: 85, recommended_stage: null, summary: 'Wants the plan.', reasoning: 'Asked the price.' });

const conversation = (): IDataObject => ({
	conversation_id: randomUUID(),
	sender_name: 'Maria',
	messages: [{ direction: 'inbound', text: 'How much is the premium plan?', sent_at: '2026-11-20T10:00:00Z' }],
});

const generateCalls = async () => (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));

test.each([
	['Concurrency', 'concurrency', 'three', 'a whole number from 1 to 50', '"three"'],
	['Concurrency', 'concurrency', 51, 'a whole number from 1 to 50', '51'],
	['Key Rest (Seconds)', 'keyRestSeconds', 0, 'a whole number from 1 to 172800', '0'],
	['Max Messages', 'maxMessages', 0, 'a whole number from 1 to 200', '0'],
	['Max Quota Wait (Ms)', 'maxQuotaWaitMs', -5, 'a whole number from 0 to 3600000', '-5'],
	['Max Retries', 'maxRetries', 2.5, 'a whole number from 0 to 10', '2.5'],
	['Retry Delay (Ms)', 'retryDelayMs', 'soon', 'a whole number from 0 to 30000', '"soon"'],
	['Temperature', 'temperature', 3, 'a number from 0 to 2', '3'],
	['Timeout (Ms)', 'timeoutMs', 999, 'a whole number from 1000 to 3600000', '999'],
])('Analyze: %s (%s) = %j from an expression stops the node naming it, before any read or Gemini call', async (label, name, value, range, shown) => {
	const { result, contacts } = await runStage([conversation(), conversation()], { operation: 'analyze', options: { [name]: expression(value) } }, credentials());

	expect(result.error?.message).toBe(`${label} must be ${range} (got ${shown})`);
	expect(result.error?.description).toContain(`Set ${label} in the node's Options to ${range}`);
	expect(contacts).toEqual([]);
	expect(await generateCalls()).toEqual([]);
});

test('Analyze with Continue On Fail: an option out of range fails every item with it, invalid_input, nothing analysed', async () => {
	const { result, contacts } = await runStage([conversation(), conversation()], { operation: 'analyze', options: { temperature: expression('warm') } }, credentials(), { continueOnFail: true });

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([
		{ error: expect.objectContaining({ code: 'invalid_input', message: 'Temperature must be a number from 0 to 2 (got "warm")' }) },
		{ error: expect.objectContaining({ code: 'invalid_input', message: 'Temperature must be a number from 0 to 2 (got "warm")' }) },
	]);
	expect(await generateCalls()).toEqual([]);
});

test.each([
	['the upper edges', { concurrency: 50, keyRestSeconds: 172_800, maxMessages: 200, maxQuotaWaitMs: 3_600_000, maxRetries: 10, retryDelayMs: 30_000, temperature: 2, timeoutMs: 3_600_000 }],
	['the lower edges (as text, as an expression may give them)', { concurrency: '1', keyRestSeconds: '1', maxMessages: '1', maxQuotaWaitMs: '0', maxRetries: '0', retryDelayMs: '0', temperature: '0', timeoutMs: '20000' }],
])('Analyze: every option at %s, from expressions, is accepted and sent to Gemini as a number', async (_edges, values) => {
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
	const options = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, expression(value)]));

	const { result, contacts } = await runStage([conversation()], { operation: 'analyze', options }, credentials());

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([expect.objectContaining({ analysed: true, lead_score: 72, fallback: false })]);
	const [call] = await generateCalls();
	expect((call.body as { generationConfig?: IDataObject }).generationConfig?.temperature).toBe(Number(values.temperature));
});

test('Analyze, Due for Analysis: Max Conversations from an expression out of 1 to 1000 is refused naming it, before the read; 1000 is accepted', async () => {
	const owner = randomUUID();
	for (const [value, shown] of [[0, '0'], [1001, '1001'], ['all', '"all"']] as const) {
		const { result } = await runStage([{}], { operation: 'analyze', source: 'due', ownerUserId: owner, maxConversations: expression(value) }, credentials());
		expect([value, result.error?.message]).toEqual([value, `Max Conversations must be a whole number from 1 to 1000 (got ${shown})`]);
	}
	const { result, contacts } = await runStage([{}], { operation: 'analyze', source: 'due', ownerUserId: owner, maxConversations: expression(1000) }, credentials());
	expect(result.error).toBeUndefined();
	// An owner with no Page: nothing due.
	expect(contacts).toEqual([]);
});

// The run's Owner User ID refused (not a UUID, not text) names its parameter on the failed item
// (field: ownerUserId), which auto-assign.json reads to answer its caller's X-Leadflow-Owner 400:
// by the field, not the message's words (before, the failed item carried no field and the workflow
// matched "… is not a UUID" / "Owner user ID must be text …").
test.each([
	['analyze (Due for Analysis)', { operation: 'analyze', source: 'due' }, 'abc', 'The owner user ID "abc" is not a UUID'],
	['analyze (Due for Analysis)', { operation: 'analyze', source: 'due' }, expression(42), 'Owner user ID must be text (got 42)'],
	['claimAutomations', { operation: 'claimAutomations', limit: 10 }, 'abc', 'The owner user ID "abc" is not a UUID'],
])('%s: an Owner User ID %j refused fails the item invalid_input naming its field, ownerUserId; nothing analysed', async (_operation, parameters, owner, message) => {
	const { result, contacts, automations } = await runStage([{}], { ...parameters, ownerUserId: owner }, credentials(), { continueOnFail: true });

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([{ error: { code: 'invalid_input', message, description: expect.stringMatching(/leave it empty for every owner/), field: 'ownerUserId' } }]);
	expect(automations).toEqual([]);
	expect(await generateCalls()).toEqual([]);
});
