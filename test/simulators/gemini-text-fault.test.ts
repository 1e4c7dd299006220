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

const ask = (contents = 'Score this lead.') =>
	new GoogleGenAI({ apiKey: 'key-a', httpOptions: { baseUrl: sims.gemini.baseUrl } }).models.generateContent({
		model: MODEL,
		contents,
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

it('a fault matched by prompt answers only the conversations whose prompt holds that text', async () => {
	await sims.gemini.control.addFault({ match: { prompt: 'pay by card today' }, effect: { kind: 'text', text: '{"score": 90}' } });
	await sims.gemini.control.addFault({ match: { prompt: 'just browsing' }, effect: { kind: 'text', text: '{"score": 10}' } });

	expect((await ask('customer: Can I pay by card today?')).text).toBe('{"score": 90}');
	expect((await ask('customer: I am just browsing, thanks')).text).toBe('{"score": 10}');
	expect(JSON.parse((await ask('customer: Where are you based?')).text ?? '')).toEqual({ score: 0 });
	expect((await sims.gemini.control.faults()).map((rule) => rule.hits)).toEqual([1, 1]);
});

it('refuses a text fault without its text, naming the field', async () => {
	await expect(sims.gemini.control.addFault({ effect: { kind: 'text' } as never })).rejects.toThrow(/effect\.text/);
});
