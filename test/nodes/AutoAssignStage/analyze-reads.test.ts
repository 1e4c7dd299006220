// AutoAssignStage's Analyze, From the Input, for items without their own messages: the conversations'
// sender names and last messages are read from the local stack in one call for the batch
// (pipeline_conversation_messages), counted at a pass-through in front of it, not one or two per
// item; an unknown conversation among known ones fails alone, naming its Conversation ID (with
// Continue On Fail, a failed item; else the node stops), while the others are analysed.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import type { GeminiRequestBody, LoggedRequest, RunningSimulators } from '../../../simulators';
import { createPipelineWorld, minutesAfter, type PipelineWorld } from '../../db/pipelines/fixtures';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import { testStack, withDb } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { runStage } from './support/workflow';

let sims: RunningSimulators;
let counter: RpcCounter;
let world: PipelineWorld;

beforeAll(async () => {
	[sims, counter, world] = await Promise.all([startSimulatorsProcess(), startRpcCounter(testStack().supabaseUrl), createPipelineWorld()]);
});

afterAll(async () => {
	await Promise.all([sims.stop(), counter.stop()]);
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	counter.reset();
});

/** The node's Supabase credential points at the counter. */
const credentials = () => ({
	leadflowGeminiApi: { apiKeys: `test-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

const analyze = (options: IDataObject = {}): IDataObject => ({ operation: 'analyze', options: { retryDelayMs: 10, ...options } });

const VALID = JSON.stringify({ lead_status: 'qualified', lead_score: 72, confidence: 85, recommended_stage: 'Qualified', summary: 'Wants the premium plan.', reasoning: 'Asked the price.' });

/** A conversation with a sender name and messages written straight in Postgres. */
async function conversationWith(name: string, texts: string[]): Promise<string> {
	const [id] = await world.contacts(1);
	await withDb(async (db) => {
		await db.query('update public.messenger_conversations set sender_name = $2 where id = $1', [id, name]);
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, $2, case when n % 2 = 0 then 'inbound' else 'outbound' end, t.text, $4::timestamptz + (n - 1) * interval '1 minute'
			   from unnest($3::text[]) with ordinality t (text, n)`,
			[world.userId, id, texts, minutesAfter(-60)],
		);
	});
	return id;
}

/** The reads of conversations and messages the run made through the Data API. */
const conversationReads = () => counter.paths.filter((path) => /\/rest\/v1\/(messenger_conversations|messenger_messages|rpc\/pipeline_conversation_messages)$/.test(path));

/** Each generate call's prompt, by the contact it names. */
const promptsByContact = async (): Promise<Map<string, string>> =>
	new Map(
		(await sims.gemini.control.requests())
			.filter((request: LoggedRequest) => request.path.endsWith(':generateContent'))
			.map((call) => {
				const text = (call.body as GeminiRequestBody).contents[0].parts[0].text ?? '';
				return [/^Contact: (.*)$/m.exec(text)?.[1] ?? '', text];
			}),
	);

it('a batch without its own messages is read in one call: each conversation\'s sender name and last messages, oldest first', async () => {
	const names = ['Ana', 'Bruno', 'Carla', 'Dario', 'Elena', 'Fabio'];
	const ids = await Promise.all(names.map((name) => conversationWith(name, [`${name}: hello`, `${name}: it is 40 euros`, `${name}: I want to order`])));
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
	const { result, contacts } = await runStage(
		ids.map((id) => ({ conversation_id: id })),
		analyze({ maxMessages: 2 }),
		credentials(),
	);

	expect(result.error).toBeUndefined();
	expect(contacts.map((contact) => [contact.conversation_id, contact.analysed, contact.lead_score])).toEqual(ids.map((id) => [id, true, 72]));
	// The last message's time: the third, two minutes after the first.
	expect(contacts.every((contact) => Date.parse(contact.last_message_at as string) === Date.parse(minutesAfter(-58)))).toBe(true);
	expect(conversationReads()).toEqual(['/rest/v1/rpc/pipeline_conversation_messages']);
	const prompts = await promptsByContact();
	expect([...prompts.keys()].sort()).toEqual(names);
	for (const name of names) {
		const prompt = prompts.get(name)!;
		// The last two of three, oldest first.
		expect(prompt).not.toContain(`${name}: hello`);
		expect(prompt.indexOf(`${name}: it is 40 euros`)).toBeGreaterThan(-1);
		expect(prompt.indexOf(`${name}: I want to order`)).toBeGreaterThan(prompt.indexOf(`${name}: it is 40 euros`));
	}
});

it('an unknown conversation among known ones fails alone, naming its Conversation ID; items with their own messages are not read', async () => {
	const [first, second] = await Promise.all([conversationWith('Gina', ['Gina: how much?']), conversationWith('Hugo', ['Hugo: do you deliver?'])]);
	const unknown = randomUUID();
	const own = { conversation_id: randomUUID(), sender_name: 'Own', messages: [{ direction: 'inbound', text: 'Own: price please', sent_at: '2026-11-20T10:00:00Z' }] };
	const entries = [{ conversation_id: first }, { conversation_id: unknown }, own, { conversation_id: second }];
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });

	const { result, contacts } = await runStage(entries, analyze(), credentials(), { continueOnFail: true });
	expect(result.error).toBeUndefined();
	expect(contacts).toHaveLength(4);
	expect(contacts.find((contact) => contact.error)).toEqual({
		error: { code: 'not_found', message: `Conversation ID "${unknown}" does not exist`, description: expect.stringContaining('messenger_conversations') },
	});
	expect(contacts.filter((contact) => !contact.error).map((contact) => contact.conversation_id)).toEqual([first, own.conversation_id, second]);
	expect([...(await promptsByContact()).keys()].sort()).toEqual(['Gina', 'Hugo', 'Own']);
	expect(conversationReads()).toEqual(['/rest/v1/rpc/pipeline_conversation_messages']);

	// Without Continue On Fail the node stops, naming it.
	counter.reset();
	const stopped = await runStage(entries, analyze(), credentials());
	expect(stopped.result.error?.message).toBe(`Conversation ID "${unknown}" does not exist`);
});

it('a failed read fails every item it was for (Continue On Fail); items with their own messages are still analysed', async () => {
	const [known] = await world.contacts(1);
	const own = { conversation_id: randomUUID(), sender_name: 'Own', messages: [{ direction: 'inbound', text: 'Own: price please', sent_at: '2026-11-20T10:00:00Z' }] };
	counter.failNext('/rpc/pipeline_conversation_messages', 1);
	const { result, contacts } = await runStage([{ conversation_id: known }, own], analyze(), credentials(), { continueOnFail: true });

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([
		{ error: expect.objectContaining({ code: 'service_error', message: expect.stringMatching(/^pipeline_conversation_messages failed/) }) },
		expect.objectContaining({ conversation_id: own.conversation_id, analysed: true }),
	]);
	expect([...(await promptsByContact()).keys()]).toEqual(['Own']);
});

it('over 1,000 conversations: one read per 1,000 (the Data API\'s max-rows), every item analysed', async () => {
	const ids = await world.contacts(1001);
	const { result, contacts } = await runStage(
		ids.map((id) => ({ conversation_id: id })),
		analyze({ concurrency: 50 }),
		credentials(),
	);

	expect(result.error).toBeUndefined();
	expect(contacts.map((contact) => contact.conversation_id)).toEqual(ids);
	expect(contacts.every((contact) => contact.analysed === true)).toBe(true);
	expect(conversationReads()).toEqual(['/rest/v1/rpc/pipeline_conversation_messages', '/rest/v1/rpc/pipeline_conversation_messages']);
});
