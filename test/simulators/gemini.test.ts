// The Gemini simulator through the real `@google/genai` client (as the node will use it) and plain
// fetch for what the client cannot send (missing key, broken bodies).
import { ApiError, GoogleGenAI, Type } from '@google/genai';
import { plainReplyText, simulatedReply, startSimulators, type GeminiRequestBody, type RunningSimulators } from '../../simulators';

const MODEL = 'gemini-3-flash';
let sims: RunningSimulators;

const client = (apiKey = 'key-a', timeout?: number) =>
	new GoogleGenAI({ apiKey, httpOptions: { baseUrl: sims.gemini.baseUrl, ...(timeout !== undefined && { timeout }) } });

/** The error body Google sent, as the client carries it in ApiError.message. */
function googleErrorOf(error: unknown): { status: number; body: { error: { code: number; status: string; message: string; details?: unknown[] } } } {
	expect(error).toBeInstanceOf(ApiError);
	const apiError = error as ApiError;
	return { status: apiError.status, body: JSON.parse(apiError.message) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
	try {
		await promise;
	} catch (error) {
		return error;
	}
	throw new Error('expected the call to fail');
}

const postRaw = (path: string, body: string, headers: Record<string, string> = { 'x-goog-api-key': 'key-a' }) =>
	fetch(`${sims.gemini.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
});

describe('generateContent through @google/genai', () => {
	it('answers the deterministic reply with candidates, usage and model version', async () => {
		const response = await client().models.generateContent({
			model: MODEL,
			contents: 'Lead name: Maria Santos. Stage: interested. Write a follow-up.',
			config: { systemInstruction: 'You write short Messenger follow-ups.', temperature: 0.7 },
		});

		const expectedBody: GeminiRequestBody = {
			systemInstruction: { role: 'user', parts: [{ text: 'You write short Messenger follow-ups.' }] },
			contents: [{ role: 'user', parts: [{ text: 'Lead name: Maria Santos. Stage: interested. Write a follow-up.' }] }],
		};
		const expected = simulatedReply(MODEL, expectedBody);
		expect(response.text).toBe(expected.text);
		expect(response.text).toMatch(/^Hi Maria! .* \[sim:gemini-3-flash:[0-9a-f]{12}\]$/);
		expect(response.candidates?.[0].finishReason).toBe('STOP');
		expect(response.candidates?.[0].content?.role).toBe('model');
		expect(response.usageMetadata).toEqual({
			promptTokenCount: expected.promptTokenCount,
			candidatesTokenCount: expected.candidatesTokenCount,
			totalTokenCount: expected.promptTokenCount + expected.candidatesTokenCount,
		});
		expect(response.modelVersion).toBe(MODEL);
	});

	it('logs the key, the model and the body the client sent', async () => {
		await client('key-logged').models.generateContent({ model: MODEL, contents: 'hello', config: { maxOutputTokens: 64 } });
		const [logged] = await sims.gemini.control.requests();
		expect(logged).toMatchObject({
			service: 'gemini',
			method: 'POST',
			// @google/genai 3.x calls the v1 API unless told otherwise.
			path: `/v1/models/${MODEL}:generateContent`,
			key: 'key-logged',
			model: MODEL,
			status: 200,
			outcome: 'answered',
			body: { contents: [{ role: 'user', parts: [{ text: 'hello' }] }], generationConfig: { maxOutputTokens: 64 } },
		});
		expect(logged.headers['x-goog-api-key']).toBe('key-logged');
	});

	it('gives different digests to different conversations and the same to the same one', async () => {
		const ai = client();
		const first = await ai.models.generateContent({ model: MODEL, contents: 'name: Ana' });
		const again = await ai.models.generateContent({ model: MODEL, contents: 'name: Ana' });
		const multiTurn = await ai.models.generateContent({
			model: MODEL,
			contents: [
				{ role: 'user', parts: [{ text: 'name: Ana' }] },
				{ role: 'model', parts: [{ text: 'Hello Ana' }] },
				{ role: 'user', parts: [{ text: 'price?' }] },
			],
		});
		expect(again.text).toBe(first.text);
		expect(multiTurn.text).not.toBe(first.text);
		expect(multiTurn.text).toMatch(/^Hi Ana!/);
	});

	it('answers JSON shaped by the response schema in JSON mode', async () => {
		const response = await client().models.generateContent({
			model: MODEL,
			contents: 'first_name: "Luis"',
			config: {
				responseMimeType: 'application/json',
				responseSchema: {
					type: Type.OBJECT,
					properties: { message: { type: Type.STRING }, tone: { type: Type.STRING, enum: ['friendly', 'formal'] }, score: { type: Type.NUMBER } },
				},
			},
		});
		const parsed = JSON.parse(response.text ?? '') as { message: string; tone: string; score: number };
		expect(parsed.tone).toBe('friendly');
		expect(parsed.score).toBe(0);
		expect(parsed.message).toMatch(/^Hi Luis! .*\[sim:gemini-3-flash:[0-9a-f]{12}\]$/);
	});

	it('stops at maxOutputTokens with finishReason MAX_TOKENS', async () => {
		const response = await client().models.generateContent({ model: MODEL, contents: 'name: Bo', config: { maxOutputTokens: 3 } });
		expect(response.text).toBe('Hi Bo! Just');
		expect(response.candidates?.[0].finishReason).toBe('MAX_TOKENS');
		expect(response.usageMetadata?.candidatesTokenCount).toBe(3);
	});

	it('serves /v1beta as well as /v1, and a key in ?key=', async () => {
		const v1beta = new GoogleGenAI({ apiKey: 'key-a', apiVersion: 'v1beta', httpOptions: { baseUrl: sims.gemini.baseUrl } });
		expect((await v1beta.models.generateContent({ model: MODEL, contents: 'name: Zoe' })).text).toMatch(/^Hi Zoe!/);

		const response = await fetch(`${sims.gemini.baseUrl}/v1beta/models/${MODEL}:generateContent?key=query-key`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ contents: [{ parts: [{ text: 'name: Query' }] }] }),
		});
		expect(response.status).toBe(200);
		const requests = await sims.gemini.control.requests();
		expect(requests.map((request) => [request.path, request.key])).toEqual([
			[`/v1beta/models/${MODEL}:generateContent`, 'key-a'],
			[`/v1beta/models/${MODEL}:generateContent`, 'query-key'],
		]);
	});

	it('accepts snake_case fields, as proto JSON does', async () => {
		const body = {
			system_instruction: { parts: [{ text: 'be brief' }] },
			contents: [{ role: 'user', parts: [{ text: 'name: Kim' }] }],
			generation_config: { max_output_tokens: 2 },
		};
		const response = await postRaw(`/v1beta/models/${MODEL}:generateContent`, JSON.stringify(body));
		expect(response.status).toBe(200);
		const json = (await response.json()) as { candidates: Array<{ content: { parts: Array<{ text: string }> }; finishReason: string }> };
		expect(json.candidates[0].content.parts[0].text).toBe('Hi Kim!');
		expect(json.candidates[0].finishReason).toBe('MAX_TOKENS');
		const full = plainReplyText(MODEL, { systemInstruction: { parts: [{ text: 'be brief' }] }, contents: body.contents });
		expect(full.startsWith('Hi Kim!')).toBe(true);
	});
});

describe('keys and models', () => {
	it('refuses an unknown key the way Google does (400 API_KEY_INVALID) when a key list is set', async () => {
		await sims.gemini.control.configure({ apiKeys: ['good-key'] });
		expect((await client('good-key').models.generateContent({ model: MODEL, contents: 'hi' })).text).toBeDefined();
		const { status, body } = googleErrorOf(await rejection(client('bad-key').models.generateContent({ model: MODEL, contents: 'hi' })));
		expect(status).toBe(400);
		expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.' });
		expect(body.error.details).toEqual([expect.objectContaining({ reason: 'API_KEY_INVALID' })]);
	});

	it('answers 403 PERMISSION_DENIED for a suspended key and for no key at all', async () => {
		await sims.gemini.control.configure({ suspendedKeys: ['suspended-key'] });
		const suspended = googleErrorOf(await rejection(client('suspended-key').models.generateContent({ model: MODEL, contents: 'hi' })));
		expect(suspended.status).toBe(403);
		expect(suspended.body.error.status).toBe('PERMISSION_DENIED');

		const noKey = await postRaw(`/v1beta/models/${MODEL}:generateContent`, JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }), {});
		expect(noKey.status).toBe(403);
		expect(await noKey.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
	});

	it('answers 404 NOT_FOUND for a model outside the configured list', async () => {
		await sims.gemini.control.configure({ models: [MODEL] });
		const { status, body } = googleErrorOf(await rejection(client().models.generateContent({ model: 'gemini-1.0-pro', contents: 'hi' })));
		expect(status).toBe(404);
		expect(body.error.status).toBe('NOT_FOUND');
		expect(body.error.message).toContain('models/gemini-1.0-pro is not found for API version v1,');
	});
});

describe('model metadata (the credential test request)', () => {
	it('answers GET /v1beta/models/{model} for a good key, and the key and model errors otherwise', async () => {
		await sims.gemini.control.configure({ apiKeys: ['good-key'], models: [MODEL] });
		const get = (model: string, key: string) =>
			fetch(`${sims.gemini.baseUrl}/v1beta/models/${model}`, { headers: { 'x-goog-api-key': key } });
		const ok = await get(MODEL, 'good-key');
		expect(ok.status).toBe(200);
		expect(await ok.json()).toMatchObject({ name: `models/${MODEL}`, supportedGenerationMethods: expect.arrayContaining(['generateContent']) });
		expect((await get(MODEL, 'bad-key')).status).toBe(400);
		expect((await get('gemini-0-unknown', 'good-key')).status).toBe(404);
	});
});

describe('bad requests', () => {
	const path = `/v1beta/models/${MODEL}:generateContent`;

	it.each([
		['missing contents', JSON.stringify({ generationConfig: {} }), 'contents is not specified'],
		['empty contents', JSON.stringify({ contents: [] }), 'contents is not specified'],
		['empty parts', JSON.stringify({ contents: [{ role: 'user', parts: [] }] }), 'contents.parts must not be empty'],
		['a bad role', JSON.stringify({ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }), 'Please use a valid role: user, model.'],
		['an unknown field', JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }], prompt: 'x' }), 'Unknown name "prompt"'],
		['broken JSON', '{"contents": [', 'Invalid JSON payload received.'],
		['a temperature out of range', JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }], generationConfig: { temperature: 3 } }), 'temperature'],
	])('answers 400 INVALID_ARGUMENT for %s', async (_case, body, message) => {
		const response = await postRaw(path, body);
		expect(response.status).toBe(400);
		const json = (await response.json()) as { error: { code: number; status: string; message: string } };
		expect(json.error.code).toBe(400);
		expect(json.error.status).toBe('INVALID_ARGUMENT');
		expect(json.error.message).toContain(message);
	});

	it('answers 404 for other routes', async () => {
		const response = await fetch(`${sims.gemini.baseUrl}/v1beta/models/${MODEL}:countTokens`, { method: 'POST', headers: { 'x-goog-api-key': 'k' } });
		expect(response.status).toBe(404);
		expect(await response.json()).toMatchObject({ error: { status: 'NOT_FOUND' } });
	});
});

describe('faults, as the client sees them', () => {
	it.each([
		[429, 'RESOURCE_EXHAUSTED'],
		[500, 'INTERNAL'],
		[503, 'UNAVAILABLE'],
		[504, 'DEADLINE_EXCEEDED'],
	])('an http %i fault is an ApiError with that status and Google status %s', async (httpStatus, statusName) => {
		await sims.gemini.control.addFault({ effect: { kind: 'http', status: httpStatus } });
		const { status, body } = googleErrorOf(await rejection(client().models.generateContent({ model: MODEL, contents: 'hi' })));
		expect(status).toBe(httpStatus);
		expect(body.error).toMatchObject({ code: httpStatus, status: statusName });
		expect(body.error.message.length).toBeGreaterThan(0);
		const [logged] = await sims.gemini.control.requests();
		expect(logged).toMatchObject({ outcome: 'fault', status: httpStatus, faultId: expect.stringMatching(/^fault-/) });
	});

	it('a 429 carries RetryInfo when a retry delay is given', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 37 } });
		const { body } = googleErrorOf(await rejection(client().models.generateContent({ model: MODEL, contents: 'hi' })));
		expect(body.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' });
	});

	it('a count fault fails only the next N requests', async () => {
		await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 2 }, effect: { kind: 'http', status: 503 } });
		const ai = client();
		await expect(ai.models.generateContent({ model: MODEL, contents: 'a' })).rejects.toMatchObject({ status: 503 });
		await expect(ai.models.generateContent({ model: MODEL, contents: 'b' })).rejects.toMatchObject({ status: 503 });
		expect((await ai.models.generateContent({ model: MODEL, contents: 'name: C' })).text).toMatch(/^Hi C!/);
		const [rule] = await sims.gemini.control.faults();
		expect(rule).toMatchObject({ hits: 2, remaining: 0 });
	});

	it('a fault matched by key hits only that key, so rotation to another key succeeds', async () => {
		await sims.gemini.control.addFault({ match: { key: 'tired-key' }, effect: { kind: 'http', status: 429 } });
		await expect(client('tired-key').models.generateContent({ model: MODEL, contents: 'x' })).rejects.toMatchObject({ status: 429 });
		expect((await client('fresh-key').models.generateContent({ model: MODEL, contents: 'x' })).text).toBeDefined();
		const keys = (await sims.gemini.control.requests()).map((request) => [request.key, request.status]);
		expect(keys).toEqual([
			['tired-key', 429],
			['fresh-key', 200],
		]);
	});

	it('a fault matched by model hits only that model', async () => {
		await sims.gemini.control.addFault({ match: { model: 'gemini-3-pro' }, effect: { kind: 'http', status: 500 } });
		await expect(client().models.generateContent({ model: 'gemini-3-pro', contents: 'x' })).rejects.toMatchObject({ status: 500 });
		expect((await client().models.generateContent({ model: MODEL, contents: 'x' })).text).toBeDefined();
	});

	it('a blocked prompt is a 200 with promptFeedback.blockReason and no candidates', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'blocked' } });
		const response = await client().models.generateContent({ model: MODEL, contents: 'something unsafe' });
		expect(response.promptFeedback?.blockReason).toBe('SAFETY');
		expect(response.candidates).toBeUndefined();
		expect(response.text).toBeUndefined();
		expect(response.usageMetadata?.promptTokenCount).toBe(2);
	});

	it('a finishReason fault gives a candidate that stopped without text', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'finishReason', finishReason: 'SAFETY' } });
		const response = await client().models.generateContent({ model: MODEL, contents: 'x' });
		expect(response.candidates?.[0].finishReason).toBe('SAFETY');
		expect(response.text).toBeUndefined();
	});

	it('a timeout fault holds the request until the client gives up', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'timeout' } });
		const started = Date.now();
		await expect(client('key-a', 300).models.generateContent({ model: MODEL, contents: 'x' })).rejects.toThrow();
		expect(Date.now() - started).toBeGreaterThanOrEqual(250);
		const [logged] = await sims.gemini.control.waitForRequests((requests) => requests[0]?.outcome === 'client-gave-up');
		expect(logged.status).toBeUndefined();
		expect(logged.clientGaveUp).toBe(true);
	});

	it('a held request is answered normally once released', async () => {
		await sims.gemini.control.addFault({ effect: { kind: 'hold' } });
		const pending = client().models.generateContent({ model: MODEL, contents: 'name: Held' });
		await sims.gemini.control.waitForRequests((requests) => requests.length === 1 && requests[0].outcome === 'held');
		expect((await sims.gemini.control.health()).held).toBe(1);
		expect(await sims.gemini.control.release()).toBe(1);
		expect((await pending).text).toMatch(/^Hi Held!/);
		const [logged] = await sims.gemini.control.requests();
		expect(logged).toMatchObject({ outcome: 'released', status: 200 });
	});

	it('a rate fault fails the same requests on every run with the same seed', async () => {
		const run = async () => {
			await sims.gemini.control.reset();
			await sims.gemini.control.addFault({ trigger: { mode: 'rate', probability: 0.3, seed: 42 }, effect: { kind: 'http', status: 500 } });
			const outcomes: number[] = [];
			for (let index = 0; index < 40; index += 1) {
				const response = await postRaw(`/v1beta/models/${MODEL}:generateContent`, JSON.stringify({ contents: [{ parts: [{ text: `n${index}` }] }] }));
				outcomes.push(response.status);
			}
			return outcomes;
		};
		const first = await run();
		const second = await run();
		expect(second).toEqual(first);
		const failures = first.filter((status) => status === 500).length;
		expect(failures).toBeGreaterThan(3);
		expect(failures).toBeLessThan(25);
	});
});
