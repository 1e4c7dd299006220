// Prepare Tomorrow (the seed's first button): the owner's tomorrow filled from the backlog, up to
// the daily capacity, highest lead score first, spread over the sending hours; leads that cannot be
// queued are counted by reason; run twice, the same queue.
import { randomUUID } from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { serviceClient, userClient, useStackOfItsOwn, withDb } from '../../helpers/stack';
import {
	addLeads,
	claim,
	complete,
	createOwner,
	leadItems,
	messages,
	minutesAfter,
	NOW,
	phone,
	prepare,
	preparedOwner,
	rpc,
	sent,
	setSettings,
	takeLead,
	TOMORROW,
} from './fixtures';
import type { PrepareResult } from '../../../nodes/shared/contract';

const NO_SKIPS = { taken_over: 0, not_new: 0, no_phone: 0, contacted_today: 0, already_queued_that_day: 0, not_a_sending_day: 0, over_capacity: 0 };

/** The owner's messages as [lead score, scheduled time], by schedule. */
const schedule = (userId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<{ score: number | null; at: string }>(
					`select l.lead_score as score, to_char(q.scheduled_for at time zone 'UTC', 'HH24:MI') as at
					   from public.whatsapp_message_queue q join public.leads l on l.id = q.lead_id
					  where q.user_id = $1 order by q.scheduled_for`,
					[userId],
				)
			).rows.map((row) => [row.score, row.at]),
	);

describe('queue_prepare', () => {
	it('queues the highest scores first (no score last, then the oldest lead), each at its slot of the sending hours', async () => {
		const userId = await createOwner({ daily_capacity: 4, send_from: '09:00', send_until: '17:00' });
		await addLeads(leadItems(userId, 3, (i) => [40, null, 90][i]), minutesAfter(-60));
		await addLeads(leadItems(userId, 3, (i) => [10, 90, null][i]), minutesAfter(-30));
		const [result] = await prepare(userId);
		expect(result).toEqual({
			user_id: userId,
			day: TOMORROW,
			time_zone: 'UTC',
			capacity: 4,
			queued: 4,
			already_queued: 0,
			skipped: { ...NO_SKIPS, over_capacity: 2 },
		});
		// 8 hours for 4 messages: one every 2 hours from 09:00; the older 90 before the newer one.
		expect(await schedule(userId)).toEqual([
			[90, '09:00'],
			[90, '11:00'],
			[40, '13:00'],
			[10, '15:00'],
		]);
		const [first] = await messages(userId);
		const older = await withDb(async (db) => (await db.query('select id from public.leads where user_id = $1 and lead_score = 90 order by created_at limit 1', [userId])).rows[0].id);
		expect(first.lead_id).toBe(older);
	});

	it('orders by the conversation\'s current pipeline score when the lead has one, and keeps it on the lead', async () => {
		const userId = await createOwner({ daily_capacity: 1 });
		const conversationId = await withDb(async (db) => {
			const conversation = await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '10', '20') returning id`, [userId]);
			const pipeline = await db.query<{ id: string }>(`insert into public.pipelines (user_id, name) values ($1, 'Sales') returning id`, [userId]);
			const stage = await db.query<{ id: string }>(
				`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order) values ($1, $2, 'Hot', 1) returning id`,
				[userId, pipeline.rows[0].id],
			);
			await db.query(
				`insert into public.pipeline_contacts (user_id, conversation_id, pipeline_id, stage_id, lead_score, stage_entered_at) values ($1, $2, $3, $4, 95, now())`,
				[userId, conversation.rows[0].id, pipeline.rows[0].id, stage.rows[0].id],
			);
			return conversation.rows[0].id;
		});
		await addLeads([
			{ user_id: userId, name: 'Scored by the list', phone: phone(), lead_score: 80 },
			{ user_id: userId, name: 'Scored by the AI', phone: phone(), conversation_id: conversationId, lead_score: 5 },
		]);
		expect((await prepare(userId))[0]).toMatchObject({ queued: 1, skipped: { ...NO_SKIPS, over_capacity: 1 } });
		expect(await schedule(userId)).toEqual([[95, '09:00']]);
	});

	it('is idempotent: run twice, the same queue; a slot freed by a take-over is filled by the next run', async () => {
		const { userId, prepared } = await preparedOwner(3, { daily_capacity: 3 });
		expect(prepared.queued).toBe(3);
		await addLeads(leadItems(userId, 2, () => 1));
		const before = await messages(userId);
		const [again] = await prepare(userId, minutesAfter(5));
		expect(again).toMatchObject({ queued: 0, already_queued: 3, skipped: { ...NO_SKIPS, over_capacity: 2 } });
		expect(await messages(userId)).toEqual(before);

		await takeLead(before[1].lead_id, { now: minutesAfter(6) });
		const [refill] = await prepare(userId, minutesAfter(7));
		expect(refill).toMatchObject({ queued: 1, already_queued: 2, skipped: { ...NO_SKIPS, over_capacity: 1 } });
		// The new message takes the slot after the day's live ones (the third: two messages may share a time).
		const day = await messages(userId);
		expect(day.map((row) => row.status).sort()).toEqual(['cancelled', 'queued', 'queued', 'queued']);
		expect(day.filter((row) => row.status === 'queued').map((row) => row.scheduled_for.toISOString().slice(11, 16))).toEqual(['09:00', '14:20', '14:20']);
	});

	it('run twice at the same time (n8n fires twice): the call that waited for the first queues nothing more, the day holds its capacity at distinct slots', async () => {
		const userId = await createOwner({ daily_capacity: 3, send_from: '09:00', send_until: '17:00' });
		await addLeads(leadItems(userId, 10, (i) => i));
		const call = 'select queue_prepare.queued, queue_prepare.already_queued from public.queue_prepare($1, $2)';
		const [first, second] = await withDb((a) =>
			withDb(async (b) => {
				await a.query('begin');
				const first = (await a.query<{ queued: number; already_queued: number }>(call, [userId, NOW])).rows[0];
				// The second call, on its own connection, waits for the first's lock on the owner.
				const pid = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
				const second = b.query<{ queued: number; already_queued: number }>(call, [userId, NOW]);
				await withDb(async (watch) => {
					for (let waited = 0; ; waited += 20) {
						const state = await watch.query<{ wait: string | null }>('select wait_event_type as wait from pg_stat_activity where pid = $1', [pid]);
						if (state.rows[0]?.wait === 'Lock') return;
						if (waited > 10_000) throw new Error('the second queue_prepare never waited for the first');
						await new Promise((resolve) => setTimeout(resolve, 20));
					}
				});
				await a.query('commit');
				return [first, (await second).rows[0]];
			}),
		);
		expect(first).toEqual({ queued: 3, already_queued: 0 });
		expect(second).toEqual({ queued: 0, already_queued: 3 });
		const day = await messages(userId);
		expect(day.map((row) => [row.day, row.status])).toEqual(Array(3).fill([TOMORROW, 'queued']));
		expect(day.map((row) => row.scheduled_for.toISOString().slice(11, 16))).toEqual(['09:00', '11:40', '14:20']);
		expect(await schedule(userId)).toEqual([
			[9, '09:00'],
			[8, '11:40'],
			[7, '14:20'],
		]);
	});

	it('fills the next day from what is left: capacity per local day', async () => {
		const { userId } = await preparedOwner(25, { daily_capacity: 10 });
		const [thursday] = await prepare(userId);
		expect(thursday).toMatchObject({ day: TOMORROW, queued: 0, already_queued: 10, skipped: { over_capacity: 15 } });
		const [friday] = await prepare(userId, minutesAfter(24 * 60));
		expect(friday).toMatchObject({ day: '2026-11-27', queued: 10, already_queued: 0, skipped: { over_capacity: 5 } });
		const byDay = (await messages(userId)).reduce<Record<string, number>>((days, row) => ({ ...days, [row.day]: (days[row.day] ?? 0) + 1 }), {});
		expect(byDay).toEqual({ [TOMORROW]: 10, '2026-11-27': 10 });
	});

	it('says why leads were not queued: no phone, contacted today, queued for that day already, not a sending day', async () => {
		const userId = await createOwner({ daily_capacity: 10 });
		const conversation = await withDb(async (db) =>
			(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '10', '21') returning id`, [userId])).rows[0].id,
		);
		await addLeads([{ user_id: userId, name: 'Messenger only', conversation_id: conversation }, ...leadItems(userId, 2)], minutesAfter(-24 * 60));
		// Yesterday (Tuesday) the two with phones were prepared for today; one was sent today, one cancelled.
		await prepare(userId, minutesAfter(-24 * 60));
		const [a, b] = await claim('w-prep', userId, minutesAfter(-60));
		await complete('w-prep', [sent(a)], minutesAfter(-60));
		const app = userClient(userId, { now: new Date(minutesAfter(-30)) });
		await app.from('leads').update({ status: 'not_interested' }).eq('id', b.lead_id);
		// The owner puts both back in the backlog, and prepares tomorrow twice: once normally, ...
		await app.from('leads').update({ status: 'new' }).in('id', [a.lead_id, b.lead_id]);
		const [result] = await prepare(userId);
		expect(result).toMatchObject({ queued: 1, skipped: { ...NO_SKIPS, no_phone: 1, contacted_today: 1 } });
		// ... and for a day that is not a sending day (Friday excluded), nothing is queued.
		const other = await createOwner({ days_of_week: [1, 2, 3, 4, 6, 7] });
		await addLeads(leadItems(other, 2));
		expect((await prepare(other, minutesAfter(24 * 60)))[0]).toMatchObject({ day: '2026-11-27', queued: 0, skipped: { ...NO_SKIPS, not_a_sending_day: 2 } });
		// A lead whose message for a day was cancelled, put back to new the same day, is not queued for that day again.
		const third = await preparedOwner(1);
		const [message] = await messages(third.userId);
		const thirdApp = userClient(third.userId, { now: new Date(minutesAfter(1)) });
		await thirdApp.from('leads').update({ status: 'do_not_contact' }).eq('id', message.lead_id);
		await thirdApp.from('leads').update({ status: 'new' }).eq('id', message.lead_id);
		expect((await prepare(third.userId, minutesAfter(2)))[0]).toMatchObject({ queued: 0, already_queued: 0, skipped: { ...NO_SKIPS, already_queued_that_day: 1 } });
	});

	// queue_prepare with no owner prepares every owner of the database. On the run's shared stack that
	// was every other test file's owner too, even in a transaction rolled back: it locked their
	// settings (their own prepares waited) and failed (40001) when one of them changed a lead it had
	// picked. So this test has a stack of its own, started and stopped here: its owners are the only ones.
	describe('with no owner named', () => {
		useStackOfItsOwn();
		// Made once that stack runs: a client reaches the stack testStack() names when it is made.
		let own: SupabaseClient;
		beforeAll(() => {
			own = serviceClient();
		});

		it('prepares every owner with settings when no owner is named (one row each)', async () => {
			const owners = [await createOwner({ daily_capacity: 2 }), await createOwner({ daily_capacity: 3 })];
			for (const owner of owners) expect((await own.rpc('queue_add_leads', { p_items: leadItems(owner, 4), p_now: NOW })).error).toBeNull();
			const { data, error } = await own.rpc('queue_prepare', { p_now: NOW });
			expect(error).toBeNull();
			const rows = data as PrepareResult[];
			// One row per owner, by owner: here, only this test's.
			expect(rows.map((row) => row.user_id)).toEqual([...owners].sort());
			const mine = new Map(rows.map((row) => [row.user_id, [row.capacity, row.queued]]));
			expect(owners.map((owner) => mine.get(owner))).toEqual([
				[2, 2],
				[3, 3],
			]);
			expect(await messages(owners[0])).toHaveLength(2);
		});
	});

	it('takes the owners a page at a time: after p_after_user_id, up to p_until_user_id, at most p_owner_limit, each owner in one page only', async () => {
		// Five owners whose ids share a prefix drawn for this run: the pages cover that range only, so
		// no other suite's owner is prepared (they share the database).
		const prefix = randomUUID().slice(0, 8);
		const ids = ['0', '3', '7', 'b', 'f'].map((digit) => `${prefix}-${digit}000-4000-8000-000000000000`);
		const [low, high] = [`${prefix}-0000-0000-0000-000000000000`, `${prefix}-ffff-ffff-ffff-ffffffffffff`];
		await withDb((db) => db.query(`insert into auth.users (id, email) select u, u || '@leadflow.test' from unnest($1::uuid[]) u`, [ids]));
		for (const id of ids) {
			await setSettings(id, { daily_capacity: 2 });
			await addLeads(leadItems(id, 3));
		}
		const pages: PrepareResult[][] = [];
		let after = low;
		for (;;) {
			const page = await rpc<PrepareResult[]>('queue_prepare', { p_now: NOW, p_after_user_id: after, p_until_user_id: high, p_owner_limit: 2 });
			pages.push(page);
			if (page.length < 2) break;
			after = page[page.length - 1].user_id;
		}
		expect(pages.map((page) => page.map((row) => row.user_id))).toEqual([[ids[0], ids[1]], [ids[2], ids[3]], [ids[4]]]);
		expect(pages.flat().map((row) => [row.queued, row.skipped.over_capacity])).toEqual(ids.map(() => [2, 1]));
		// The bounds: after the last one, nothing; up to the second, the first two only (prepared already: nothing more).
		expect(await rpc<PrepareResult[]>('queue_prepare', { p_now: NOW, p_after_user_id: ids[4], p_until_user_id: high })).toEqual([]);
		expect((await rpc<PrepareResult[]>('queue_prepare', { p_now: NOW, p_after_user_id: low, p_until_user_id: ids[1] })).map((row) => [row.user_id, row.queued, row.already_queued])).toEqual([
			[ids[0], 0, 2],
			[ids[1], 0, 2],
		]);
		// One owner and a page combine: after it, nothing of it.
		expect(await rpc<PrepareResult[]>('queue_prepare', { p_user_id: ids[2], p_now: NOW, p_after_user_id: ids[2], p_owner_limit: 1 })).toEqual([]);
	});

	it('refuses a page of 0 or more than 1,000 owners, naming p_owner_limit, and prepares nothing', async () => {
		const owner = await createOwner({ daily_capacity: 2 });
		await addLeads(leadItems(owner, 1));
		for (const limit of [0, 1001]) {
			const refused = await withDb(async (db) => {
				try {
					await db.query('select * from public.queue_prepare($1, $2, p_owner_limit => $3)', [owner, NOW, limit]);
					return null;
				} catch (error) {
					return error as { code: string; message: string };
				}
			});
			expect(refused).toMatchObject({ code: '22023', message: `p_owner_limit: must be from 1 to 1000 owners per call (got ${limit})` });
		}
		expect(await messages(owner)).toEqual([]);
	});
});
