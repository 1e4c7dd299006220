// A Messenger message id is unique per owner, not across owners (migration …1610): a signed-in user
// who writes a message row carrying another owner's message id (their own rows, through the Data
// API, as row level security allows) takes nothing from that owner. The owner's webhook delivery,
// Messenger Sync, the follow-up's sent record and the app's own echo each still record and settle
// the owner's message; a redelivery to the owner is still a duplicate.
import { randomUUID } from 'node:crypto';
import type { RecordSendResult } from '../../../nodes/shared/contract';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from '../follow-up/fixtures';
import { beginSend, claim, generate, recordSend } from '../follow-up/stage-helpers';
import { APP_ID, INBOX_APP_ID, connectPage, echo, inbound, mid, ms, recordEvents, senderOf, syncRecords } from './fixtures';

const service = serviceClient({ now: NOW });
const plus = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
let psidCounter = 6_000_000_000 + (Date.now() % 1_000_000) * 100;
const newPsid = () => String(++psidCounter);

/**
 * Owner B, signed in (role authenticated, through PostgREST), writes a message with `messageId`
 * into a conversation of B's own: the row level security policies let B do so.
 */
async function anotherOwnerTakes(messageId: string): Promise<{ userId: string; conversationId: string }> {
	const other = await createWorld();
	const conversationId = await other.contact();
	const { error } = await userClient(other.userId, { now: NOW })
		.from('messenger_messages')
		.insert({ conversation_id: conversationId, direction: 'inbound', text: 'not yours', facebook_message_id: messageId, sent_at: NOW.toISOString() });
	if (error) throw new Error(`B's insert: ${error.message}`);
	return { userId: other.userId, conversationId };
}

interface StoredMessage {
	user_id: string;
	conversation_id: string;
	direction: string;
	text: string | null;
}

const messagesWithId = async (messageId: string): Promise<StoredMessage[]> =>
	(await withDb((db) => db.query<StoredMessage>(
		'select user_id, conversation_id, direction, text from public.messenger_messages where facebook_message_id = $1 order by user_id, id',
		[messageId],
	))).rows;

const conversationOf = async (pageId: string, psid: string) =>
	(await withDb((db) => db.query<{ id: string; last_customer_message_at: Date | null }>(
		'select id, last_customer_message_at from public.messenger_conversations where page_id = $1 and sender_id = $2',
		[pageId, psid],
	))).rows[0];

const byOwner = (rows: StoredMessage[], userId: string) => rows.filter((row) => row.user_id === userId);

it('the unique key of a message id is (user_id, facebook_message_id), and only it', async () => {
	const { rows } = await withDb((db) => db.query<{ definition: string }>(
		`select pg_get_indexdef(i.indexrelid) as definition from pg_index i
		  where i.indrelid = 'public.messenger_messages'::regclass and i.indisunique and pg_get_indexdef(i.indexrelid) like '%facebook_message_id%'`,
	));
	expect(rows.map((row) => row.definition.replace(/^.* USING btree /, ''))).toEqual(['(user_id, facebook_message_id)']);
});

it("a lookup of an owner's message by id probes that key (no narrower index on the owner to pick instead)", async () => {
	// Whatever the table's size now: a sequential scan is ruled out, the indexes compete.
	const plan = await withDb(async (db) => {
		await db.query('begin');
		try {
			await db.query('set local enable_seqscan = off');
			const { rows } = await db.query<{ 'QUERY PLAN': string }>(
				`explain select 1 from public.messenger_messages m where m.user_id = $1 and m.facebook_message_id = 'm_any'`,
				[randomUUID()],
			);
			return rows.map((row) => row['QUERY PLAN']).join('\n');
		} finally {
			await db.query('rollback');
		}
	});
	expect(plan).toContain('messenger_messages_user_id_facebook_message_id_key');
	expect(plan).toMatch(/Index Cond: \(\(user_id = .*\) AND \(facebook_message_id = /);
});

describe("another owner's row with the same message id", () => {
	it("the owner's webhook delivery is recorded (stored, inbound, the window opened); a redelivery is still a duplicate", async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		const id = mid('taken');
		const other = await anotherOwnerTakes(id);

		const event = inbound(world.pageId, psid, -1, 'Is this still available?', id);
		const [row] = await recordEvents(service, [event]);
		expect(row).toMatchObject({ type: 'message', outcome: 'recorded', direction: 'inbound', facebook_message_id: id, new_conversation: true });
		const conversation = await conversationOf(world.pageId, psid);
		expect(row.conversation_id).toBe(conversation.id);
		expect(conversation.last_customer_message_at?.toISOString()).toBe(new Date(ms(-1)).toISOString());
		const stored = await messagesWithId(id);
		expect(byOwner(stored, world.userId)).toEqual([
			{ user_id: world.userId, conversation_id: conversation.id, direction: 'inbound', text: 'Is this still available?' },
		]);
		// B's row is B's, untouched.
		expect(byOwner(stored, other.userId)).toEqual([{ user_id: other.userId, conversation_id: other.conversationId, direction: 'inbound', text: 'not yours' }]);

		// Meta delivers it again: a duplicate for the owner, nothing written.
		const [again] = await recordEvents(service, [event]);
		expect(again).toMatchObject({ outcome: 'duplicate', conversation_id: conversation.id });
		expect(await messagesWithId(id)).toHaveLength(2);
	});

	it('one delivery carrying the same message id for two owners’ Pages records it for each', async () => {
		const first = await createWorld();
		const second = await createWorld();
		await connectPage(first.pageId, first.userId);
		await connectPage(second.pageId, second.userId);
		const id = mid('both');
		const rows = await recordEvents(service, [inbound(first.pageId, newPsid(), -1, 'to the first', id), inbound(second.pageId, newPsid(), -1, 'to the second', id)]);
		expect(rows.map((row) => row.outcome)).toEqual(['recorded', 'recorded']);
		expect((await messagesWithId(id)).map((row) => [row.user_id, row.text]).sort()).toEqual(
			[[first.userId, 'to the first'], [second.userId, 'to the second']].sort(),
		);
	});

	it("Messenger Sync records the owner's message", async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const psid = newPsid();
		const id = mid('synced');
		await anotherOwnerTakes(id);

		expect(await syncRecords(service, world.pageId, [inbound(world.pageId, psid, -1, 'read back', id)])).toMatchObject({ status: 'completed', page_messages: 1 });
		const conversation = await conversationOf(world.pageId, psid);
		expect(byOwner(await messagesWithId(id), world.userId)).toEqual([
			{ user_id: world.userId, conversation_id: conversation.id, direction: 'inbound', text: 'read back' },
		]);
		// Read again: a duplicate for the owner.
		expect(await syncRecords(service, world.pageId, [inbound(world.pageId, psid, -1, 'read back', id)], plus(60))).toMatchObject({ page_messages: 0 });
	});

	it("a person's echo of the owner's Page stops the owner's follow-ups (human takeover)", async () => {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const conversationId = await world.contact({ lastMessageHoursAgo: 5 });
		const psid = await senderOf(conversationId);
		const id = mid('person');
		await anotherOwnerTakes(id);

		const [row] = await recordEvents(service, [echo(world.pageId, psid, -0.5, INBOX_APP_ID, 'Anna here', id)]);
		expect(row).toMatchObject({ outcome: 'recorded', direction: 'outbound', stopped_automations: true, stop_reason: 'human_takeover' });
		expect(byOwner(await messagesWithId(id), world.userId)).toEqual([{ user_id: world.userId, conversation_id: conversationId, direction: 'outbound', text: 'Anna here' }]);
	});
});

describe("the follow-up's send, its message id another owner's row's", () => {
	/** A contact of a new owner's rule, claimed, generated and begun at NOW. */
	async function sending() {
		const world = await createWorld();
		await connectPage(world.pageId, world.userId);
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const executionId = `exec-per-owner-${randomUUID().slice(0, 8)}`;
		const [claimed] = await claim(service, ruleId, executionId, 1);
		await generate(service, executionId, [claimed.state_id]);
		const [begun] = await beginSend(service, executionId, [claimed.state_id]);
		expect(begun.outcome).toBe('send');
		return { world, conversationId, executionId, stateId: claimed.state_id, psid: await senderOf(conversationId), message: begun.message as string };
	}

	it("automation_record_send writes the owner's outbound message", async () => {
		const { world, conversationId, executionId, stateId, message } = await sending();
		const id = mid('sent');
		await anotherOwnerTakes(id);

		expect(await recordSend(service, executionId, [{ state_id: stateId, outcome: 'sent', facebook_message_id: id }], plus(5))).toEqual<RecordSendResult[]>([
			{ state_id: stateId, outcome: 'sent' },
		]);
		expect(byOwner(await messagesWithId(id), world.userId)).toEqual([{ user_id: world.userId, conversation_id: conversationId, direction: 'outbound', text: message }]);
	});

	it("the app's own echo settles the owner's uncertain send", async () => {
		const { world, conversationId, executionId, stateId, psid, message } = await sending();
		expect((await recordSend(service, executionId, [{ state_id: stateId, outcome: 'uncertain', error_message: 'timeout' }], plus(60)))[0].outcome).toBe('uncertain');
		const id = mid('echoed');
		await anotherOwnerTakes(id);

		const [row] = await recordEvents(service, [echo(world.pageId, psid, 90 / 3600, APP_ID, message, id)], { now: plus(90) });
		expect(row).toMatchObject({ type: 'echo', outcome: 'recorded', direction: 'outbound' });
		const { rows } = await withDb((db) => db.query(
			`select current_stage, facebook_message_id, stage_detail ->> 'reason' as reason from public.ai_automation_contact_states where id = $1`,
			[stateId],
		));
		expect(rows).toEqual([{ current_stage: 'sent', facebook_message_id: id, reason: 'echo_confirmed' }]);
		expect(byOwner(await messagesWithId(id), world.userId)).toEqual([{ user_id: world.userId, conversation_id: conversationId, direction: 'outbound', text: message }]);
	});
});
