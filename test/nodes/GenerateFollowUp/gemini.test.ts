// GenerateFollowUp against the Gemini simulator through n8n's engine, without a database (Record
// Stages off): what the prompt holds, key rotation, resting throttled keys, retries of 5xx and
// timeouts, no retries of 4xx, blocked prompts, replies that cannot be sent, and no key in outputs.
// The execution's cancel signal is tested on the generation function itself (n8n's engine gives a
// test no handle on it).
import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import type { IDataObject } from 'n8n-workflow';
import { plainReplyText, simulatedReply, startSimulators, type GeminiRequestBody, type LoggedRequest, type RunningSimulators } from '../../../simulators';
import { generateFollowUpText } from '../../../nodes/GenerateFollowUp/transport/generateText';
import { KeyRing } from '../../../nodes/shared/gemini/keyRing';
import { geminiCredentials, runGenerate } from './support/workflow';

const MODEL = 'gemini-3-flash';
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

/** Fresh keys per test: a key's rest outlives a run (as it does in n8n), so tests must not share keys. */
const freshKeys = (count: number) => Array.from({ length: count }, (_, index) => `test-key-${index + 1}-${randomUUID()}`);

const contact = (name: string, extra: IDataObject = {}): IDataObject => ({
	sender_name: name,
	follow_up_number: 1,
	messages: [
		{ direction: 'inbound', text: `Hi, ${name} here, how much is the premium plan?`, sent_at: '2026-11-20T10:00:00Z' },
		{ direction: 'outbound', text: 'It is 49 a month, with a free trial.', sent_at: '2026-11-20T10:05:00Z' },
	],
	rule: { instructions: 'Remind them of the free trial. Be friendly.', model: null, language: 'English' },
	...extra,
});

// Fast retries so the tests take milliseconds, not seconds.
const standalone = (options: IDataObject = {}): IDataObject => ({ recordStages: false, options: { retryDelayMs: 10, ...options } });

const generateCalls = async (): Promise<LoggedRequest[]> => (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));

describe('the prompt and the reply', () => {
	it('asks for each contact with the instructions, the name, the follow-up number and the last messages, and returns the reply', async () => {
		const contacts = [contact('Maria Santos'), contact('Tom', { follow_up_number: 3, rule: { instructions: 'Offer a call.', language: 'German' } })];
		const { result, generated, failed } = await runGenerate(contacts, standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));

		expect(result.error).toBeUndefined();
		expect(failed).toEqual([]);
		expect(generated).toHaveLength(2);
		const calls = await generateCalls();
		expect(calls).toHaveLength(2);
		for (const call of calls) expect(call.path).toBe(`/v1beta/models/${MODEL}:generateContent`);

		const bodyFor = (name: string) => calls.map((call) => call.body as GeminiRequestBody).find((body) => body.contents[0].parts[0].text?.includes(name));
		const maria = bodyFor('Maria Santos') as GeminiRequestBody;
		const system = maria.systemInstruction?.parts[0].text ?? '';
		expect(system).toContain('Remind them of the free trial. Be friendly.');
		expect(system).toContain('Write in English.');
		expect(system).toContain('2000 characters');
		const user = maria.contents[0].parts[0].text ?? '';
		expect(user).toMatch(/^Contact name: Maria Santos\n/);
		expect(user).toContain('This is the 1st follow-up.');
		expect(user).toContain('Contact (2026-11-20 10:00 UTC): Hi, Maria Santos here, how much is the premium plan?');
		expect(user).toContain('Business (2026-11-20 10:05 UTC): It is 49 a month, with a free trial.');
		expect(maria.generationConfig).toMatchObject({ temperature: 0.7 });

		const tom = bodyFor('Contact name: Tom') as GeminiRequestBody;
		expect(tom.systemInstruction?.parts[0].text).toContain('Offer a call.');
		expect(tom.systemInstruction?.parts[0].text).toContain('Write in German.');
		expect(tom.contents[0].parts[0].text).toContain('This is the 3rd follow-up (2 sent before without a reply).');

		// Outputs keep input order and fields; the reply is the simulator's deterministic answer to that very prompt.
		expect(generated.map((item) => item.sender_name)).toEqual(['Maria Santos', 'Tom']);
		const expected = simulatedReply(MODEL, maria);
		expect(generated[0].followUp).toMatchObject({
			message: plainReplyText(MODEL, maria),
			model: MODEL,
			attempts: 1,
			tokens: { prompt: expected.promptTokenCount, output: expected.candidatesTokenCount, total: expected.totalTokenCount },
		});
		expect(String((generated[0].followUp as IDataObject).message)).toMatch(/^Hi Maria! Just following up/);
		expect(String((generated[1].followUp as IDataObject).message)).toMatch(/^Hi Tom! /);
		expect(generated[0].messages).toEqual(contacts[0].messages);
	});

	it("uses the rule's model over the credential's, and the credential's when the rule names none", async () => {
		const contacts = [contact('Ana', { rule: { instructions: 'Be brief.', model: 'gemini-3-pro' } }), contact('Ben')];
		const { generated } = await runGenerate(contacts, standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1), 'gemini-3-flash'));
		expect(generated.map((item) => (item.followUp as IDataObject).model)).toEqual(['gemini-3-pro', 'gemini-3-flash']);
		expect((await generateCalls()).map((call) => call.model).sort()).toEqual(['gemini-3-flash', 'gemini-3-pro']);
	});

	it('reads default fields straight from the item exactly as n8n evaluates the same expressions written another way', async () => {
		const contacts = [
			contact('Maria', { follow_up_number: 2, rule: { instructions: 'Offer a call.', model: 'gemini-3-pro', language: 'Spanish' } }),
			{ sender_name: null, rule: { instructions: 'Be brief.', model: null } },
		];
		// The same fields, spelled so that they are not the defaults: n8n's expression engine evaluates these.
		const spelledOut: IDataObject = {
			instructions: '={{ $json["rule"]?.instructions ?? "" }}',
			contactName: '={{ $json["sender_name"] ?? "" }}',
			followUpNumber: '={{ $json["follow_up_number"] ?? 1 }}',
			messages: '={{ $json["messages"] ?? [] }}',
			model: '={{ $json["rule"]?.model ?? "" }}',
			language: '={{ $json["rule"]?.language ?? "" }}',
		};
		const bodies = async (parameters: IDataObject) => {
			await sims.gemini.control.clearRequests();
			const { generated } = await runGenerate(contacts, { ...standalone({ concurrency: 1 }), ...parameters }, geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
			expect(generated).toHaveLength(2);
			return (await generateCalls()).map((call) => [call.path, call.body]);
		};
		const direct = await bodies({});
		expect(direct.map(([path]) => path)).toEqual([`/v1beta/models/gemini-3-pro:generateContent`, `/v1beta/models/${MODEL}:generateContent`]);
		expect(await bodies(spelledOut)).toEqual(direct);
	});

	it('greets without a name when none is known', async () => {
		const { generated } = await runGenerate([contact('', { sender_name: null })], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(String((generated[0].followUp as IDataObject).message)).toMatch(/^Hi there! /);
	});
});

describe('key rotation', () => {
	it('spreads calls round-robin over the keys', async () => {
		const keys = freshKeys(3);
		const { generated } = await runGenerate(['A', 'B', 'C', 'D', 'E', 'F'].map((name) => contact(name)), standalone({ concurrency: 1 }), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(generated).toHaveLength(6);
		const used = (await generateCalls()).map((call) => keys.indexOf(call.key ?? ''));
		expect(used).toEqual([0, 1, 2, 0, 1, 2]);
	});

	it('one key throttled: it is called once, rested, and the other keys carry on', async () => {
		const keys = freshKeys(3);
		await sims.gemini.control.addFault({ match: { key: keys[0] }, effect: { kind: 'http', status: 429 } });
		const names = Array.from({ length: 12 }, (_, index) => `Lead${String.fromCharCode(65 + index)}`);
		const { generated, failed } = await runGenerate(names.map((name) => contact(name)), standalone({ concurrency: 3 }), geminiCredentials(sims.gemini.baseUrl, keys));

		expect(failed).toEqual([]);
		expect(generated).toHaveLength(12);
		const calls = await generateCalls();
		const byKey = keys.map((key) => calls.filter((call) => call.key === key));
		expect(byKey[0].map((call) => call.status)).toEqual([429]);
		expect(byKey[1].length + byKey[2].length).toBe(12);
		expect(byKey[1].length).toBeGreaterThanOrEqual(5);
		expect(byKey[2].length).toBeGreaterThanOrEqual(5);
		// No output or error carries a key.
		expect(JSON.stringify([generated, failed])).not.toMatch(/test-key-/);
	});

	it('every key throttled: items fail with quota at once, with a bounded number of calls, and the next run does not call at all', async () => {
		const keys = freshKeys(3);
		await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429 } });
		const contacts = Array.from({ length: 40 }, (_, index) => contact(`Lead${index}`));
		const concurrency = 5;
		const started = Date.now();
		const { generated, failed } = await runGenerate(contacts, standalone({ concurrency, maxRetries: 3 }), geminiCredentials(sims.gemini.baseUrl, keys));
		const elapsedMs = Date.now() - started;

		expect(generated).toEqual([]);
		expect(failed).toHaveLength(40);
		for (const item of failed) expect(item.error).toMatchObject({ code: 'quota', status: 429, retryAfterSeconds: 60 });
		const calls = await generateCalls();
		// Each key is tried at most once per call in flight before it rests: never n × (retries + 1) = 160.
		expect(calls.length).toBeGreaterThanOrEqual(keys.length);
		expect(calls.length).toBeLessThanOrEqual(keys.length * concurrency);
		expect(elapsedMs).toBeLessThan(5_000);

		await sims.gemini.control.clearRequests();
		const again = await runGenerate(contacts.slice(0, 5), standalone(), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(again.failed.map((item) => (item.error as IDataObject).code)).toEqual(Array(5).fill('quota'));
		expect(await generateCalls()).toEqual([]);
	});

	it("honours RetryInfo: a key throttled for a moment is waited for and used again", async () => {
		const keys = freshKeys(1);
		await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'http', status: 429, retryDelaySeconds: 1 } });
		const started = Date.now();
		const { generated } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(generated).toHaveLength(1);
		expect((generated[0].followUp as IDataObject).attempts).toBe(2);
		expect((await generateCalls()).map((call) => call.status)).toEqual([429, 200]);
		expect(Date.now() - started).toBeGreaterThanOrEqual(950);
	});

	it('a key Google refuses is left out and the others carry on; no key text reaches an output', async () => {
		const keys = freshKeys(2);
		await sims.gemini.control.configure({ apiKeys: [keys[1]] });
		const { generated, failed } = await runGenerate([contact('Ana'), contact('Ben'), contact('Cy')], standalone({ concurrency: 1 }), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(failed).toEqual([]);
		expect(generated).toHaveLength(3);
		expect((await generateCalls()).filter((call) => call.key === keys[0]).map((call) => call.status)).toEqual([400]);
	});

	it('every key suspended: key_refused, with the keys removed from the message Google sent', async () => {
		const keys = freshKeys(2);
		await sims.gemini.control.configure({ suspendedKeys: keys });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, keys));
		// Claimable again when the keys' 15-minute rest ends, so a fixed credential needs no manual reset.
		expect(failed[0].error).toMatchObject({ code: 'key_refused', status: 403, retryAfterSeconds: 900 });
		const message = String((failed[0].error as IDataObject).message);
		expect(message).toMatch(/api_key:\[key [12]\]/);
		expect(message).not.toContain('test-key-');
		expect(await generateCalls()).toHaveLength(2);
	});
});

describe('retries', () => {
	it('retries 5xx with backoff and succeeds', async () => {
		await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 2 }, effect: { kind: 'http', status: 503 } });
		const { generated } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(2)));
		expect(generated).toHaveLength(1);
		expect((generated[0].followUp as IDataObject).attempts).toBe(3);
		expect((await generateCalls()).map((call) => call.status)).toEqual([503, 503, 200]);
	});

	it('retries a timeout and succeeds', async () => {
		await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'timeout', holdMs: 10_000 } });
		const { generated } = await runGenerate([contact('Ana')], standalone({ timeoutMs: 300 }), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(generated).toHaveLength(1);
		expect((generated[0].followUp as IDataObject).attempts).toBe(2);
		const calls = await generateCalls();
		expect(calls.map((call) => call.outcome)).toEqual(['client-gave-up', 'answered']);
	});

	it('gives up after Max Retries on a service that keeps failing: unavailable, retryable later', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'http', status: 500 } });
		const { failed } = await runGenerate([contact('Ana')], standalone({ maxRetries: 2 }), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(failed[0].error).toMatchObject({ code: 'unavailable', status: 500, attempts: 3, retryAfterSeconds: 300 });
		expect(await generateCalls()).toHaveLength(3);
	});

	it('gives up after Max Retries on timeouts: timeout', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'timeout', holdMs: 10_000 } });
		const { failed } = await runGenerate([contact('Ana')], standalone({ maxRetries: 1, timeoutMs: 200 }), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(failed[0].error).toMatchObject({ code: 'timeout', attempts: 2 });
		expect(await generateCalls()).toHaveLength(2);
	});

	it('never retries a 400', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'http', status: 400 } });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(3)));
		expect(failed[0].error).toMatchObject({ code: 'rejected', status: 400, attempts: 1 });
		expect(await generateCalls()).toHaveLength(1);
	});

	it('never retries an unknown model (404)', async () => {
		await sims.gemini.control.configure({ models: ['gemini-3-pro'] });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(2)));
		expect(failed[0].error).toMatchObject({ code: 'rejected', status: 404 });
		expect(String((failed[0].error as IDataObject).message)).toContain('models/gemini-3-flash is not found');
		expect(await generateCalls()).toHaveLength(1);
	});
});

describe('replies that cannot be sent', () => {
	it('a blocked prompt fails with blocked, not retried', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'blocked', blockReason: 'SAFETY' } });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(failed[0].error).toMatchObject({ code: 'blocked' });
		expect(String((failed[0].error as IDataObject).message)).toContain('SAFETY');
		expect(await generateCalls()).toHaveLength(1);
	});

	it('a reply withheld for safety (finish reason SAFETY) fails with blocked', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'finishReason', finishReason: 'SAFETY' } });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(failed[0].error).toMatchObject({ code: 'blocked' });
	});

	it('an empty reply fails with empty_reply', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'finishReason', finishReason: 'STOP' } });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(failed[0].error).toMatchObject({ code: 'empty_reply' });
	});

	it('a reply cut by the output-token limit keeps its complete sentences; cut before one ended, it fails with truncated, not retried', async () => {
		const keys = freshKeys(1);
		// The simulator's reply is "Hi Ana! Just following up …", one token a word, cut at Max Output Tokens.
		const cut = await runGenerate([contact('Ana')], standalone({ maxOutputTokens: 3 }), geminiCredentials(sims.gemini.baseUrl, keys));
		expect((cut.generated[0].followUp as IDataObject).message).toBe('Hi Ana!');

		const unfinished = await runGenerate([contact('Ana')], standalone({ maxOutputTokens: 1 }), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(unfinished.generated).toEqual([]);
		const error = unfinished.failed[0].error as IDataObject;
		expect(error).toMatchObject({ code: 'truncated', attempts: 1 });
		expect(error.retryAfterSeconds).toBeUndefined();
		expect(String(error.message)).toMatch(/Max Output Tokens \(1 tokens\).*Raise Max Output Tokens/);
	});

	it('an empty reply cut by the output-token limit (a thinking model spent it) fails with truncated, not retried every 5 minutes', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'finishReason', finishReason: 'MAX_TOKENS' } });
		const { failed } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		const error = failed[0].error as IDataObject;
		expect(error).toMatchObject({ code: 'truncated', attempts: 1 });
		expect(error.retryAfterSeconds).toBeUndefined();
		expect(String(error.message)).toMatch(/before writing any reply.*Raise Max Output Tokens/);
		expect(await generateCalls()).toHaveLength(1);
	});

	it('a finished reply (STOP) without a sentence end is sent as it is', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'text', text: 'Hi Ana, still keen on the trial' } });
		const { generated } = await runGenerate([contact('Ana')], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect((generated[0].followUp as IDataObject).message).toBe('Hi Ana, still keen on the trial');
	});

	it('a reply over 2,000 characters is shortened, or fails with too_long when so set', async () => {
		// The simulator greets the name it is given: a 2,500-letter name makes a reply too long for Messenger.
		const longName = 'A'.repeat(2_500);
		const keys = freshKeys(1);
		const shortened = await runGenerate([contact(longName)], standalone(), geminiCredentials(sims.gemini.baseUrl, keys));
		const message = String((shortened.generated[0].followUp as IDataObject).message);
		expect(Array.from(message).length).toBeLessThanOrEqual(2_000);
		expect(message.startsWith('Hi AAAA')).toBe(true);
		expect(shortened.generated[0].followUp).toMatchObject({ shortened: true });

		const refused = await runGenerate([contact(longName)], standalone({ tooLongReply: 'fail' }), geminiCredentials(sims.gemini.baseUrl, keys));
		expect(refused.failed[0].error).toMatchObject({ code: 'too_long' });
	});
});

describe('inputs', () => {
	it('an item without instructions stops the run, or with Continue On Fail goes to Failed with invalid_input', async () => {
		const contacts = [contact('Ana'), contact('Ben', { rule: { instructions: '' } })];
		const stopped = await runGenerate(contacts, standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(stopped.result.status).toBe('error');
		expect(stopped.result.error?.message).toBe('Instructions are empty');

		const continued = await runGenerate(contacts, standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys(1)), { continueOnFail: true });
		expect(continued.generated.map((item) => item.sender_name)).toEqual(['Ana']);
		// The package's one continue-on-fail item: only `error` (the input stays reachable through pairedItem).
		expect(continued.failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'Instructions are empty' }) }]);
	});

	it('with Record Stages on, an item without a contact state says how to fix it', async () => {
		const { result } = await runGenerate([contact('Ana')], { options: {} }, geminiCredentials(sims.gemini.baseUrl, freshKeys(1)));
		expect(result.error?.message).toBe('The item has no contact state ID (state_id)');
		expect(result.error?.description).toContain('Record in Supabase');
	});
});

describe('concurrency', () => {
	it('keeps exactly Concurrency calls in flight', async () => {
		await sims.gemini.control.setLatency(150);
		const contacts = Array.from({ length: 12 }, (_, index) => contact(`Lead${index}`));
		const { generated } = await runGenerate(contacts, standalone({ concurrency: 4 }), geminiCredentials(sims.gemini.baseUrl, freshKeys(2)));
		expect(generated).toHaveLength(12);
		const spans = (await generateCalls()).map((call) => ({ start: Date.parse(call.receivedAt), end: Date.parse(call.receivedAt) + (call.durationMs ?? 0) }));
		const inFlightAt = (time: number) => spans.filter((span) => span.start <= time && time < span.end).length;
		expect(Math.max(...spans.map((span) => inFlightAt(span.start)))).toBe(4);
	});
});

describe("the execution's cancel signal", () => {
	const request = { model: MODEL, systemInstruction: 'Remind them of the free trial.', userText: 'Contact name: Ana\nWrite the follow-up message now.', timeoutMs: 30_000 };
	const policy = { maxRetries: 0, retryBaseMs: 10, keyRestMs: 60_000, maxQuotaWaitMs: 0, tooLong: 'shorten' as const };
	const generationContext = (cancelSignal: AbortSignal) => ({
		ring: new KeyRing(freshKeys(2)),
		baseUrl: sims.gemini.baseUrl,
		redact: (text: string) => text,
		policy,
		cancelSignal,
	});

	it('carries no listener once the calls are answered, however many there were', async () => {
		const cancel = new AbortController();
		const context = generationContext(cancel.signal);
		const generations = await Promise.all(Array.from({ length: 40 }, () => generateFollowUpText(request, context)));
		expect(generations.every((generation) => generation.ok)).toBe(true);
		expect(getEventListeners(cancel.signal, 'abort')).toHaveLength(0);
	});

	it('aborts a call in flight when the execution is cancelled: cancelled, not retried here, claimable again later', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'hold' } });
		const cancel = new AbortController();
		const pending = generateFollowUpText(request, generationContext(cancel.signal));
		await sims.gemini.control.waitForRequests(1);
		cancel.abort();
		await expect(pending).resolves.toMatchObject({ ok: false, code: 'cancelled', attempts: 1, retryAfterSeconds: 300 });
		// A call not started once the execution is cancelled is not made, and comes back later too.
		await expect(generateFollowUpText(request, generationContext(cancel.signal))).resolves.toMatchObject({ ok: false, code: 'cancelled', attempts: 0, retryAfterSeconds: 300 });
		expect(await generateCalls()).toHaveLength(1);
		expect(getEventListeners(cancel.signal, 'abort')).toHaveLength(0);
	});
});
