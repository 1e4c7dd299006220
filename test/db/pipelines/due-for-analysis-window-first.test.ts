// pipeline_due_for_analysis after Messenger Sync imported a Page's history (review M): the
// conversations whose last customer message is inside the 24 h window (judged at p_now) come before
// the closed-window backlog, oldest first within each, so a person who writes now is placed at the
// next Auto Assign run instead of waiting behind every months-old conversation the import made due.
// The fallback places and the contacts the model failed on stay last (migration …2140). Times are
// fixed instants around NOW; nothing depends on the date.
import type { DueConversation, MessengerMessageEvent } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { connectPage, recordEvents, syncRecords } from '../messenger/fixtures';
import { analysis, assign, createPipelineWorld, minutesAfter, NOW, rpc } from './fixtures';

const due = (userId: string, limit: number) =>
	rpc<DueConversation[]>('pipeline_due_for_analysis', { p_now: NOW, p_user_id: userId, p_limit: limit, p_max_messages: 1 });

const HOUR = 60;
const DAY = 24 * HOUR;
let psid = 9_300_000_000 + (Date.now() % 1_000_000) * 1000;

/** A person's message `minutes` after NOW (negative: before), as Messenger delivers or Sync reads it. */
function wrote(pageId: string, minutes: number, text = 'hello'): MessengerMessageEvent {
	const sender = String(++psid);
	return { type: 'message', page_id: pageId, psid: sender, mid: `m_due_${sender}`, text, timestamp: Date.parse(minutesAfter(minutes)) };
}

test('after a history import, those inside the 24 h window first (oldest first), then the backlog (oldest first), then the fallback places', async () => {
	const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
	await connectPage(world.pageId, world.userId);
	const client = serviceClient();

	// Messenger Sync imports the Page's history: 30 conversations 30 to 59 days old, never placed, and
	// one whose last message is exactly 24 h old (its window closed at NOW).
	const history = Array.from({ length: 30 }, (_, k) => wrote(world.pageId, -(30 + k) * DAY, 'old question'));
	const closedAtNow = wrote(world.pageId, -DAY);
	await syncRecords(client, world.pageId, [...history, closedAtNow], new Date(NOW));
	// Then people write, through the webhook: one 23 h ago, one 5 minutes ago; and one more an hour
	// ago, whom the model fails on (placed by the fallback score: it waits after the others).
	const [yesterday, justNow, failed] = await recordEvents(
		client,
		[wrote(world.pageId, -23 * HOUR, 'still interested?'), wrote(world.pageId, -5, 'I want to buy 3 today'), wrote(world.pageId, -HOUR, 'price?')],
		{ now: new Date(NOW) },
	);
	await assign([analysis(failed.conversation_id!, 15, { is_fallback: true, confidence: 0, model: null, lead_status: 'CONTACTED', reasoning: 'Keyword score: the model did not answer.', last_message_at: minutesAfter(-HOUR) })], minutesAfter(-HOUR + 1));

	const conversations = await withDb((db) => db.query<{ id: string; sender_id: string }>('select id, sender_id from public.messenger_conversations where page_id = $1', [world.pageId]));
	const idOf = (event: MessengerMessageEvent) => conversations.rows.find((row) => row.sender_id === event.psid)!.id;
	const [oldest, newestOld, closed] = [idOf(history[29]), idOf(history[0]), idOf(closedAtNow)];

	// One run of Max Conversations 2: the two inside the window, the one waiting longest first.
	expect((await due(world.userId, 2)).map((row) => row.conversation_id)).toEqual([yesterday.conversation_id, justNow.conversation_id]);
	// Everything: the window, then the backlog oldest first (the 24 h old one last of it), then the fallback place.
	const all = await due(world.userId, 1000);
	expect(all).toHaveLength(34);
	expect(all.slice(0, 2).map((row) => row.conversation_id)).toEqual([yesterday.conversation_id, justNow.conversation_id]);
	expect(all[2].conversation_id).toBe(oldest);
	expect(all[31].conversation_id).toBe(newestOld);
	expect(all[32].conversation_id).toBe(closed);
	expect(all.slice(2, 33).map((row) => Date.parse(row.last_customer_message_at))).toEqual([...history].reverse().concat(closedAtNow).map((event) => event.timestamp));
	expect([all[33].conversation_id, all[33].reason]).toEqual([failed.conversation_id, 'fallback_analysis']);
});
