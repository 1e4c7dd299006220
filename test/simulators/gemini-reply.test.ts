// The deterministic reply tests predict: its documented format, name detection, what the digest
// depends on (texts and roles) and what it ignores (JSON layout), JSON mode and truncation.
import { createHash } from 'node:crypto';
import { greetedName, plainReplyText, promptDigest, promptTranscript, simulatedReply, type GeminiRequestBody } from '../../simulators';

const user = (text: string): GeminiRequestBody => ({ contents: [{ role: 'user', parts: [{ text }] }] });

describe('plainReplyText', () => {
	it('follows the documented format exactly', () => {
		const body: GeminiRequestBody = {
			systemInstruction: { parts: [{ text: 'Be kind.' }] },
			contents: [{ parts: [{ text: 'Lead name: Maria' }] }, { role: 'model', parts: [{ text: 'Hello' }, { text: ' again' }] }],
		};
		const transcript = 'system: Be kind.\nuser: Lead name: Maria\nmodel: Hello again';
		expect(promptTranscript(body)).toBe(transcript);
		const digest = createHash('sha256').update(transcript).digest('hex').slice(0, 12);
		expect(promptDigest(body)).toBe(digest);
		expect(plainReplyText('models/gemini-3-flash', body)).toBe(`Hi Maria! Just following up on our conversation. [sim:gemini-3-flash:${digest}]`);
	});

	it('depends on the texts and roles, not on how the JSON was laid out', () => {
		const a = user('hello');
		const b = JSON.parse('{ "contents" : [ { "parts": [ {"text":"hello"} ], "role":"user" } ] }') as GeminiRequestBody;
		expect(promptDigest(b)).toBe(promptDigest(a));
		expect(promptDigest(user('hello!'))).not.toBe(promptDigest(a));
		expect(promptDigest({ contents: [{ role: 'model', parts: [{ text: 'hello' }] }] })).not.toBe(promptDigest(a));
		expect(promptDigest({ ...a, systemInstruction: { parts: [{ text: 'x' }] } })).not.toBe(promptDigest(a));
	});
});

describe('greetedName', () => {
	it.each([
		['Lead name: Maria Santos', 'Maria'],
		['name=Juan', 'Juan'],
		['My name is Léa', 'Léa'],
		['{"first_name": "Ana", "stage": "new"}', 'Ana'],
		['FIRST NAME: O\'Brien', "O'Brien"],
		['username: bob', 'there'],
		['no names here', 'there'],
	])('finds the name in %p → %p', (text, name) => {
		expect(greetedName(user(text))).toBe(name);
	});

	it('prefers the conversation over the system instruction', () => {
		expect(greetedName({ systemInstruction: { parts: [{ text: 'Your name is Ava.' }] }, contents: [{ parts: [{ text: 'name: Tom' }] }] })).toBe('Tom');
		expect(greetedName({ systemInstruction: { parts: [{ text: 'Customer name: Ava.' }] }, contents: [{ parts: [{ text: 'hi' }] }] })).toBe('Ava');
	});
});

describe('simulatedReply', () => {
	it('counts words as tokens', () => {
		const reply = simulatedReply('m', { systemInstruction: { parts: [{ text: 'one two' }] }, contents: [{ parts: [{ text: 'three  four\nfive' }] }] });
		expect(reply.promptTokenCount).toBe(5);
		expect(reply.candidatesTokenCount).toBe(reply.text.split(' ').length);
		expect(reply.totalTokenCount).toBe(reply.promptTokenCount + reply.candidatesTokenCount);
		expect(reply.finishReason).toBe('STOP');
	});

	it('truncates to maxOutputTokens words with MAX_TOKENS', () => {
		const reply = simulatedReply('m', { ...user('name: Al'), generationConfig: { maxOutputTokens: 4 } });
		expect(reply).toMatchObject({ text: 'Hi Al! Just following', finishReason: 'MAX_TOKENS', candidatesTokenCount: 4 });
	});

	it('answers JSON shaped by a JSON schema, or {text} without one', () => {
		const body = user('name: Jo');
		const plain = plainReplyText('m', body);
		const withSchema = simulatedReply('m', {
			...body,
			generationConfig: {
				responseMimeType: 'application/json',
				responseJsonSchema: {
					type: 'object',
					properties: { reply: { type: ['string', 'null'] }, send: { type: 'boolean' }, tags: { type: 'array', items: { type: 'string' } }, n: { type: 'integer' } },
				},
			},
		});
		expect(JSON.parse(withSchema.text)).toEqual({ reply: plain, send: false, tags: [plain], n: 0 });
		const withoutSchema = simulatedReply('m', { ...body, generationConfig: { responseMimeType: 'application/json' } });
		expect(JSON.parse(withoutSchema.text)).toEqual({ text: plain });
	});
});
