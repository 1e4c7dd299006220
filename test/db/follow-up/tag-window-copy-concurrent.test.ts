// The tag link's copy of the person's last message time when the owner tags the person while their
// message is being recorded: two real connections, one transaction held open while the other runs.
// The claim walks the links inside the window by that copy; Explain and the monitor read the
// conversation. Before migration 20261201002310_follow_up_window_copy_and_due_in_hours.sql the new
// link kept the old time in either order (the link's insert read the conversation without waiting for
// the message's transaction; the message's rewrite of the links could not see a link not yet
// committed): Explain said "due now" and every claim counted the contact outside_window, until the
// person wrote again. Now the insert's statement trigger locks the links' conversations FOR SHARE in
// id order, and a third case checks that one insert of links in any row order cannot deadlock with a
// message batch, which locks its conversations in id order.
import { Client } from 'pg';
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { serviceClient, testStack, untilWaitingForLock, withDb } from '../../helpers/stack';
import { at, createWorld, NOW } from './fixtures';
import { judgementOf, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
/** When the person writes: a minute before NOW. */
const WROTE = at(-1 / 60);

const connections: Client[] = [];
async function connect(): Promise<Client> {
	const db = new Client({ connectionString: testStack().dbUrl });
	await db.connect();
	connections.push(db);
	return db;
}
afterEach(async () => {
	for (const db of connections.splice(0)) await db.end();
});

const pidOf = async (db: Client) => (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;

/** Resolves once `pid` waits for a lock, or once `call` (running on that backend) has ended, whichever comes first. */
async function untilWaitingOrDone(pid: number, call: Promise<unknown>): Promise<void> {
	let done = false;
	void call.then(
		() => (done = true),
		() => (done = true),
	);
	await withDb(async (db) => {
		for (const until = Date.now() + 10_000; !done; await new Promise((resolve) => setTimeout(resolve, 20))) {
			const { rows } = await db.query<{ wait_event_type: string | null }>('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
			if (rows[0]?.wait_event_type === 'Lock') return;
			if (Date.now() > until) throw new Error(`backend ${pid} neither waited for a lock nor ended`);
		}
	});
}

const recordMessage = (db: Client, userId: string, conversationIds: string[]) =>
	db.query(
		`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
		 select $1, unnest($2::uuid[]), 'inbound', 'Still interested, how much is it?', $3`,
		[userId, conversationIds, WROTE],
	);

const tag = (db: Client, userId: string, tagId: string, conversationIds: string[]) =>
	db.query(
		`insert into public.conversation_tags (conversation_id, tag_id, user_id)
		 select u.id, $2, $3 from unnest($1::uuid[]) with ordinality u (id, n) order by u.n`,
		[conversationIds, tagId, userId],
	);

/** The link's copy and the conversation's own time, for each conversation (one tag each). */
const windowTimes = (conversationIds: string[]) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ id: string; copy: Date | null; actual: Date | null }>(
			`select c.id, ct.last_customer_message_at as copy, c.last_customer_message_at as actual
			   from public.messenger_conversations c join public.conversation_tags ct on ct.conversation_id = c.id
			  where c.id = any ($1::uuid[])`,
			[conversationIds],
		);
		return Object.fromEntries(rows.map((row) => [row.id, { copy: row.copy?.toISOString() ?? null, actual: row.actual?.toISOString() ?? null }]));
	});

const claimExplained = (ruleId: string, executionId: string) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: 100,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
	});

/** Explain says due now and the claim takes exactly these contacts: one truth. */
async function expectDueAndClaimed(ruleId: string, conversationIds: string[]) {
	for (const id of conversationIds) expect(await judgementOf(service, ruleId, id)).toMatchObject({ reason: null, due: true });
	const answer = await claimExplained(ruleId, `exec-${ruleId.slice(0, 8)}`);
	expect(answer.summary.claimed).toBe(conversationIds.length);
	expect(answer.summary.notClaimed).toEqual({});
	expect(answer.contacts.map((contact) => contact.conversation_id).sort()).toEqual([...conversationIds].sort());
}

describe('a contact tagged while their message is being recorded', () => {
	it('the message\'s transaction first, the tagging while it is open: the link gets the new time, and the contact is claimed', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		// The person wrote 3 days ago (window closed), untagged; they write again as the owner tags them.
		const conversationId = await world.contact({ lastMessageHoursAgo: 72, tags: [] });
		const messages = await connect();
		const tagging = await connect();
		await messages.query('begin');
		await recordMessage(messages, world.userId, [conversationId]);
		const taggingPid = await pidOf(tagging);
		const tagged = tag(tagging, world.userId, world.tags['AI Lead'], [conversationId]);
		await untilWaitingOrDone(taggingPid, tagged);
		await messages.query('commit');
		await tagged;

		await expectDueAndClaimed(ruleId, [conversationId]);
		expect(await windowTimes([conversationId])).toEqual({ [conversationId]: { copy: WROTE, actual: WROTE } });
	});

	it('the tagging\'s transaction first, the message recorded while it is open: the link gets the new time, and the contact is claimed', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		// A conversation whose person never wrote (made from an ad lead): no window until they write.
		const conversationId = await world.contact({ lastMessageHoursAgo: null, tags: [] });
		const messages = await connect();
		const tagging = await connect();
		await tagging.query('begin');
		await tag(tagging, world.userId, world.tags['AI Lead'], [conversationId]);
		const messagesPid = await pidOf(messages);
		const recorded = recordMessage(messages, world.userId, [conversationId]);
		await untilWaitingOrDone(messagesPid, recorded);
		await tagging.query('commit');
		await recorded;

		await expectDueAndClaimed(ruleId, [conversationId]);
		expect(await windowTimes([conversationId])).toEqual({ [conversationId]: { copy: WROTE, actual: WROTE } });
	});

	it('one insert of links in any row order and a message batch on the same conversations: neither deadlocks, both links get the new time', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const [first, second] = (await world.contacts(2, { lastMessageHoursAgo: 72, tags: [] })).sort();
		const holder = await connect();
		const messages = await connect();
		const tagging = await connect();
		// Another transaction holds the conversation with the smaller id, as a message being recorded would.
		await holder.query('begin');
		await holder.query('select from public.messenger_conversations where id = $1 for no key update', [first]);
		// The message batch locks its conversations in id order: it waits for the smaller one.
		const [messagesPid, taggingPid] = [await pidOf(messages), await pidOf(tagging)];
		const recorded = recordMessage(messages, world.userId, [first, second]);
		await untilWaitingForLock(messagesPid, 'the message batch never waited for the conversation held');
		// The owner's app tags both in one statement, the larger id first.
		const tagged = tag(tagging, world.userId, world.tags['AI Lead'], [second, first]);
		await untilWaitingOrDone(taggingPid, tagged);
		await holder.query('commit');

		const outcomes = await Promise.allSettled([recorded, tagged]);
		expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : outcome.status))).toEqual(['fulfilled', 'fulfilled']);
		await expectDueAndClaimed(ruleId, [first, second]);
		expect(await windowTimes([first, second])).toEqual({ [first]: { copy: WROTE, actual: WROTE }, [second]: { copy: WROTE, actual: WROTE } });
	});
});
