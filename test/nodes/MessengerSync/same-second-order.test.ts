// Leadflow Messenger Sync: messages Graph gives within the same second are stored in the order they
// were written (review M). Graph lists a conversation's messages newest first and its times are whole
// seconds; the database numbers a call's messages of one instant by their place in the call, so the
// node gives each conversation's messages oldest first: the Page's instant reply reads after the
// question it answers everywhere (the stored (sent_at, id) order, pipeline_conversation_messages,
// Analyze's and Generate Follow-Up's context), also when they come on different pages of the
// conversation's messages edge.
import type { INode, INodeParameters } from 'n8n-workflow';
import { startSimulators, type ConversationInput, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { createWorld } from '../../db/follow-up/fixtures';
import { connectPage } from '../../db/messenger/fixtures';

const TOKEN = 'same-second-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
	await sims.graph.control.setConversationRate(0);
});
afterAll(async () => {
	await sims.stop();
});

function workflow(parameters: INodeParameters): WorkflowJson {
	const start: INode = { id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
	const sync: INode = {
		id: 'sync',
		name: 'Messenger Sync',
		type: 'n8n-nodes-leadflow.messengerSync',
		typeVersion: 1,
		position: [240, 0],
		parameters,
		credentials: { leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' }, leadflowSupabaseApi: { id: 'sb', name: 'Supabase' } },
	};
	return { name: 'Messenger Sync order test', nodes: [start, sync], connections: { Start: { main: [[{ node: 'Messenger Sync', type: 'main', index: 0 }]] } } };
}

let psid = 8_900_000_000 + (Date.now() % 1_000_000) * 100;

/** A conversation whose messages are given as Graph lists them: newest first, same-second ones newest first too. */
function conversation(texts: Array<{ text: string; from: 'person' | 'page'; second: number }>, base: number): ConversationInput {
	const id = String(++psid);
	const listed = texts.map((message, k) => ({ id: `m_order_${id}_${k}`, text: message.text, from: message.from, createdTime: base + message.second * 1000 })).reverse();
	return { psid: id, name: 'Ana', updatedTime: listed[0].createdTime, messages: listed };
}

async function stored(pageId: string, sender: string) {
	const { rows } = await withDb((db) =>
		db.query<{ id: string; text: string }>(
			`select c.id, m.text from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id
			  where c.page_id = $1 and c.sender_id = $2 order by m.sent_at, m.id`,
			[pageId, sender],
		),
	);
	return { conversationId: rows[0]?.id, texts: rows.map((row) => row.text) };
}

test('a full sync stores each conversation\'s same-second messages oldest first, across the pages of its messages edge too, and Analyze reads them so', async () => {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	// Graph's times are whole seconds.
	const base = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
	// The reviewer's case: the Page's instant reply in the question's second.
	const short = conversation(
		[
			{ text: '1. person: How much is it?', from: 'person', second: 0 },
			{ text: '2. page (instant reply): It is 20 EUR', from: 'page', second: 0 },
			{ text: '3. person: OK, I take two', from: 'person', second: 60 },
		],
		base,
	);
	// Two messages a page (Messages per Conversation 2): [6, 5] with the list, then [4, 3], [2, 1] from
	// its own edge; 5 and 4, 3 and 2 share a second across those pages, 2 and 1 within one.
	const long = conversation(
		[
			{ text: '1. person: hello', from: 'person', second: 100 },
			{ text: '2. page: hi, how can I help?', from: 'page', second: 100 },
			{ text: '3. person: do you ship to Porto?', from: 'person', second: 160 },
			{ text: '4. page: yes, in two days', from: 'page', second: 160 },
			{ text: '5. person: and to Faro?', from: 'person', second: 220 },
			{ text: '6. page: Faro too', from: 'page', second: 220 },
		],
		base,
	);
	await sims.graph.control.addConversations(world.pageId, [short, long]);
	const stack = testStack();
	const result = await runWorkflow(workflow({ mode: 'full', options: { requestsPerSecond: 50, messagesPerConversation: 2, pageSize: 1 } }), {
		credentials: {
			leadflowFacebookPageApi: { pageId: world.pageId, accessToken: TOKEN, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		},
	});
	expect(result.error).toBeUndefined();
	expect(result.nodeOutputs['Messenger Sync']?.[0]).toMatchObject({ status: 'completed', conversations: 2, messages: 9, errors: 0 });
	// The long conversation was read from its own edge: two more pages of its messages.
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages')).length).toBeGreaterThanOrEqual(2);

	const first = await stored(world.pageId, short.psid);
	expect(first.texts).toEqual(['1. person: How much is it?', '2. page (instant reply): It is 20 EUR', '3. person: OK, I take two']);
	const second = await stored(world.pageId, long.psid);
	expect(second.texts).toEqual(long.messages.map((message) => message.text).reverse());

	// What Analyze gives the model (and the follow-up claim's context reads the same order).
	const { data, error } = await serviceClient().rpc('pipeline_conversation_messages', { p_conversation_ids: [first.conversationId, second.conversationId] });
	expect(error).toBeNull();
	const read = data as Array<{ conversation_id: string; messages: Array<{ direction: string; text: string }> }>;
	expect(read.map((row) => row.messages.map((message) => `${message.direction}: ${message.text}`))).toEqual([
		['inbound: 1. person: How much is it?', 'outbound: 2. page (instant reply): It is 20 EUR', 'inbound: 3. person: OK, I take two'],
		long.messages.map((message) => `${message.text.includes('page:') ? 'outbound' : 'inbound'}: ${message.text}`).reverse(),
	]);
});
