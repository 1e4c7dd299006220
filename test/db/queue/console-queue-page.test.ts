// console_queue_page (migration 20261201000790): the console's Queue tab. The owner's queue day is
// the local date of the database's clock in the owner's time zone; the counts by status are the
// day's messages; one page of them in send order, filtered by status and a search of name or phone,
// each with its lead, its take-over and the lead's last ledger row. Bad arguments are refused naming
// them; another owner's queue never shows.
import { serviceClient, withDb } from '../../helpers/stack';
import { claim, complete, createOwner, failed, local, NOW, preparedOwner, sent, takeLead, TOMORROW } from './fixtures';

interface QueuePage {
	owners?: string[];
	owner: string | null;
	timeZone: string;
	today: string;
	day: string;
	settings: { time_zone: string; daily_capacity: number } | null;
	counts: Record<string, number>;
	rows: {
		total: number;
		offset: number;
		limit: number;
		rows: Array<{
			item_id: string; lead_id: string; name: string; phone: string; status: string; attempts: number; lead_status: string;
			scheduled_for: string; taken_over_at: string | null; last_error: string | null;
			conversation_id: string | null; follow_ups_stopped: boolean;
			last_event: { queue: string; reason: string; to_status: string; actor: string; at: string } | null;
		}>;
	};
}

// The clock of the day the queue sends: the prepare at NOW filled TOMORROW.
const SEND_DAY_NOON = `${TOMORROW}T12:00:00.000Z`;

async function page(args: Record<string, unknown>, now = SEND_DAY_NOON): Promise<QueuePage> {
	const { data, error } = await serviceClient({ now: new Date(now) }).rpc('console_queue_page', args);
	if (error) throw new Error(`${error.code}: ${error.message}`);
	return data as QueuePage;
}

const dayMessages = (userId: string, day: string) =>
	withDb(async (db) => (await db.query<{ id: string; status: string; lead_id: string }>(
		'select id, status, lead_id from public.whatsapp_message_queue where user_id = $1 and day = $2 order by scheduled_for, id', [userId, day])).rows);

test('the day\'s counts by status and its rows in send order equal the table, each with its lead and last ledger row', async () => {
	const { userId } = await preparedOwner(12);
	const at = `${TOMORROW}T11:00:00.000Z`; // three due by then (12 over 09:00–17:00)
	const [a, b, c] = await claim('w-console', userId, at, 3);
	await complete('w-console', [sent(a), failed(b)], at);
	await takeLead(c.lead_id, { userId, reason: 'Called back', now: at });

	const answer = await page({ p_user_id: userId });
	expect(answer.owner).toBe(userId);
	expect(answer.owners).toContain(userId);
	expect(answer).toMatchObject({ timeZone: 'UTC', today: TOMORROW, day: TOMORROW, settings: { time_zone: 'UTC', daily_capacity: 12 } });

	const rows = await dayMessages(userId, TOMORROW);
	const byStatus = (status: string) => rows.filter((row) => row.status === status).length;
	expect(answer.counts).toEqual({ total: 12, queued: byStatus('queued'), claimed: 0, sent: 1, failed: 1, cancelled: 1, dead: 0 });
	expect(byStatus('queued')).toBe(9);
	expect(answer.rows.total).toBe(12);
	expect(answer.rows.rows.map((row) => row.item_id)).toEqual(rows.map((row) => row.id));

	const taken = answer.rows.rows.find((row) => row.item_id === c.item_id)!;
	expect(taken).toMatchObject({ status: 'cancelled', lead_status: 'human_controlled', last_event: { queue: 'leads', reason: 'human_takeover', to_status: 'human_controlled', actor: 'user' } });
	expect(Date.parse(taken.taken_over_at!)).toBe(Date.parse(at));
	expect(answer.rows.rows.find((row) => row.item_id === b.item_id)).toMatchObject({ status: 'failed', attempts: 1, last_error: '131000: Something went wrong', last_event: { reason: 'send_failed' } });
	expect(answer.rows.rows.find((row) => row.item_id === a.item_id)).toMatchObject({ status: 'sent', lead_status: 'contacted' });
});

test('pages, filters by status and searches name or phone (wildcards literal); another owner\'s queue never shows', async () => {
	const { userId } = await preparedOwner(7);
	const other = await preparedOwner(3);
	const all = await dayMessages(userId, TOMORROW);

	const first = await page({ p_user_id: userId, p_limit: 3 });
	const second = await page({ p_user_id: userId, p_limit: 3, p_offset: 3 });
	const third = await page({ p_user_id: userId, p_limit: 3, p_offset: 6 });
	expect([...first.rows.rows, ...second.rows.rows, ...third.rows.rows].map((row) => row.item_id)).toEqual(all.map((row) => row.id));
	expect(third.rows).toMatchObject({ total: 7, offset: 6, limit: 3 });

	const [one] = await claim('w-filter', userId, `${TOMORROW}T09:30:00.000Z`, 1);
	const claimed = await page({ p_user_id: userId, p_status: 'claimed' });
	expect(claimed.rows.rows.map((row) => row.item_id)).toEqual([one.item_id]);
	expect(claimed.rows.total).toBe(1);
	expect(claimed.counts.total).toBe(7);

	const lead = first.rows.rows[1];
	expect((await page({ p_user_id: userId, p_search: lead.phone.slice(-7) })).rows.rows.map((row) => row.item_id)).toEqual([lead.item_id]);
	expect((await page({ p_user_id: userId, p_search: 'lead 1' })).rows.total).toBe(1);
	expect((await page({ p_user_id: userId, p_search: 'Lead_' })).rows.total).toBe(0);
	expect((await page({ p_user_id: userId, p_search: '%' })).rows.total).toBe(0);
	const otherIds = new Set((await dayMessages(other.userId, TOMORROW)).map((row) => row.id));
	expect((await page({ p_user_id: userId, p_search: 'Lead' })).rows.rows.some((row) => otherIds.has(row.item_id))).toBe(false);
});

test('the day is the owner\'s local date of the database\'s clock; another day can be asked for; no queue is an empty day', async () => {
	// At NOW (21:00 in Tokyo) the prepare filled Tokyo's tomorrow, 2026-11-26; at 16:00 UTC it is
	// already that day in Tokyo, still 2026-11-25 in UTC.
	const { userId } = await preparedOwner(2, { time_zone: 'Asia/Tokyo' });
	expect(await page({ p_user_id: userId }, NOW)).toMatchObject({ timeZone: 'Asia/Tokyo', today: '2026-11-25', day: '2026-11-25', counts: { total: 0 } });
	expect(await page({ p_user_id: userId }, local('2026-11-26T01:00:00', 'Asia/Tokyo'))).toMatchObject({ today: '2026-11-26', counts: { total: 2, queued: 2 } });
	expect(await page({ p_user_id: userId, p_day: '2026-11-26' }, NOW)).toMatchObject({ today: '2026-11-25', day: '2026-11-26', counts: { total: 2 } });

	const empty = await createOwner();
	expect(await page({ p_user_id: empty })).toMatchObject({ owner: empty, counts: { total: 0 }, rows: { total: 0, rows: [] } });
});

test('with p_owners false the owners list is left out, the rest of the answer the same; without p_user_id the first owner by id', async () => {
	const { userId } = await preparedOwner(3);
	const full = await page({ p_user_id: userId });
	const lean = await page({ p_user_id: userId, p_owners: false });
	expect(full.owners).toContain(userId);
	expect(lean).not.toHaveProperty('owners');
	expect(lean).not.toHaveProperty('ownerLabels');
	expect({ ...full, owners: undefined, ownerLabels: undefined }).toEqual({ ...lean, owners: undefined });

	const first = await page({});
	expect(first.owner).toBe(first.owners![0]);
	expect((await page({ p_owners: false })).owner).toBe(first.owner);
});

test('bad arguments are refused naming them; an unknown owner is not found', async () => {
	const owner = await createOwner();
	const refused = async (args: Record<string, unknown>) => {
		const { error } = await serviceClient({ now: new Date(SEND_DAY_NOON) }).rpc('console_queue_page', { p_user_id: owner, ...args });
		return error;
	};
	expect(await refused({ p_status: 'sending' })).toMatchObject({ code: '22023', message: expect.stringContaining('p_status must be queued, claimed') });
	expect(await refused({ p_limit: 501 })).toMatchObject({ code: '22023', message: expect.stringContaining('p_limit') });
	expect(await refused({ p_offset: -1 })).toMatchObject({ code: '22023', message: expect.stringContaining('p_offset') });
	expect(await refused({ p_search: 'x'.repeat(201) })).toMatchObject({ code: '22023', message: expect.stringContaining('p_search') });
	expect(await refused({ p_user_id: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ code: 'P0002', message: expect.stringContaining('p_user_id') });
	const { error } = await serviceClient({ now: new Date(SEND_DAY_NOON) }).rpc('console_queue_page', { p_user_id: owner });
	expect(error).toBeNull();
});

test('each row says its lead\'s conversation and whether it is stopped for every follow-up rule (migration …2010): the page offers Stop follow-ups only while there is something to stop', async () => {
	const { userId, leadIds } = await preparedOwner(3);
	const conversations = await withDb(async (db) =>
		(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) select $1, '1049000000088', '88' || n from generate_series(1, 2) n returning id`, [userId])).rows.map((row) => row.id),
	);
	// Two opted out, on Messenger too; the third has no conversation.
	await withDb((db) =>
		db.query(`update public.leads l set status = 'do_not_contact', conversation_id = c.conversation_id from unnest($1::uuid[], $2::uuid[]) c (id, conversation_id) where l.id = c.id`, [leadIds, [...conversations, null]]),
	);
	const [taken] = await takeLead(leadIds[0], { userId, now: SEND_DAY_NOON });
	expect(taken).toMatchObject({ status: 'do_not_contact', status_kept: true });

	const { rows } = (await page({ p_user_id: userId })).rows;
	const byLead = Object.fromEntries(rows.map((row) => [row.lead_id, [row.lead_status, row.conversation_id, row.follow_ups_stopped]]));
	expect(byLead).toEqual({
		[leadIds[0]]: ['do_not_contact', conversations[0], true],
		[leadIds[1]]: ['do_not_contact', conversations[1], false],
		[leadIds[2]]: ['do_not_contact', null, false],
	});
	// A stop for one rule only is not a stop for every rule.
	const rule = await withDb(async (db) =>
		(await db.query<{ id: string }>(
			`with tag as (insert into public.tags (user_id, name) values ($1, 'AI Lead') returning id)
			 insert into public.ai_automation_rules (user_id, name, enabled, page_id, include_tag_ids, tag_match, exclude_tag_ids, daily_limit, max_follow_ups,
			   min_hours_between_follow_ups, stop_on_reply, active_hours_start, active_hours_end, time_zone, active_days, instructions, context_message_count)
			 select $1, 'r', true, null, array[tag.id], 'any', '{}', 10, 1, 1, true, '00:00', '00:00', 'UTC', '{1,2,3,4,5,6,7}', 'Write a follow-up.', 5 from tag returning id`, [userId])).rows[0].id,
	);
	await withDb((db) => db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'manual')`, [userId, conversations[1], rule]));
	const again = (await page({ p_user_id: userId })).rows.rows;
	expect(again.find((row) => row.lead_id === leadIds[1])?.follow_ups_stopped).toBe(false);
});
