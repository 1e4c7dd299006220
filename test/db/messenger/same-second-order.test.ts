// messenger_record_events and messenger_sync_record_page keep a call's messages of one instant in the
// order of the call: the Messenger Trigger's delivery order (Meta's, oldest first), and what Messenger
// Sync gives, each conversation oldest first (test/nodes/MessengerSync/same-second-order.test.ts).
// Every reader orders a conversation by (sent_at, id). Times are fixed instants around NOW.
import { serviceClient, withDb } from '../../helpers/stack';
import { NOW, createWorld } from '../follow-up/fixtures';
import { connectPage, echo, inbound, recordEvents, syncRecords } from './fixtures';

const service = serviceClient({ now: NOW });
let psidCounter = 7_400_000_000 + (Date.now() % 1_000_000) * 100;
const newPsid = () => String(++psidCounter);

async function texts(pageId: string, psid: string): Promise<string[]> {
	const { rows } = await withDb((db) =>
		db.query<{ text: string }>(
			`select m.text from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id
			  where c.page_id = $1 and c.sender_id = $2 order by m.sent_at, m.id`,
			[pageId, psid],
		),
	);
	return rows.map((row) => row.text);
}

test('messages of one second stay in the order of the call, for the webhook and for a sync', async () => {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	// A delivery of the question and the Page's instant reply (its echo) in the same second, then the
	// person's next message: Meta delivers them in that order.
	const delivered = newPsid();
	await recordEvents(service, [
		inbound(world.pageId, delivered, -1, '1. How much is it?'),
		echo(world.pageId, delivered, -1, null, '2. It is 20 EUR'),
		inbound(world.pageId, delivered, -1, '3. I take two'),
	]);
	expect(await texts(world.pageId, delivered)).toEqual(['1. How much is it?', '2. It is 20 EUR', '3. I take two']);

	// A sync's page with the same: given oldest first, stored so.
	const synced = newPsid();
	await syncRecords(service, world.pageId, [
		inbound(world.pageId, synced, -2, '1. How much is it?'),
		echo(world.pageId, synced, -2, null, '2. It is 20 EUR'),
		inbound(world.pageId, synced, -2, '3. I take two'),
	]);
	expect(await texts(world.pageId, synced)).toEqual(['1. How much is it?', '2. It is 20 EUR', '3. I take two']);
});
