// The Gemini simulator's `text` fault: a 200 whose candidate holds exactly the given text, so a
// node's handling of replies that are not valid JSON, or break the response schema, can be driven.
import { GoogleGenAI, Type } from '@google/genai';
import { startSimulators, type RunningSimulators } from '../../simulators';

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

const ask = () =>
	new GoogleGenAI({ apiKey: 'key-a', httpOptions: { baseUrl: sims.gemini.baseUrl } }).models.generateContent({
		model: MODEL,
		contents: 'Score this lead.',
		config: { responseMimeType: 'application/json', responseSchema: { type: Type.OBJECT, properties: { score: { type: Type.INTEGER } } } },
	});

it('answers the fault text verbatim, once for a count trigger, then the schema-shaped JSON again', async () => {
	await sims.gemini.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'text', text: '{"score": oops' } });

	const faulty = await ask();
	expect(faulty.text).toBe('{"score": oops');
	expect(faulty.candidates?.[0].finishReason).toBe('STOP');

	const normal = await ask();
	expect(JSON.parse(normal.text ?? '')).toEqual({ score: 0 });
});

it('refuses a text fault without its text, naming the field', async () => {
	await expect(sims.gemini.control.addFault({ effect: { kind: 'text' } as never })).rejects.toThrow(/effect\.text/);
});
