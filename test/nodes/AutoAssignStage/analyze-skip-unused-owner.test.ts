// Analyze From the Input with an Owner User ID and Skip Analyses Assign Would Not Use: a conversation
// left out as unused has only its owner checked (pipeline_conversation_messages with one message),
// never its messages read (docs/README.md, "without a Gemini call or a read of its messages"); one
// that is analysed is still read with its full Max Messages for Gemini. Before this, the owner check
// (keepOwned) read every item without messages of its own with Max Messages, before the skip, so a
// skipped conversation's whole history was read and thrown away (review RMF2 1). Counted at a
// pass-through in front of the stack's Supabase.
import { randomUUID } from 'node:crypto';
import type { GeminiRequestBody, LoggedRequest, RunningSimulators } from '../../../simulators';
import { assign, analysis, createPipelineWorld, minutesAfter, type PipelineWorld } from '../../db/pipelines/fixtures';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import { testStack, withDb } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { runStage } from './support/workflow';

let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	[sims, counter] = await Promise.all([startSimulatorsProcess(), startRpcCounter(testStack().supabaseUrl)]);
});

afterAll(async () => {
	await Promise.all([sims.stop(), counter.stop()]);
});

const VALID = JSON.stringify({ lead_status: 'qualified', lead_score: 72, confidence: 85, recommended_stage: 'Qualified', summary: 'Wants the premium plan.', reasoning: 'Asked the price.' });

const credentials = () => ({
	leadflowGeminiApi: { apiKeys: `test-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
});

/** Five customer messages of the conversation, written straight in Postgres, oldest first. */
async function messagesOf(world: PipelineWorld, id: string, name: string): Promise<string[]> {
	const texts = [1, 2, 3, 4, 5].map((n) => `${name} message ${n}`);
	await withDb(async (db) => {
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, $2, 'inbound', t.text, $4::timestamptz + (n - 1) * interval '1 minute'
			   from unnest($3::text[]) with ordinality t (text, n)`,
			[world.userId, id, texts, minutesAfter(-60)],
		);
	});
	return texts;
}

/** Each pipeline_conversation_messages call the run made: its conversations and its p_max_messages. */
const messageReads = () =>
	counter.requests
		.filter((request) => request.path.endsWith('/rpc/pipeline_conversation_messages'))
		.map((request) => JSON.parse(request.body) as { p_conversation_ids: string[]; p_max_messages: number });

test('with an owner and Skip Analyses Assign Would Not Use, a skipped conversation has only its owner checked (one message); an analysed one is read in full for Gemini', async () => {
	const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
	const offPage = await createPipelineWorld();
	await offPage.settings({ enabled: false });
	const [placed, fresh] = await world.contacts(2);
	await assign([analysis(placed, 40)]);
	await messagesOf(world, placed, 'Placed');
	const freshTexts = await messagesOf(world, fresh, 'Fresh');
	// A Page with auto-assignment off, of another owner: its own Owner User ID, by expression per item.
	const [off] = await offPage.contacts(1);
	await messagesOf(offPage, off, 'Off');
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: VALID } });
	counter.reset();

	const run = await runStage(
		[
			{ conversation_id: placed, owner: world.userId },
			{ conversation_id: fresh, owner: world.userId },
			{ conversation_id: off, owner: offPage.userId },
		],
		{ operation: 'analyze', skipUnused: true, ownerUserId: '={{ $json.owner }}', options: { retryDelayMs: 10, maxMessages: 200 } },
		credentials(),
	);

	expect(run.result.error).toBeUndefined();
	const byId = new Map(run.contacts.map((contact) => [contact.conversation_id, contact]));
	expect(byId.get(placed)).toEqual({ conversation_id: placed, analysed: false, outcome: 'kept', reason: 'skip_existing' });
	expect(byId.get(off)).toEqual({ conversation_id: off, analysed: false, outcome: 'skipped', reason: 'auto_assign_off' });
	expect(byId.get(fresh)).toEqual(expect.objectContaining({ conversation_id: fresh, analysed: true, lead_score: 72 }));
	// The skipped conversations: never read with more than the one message of the owner check.
	const reads = messageReads();
	const readFor = (id: string) => reads.filter((read) => read.p_conversation_ids.includes(id)).map((read) => read.p_max_messages);
	expect({ placed: readFor(placed), off: readFor(off) }).toEqual({ placed: [1], off: [1] });
	// The analysed one: read in full (Max Messages) for Gemini, which got all its messages.
	expect(readFor(fresh)).toContain(200);
	const sent = (await sims.gemini.control.requests())
		.filter((request: LoggedRequest) => request.path.endsWith(':generateContent'))
		.map((call) => (call.body as GeminiRequestBody).contents[0].parts[0].text ?? '');
	expect(sent).toHaveLength(1);
	for (const text of freshTexts) expect(sent[0]).toContain(text);
	expect(sent[0]).not.toContain('Placed message');
});
