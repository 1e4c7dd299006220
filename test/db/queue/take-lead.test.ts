// Take Lead (the seed's fourth button): in one transaction the lead becomes human-controlled, what
// of it waits in the queues is cancelled, and its Messenger follow-ups are stopped. A worker that
// holds the lead's message when it happens, its send not begun, is refused at Complete: nothing is
// recorded as sent by the automation, and the ledger shows the cancel. A message whose send began
// (queue_begin_send) may be out: it is left to its worker's Complete (sent with its wamid, or
// cancelled if it failed), and the answer lists it in `sending`. Taking a lead twice is harmless.
import type { Client } from 'pg';
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import {
	addLeads,
	claim,
	complete,
	createOwner,
	failed,
	failure,
	ledger,
	messages,
	metrics,
	phone,
	phonesOf,
	preparedOwner,
	rpc,
	sendNotMade,
	sent,
	takeLead,
	TOMORROW,
} from './fixtures';

const AT = `${TOMORROW}T10:00:00.000Z`;
const LATER = `${TOMORROW}T10:01:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));

/** Polls until check is true (a connection seen waiting for a lock, a call done), at most 5 s. */
const until = async (check: () => Promise<boolean>) => {
	for (let waited = 0; waited < 5_000; waited += 20) {
		if (await check()) return;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	throw new Error('timed out waiting');
};
/** Whether a backend other than those given waits for a lock while running a query like the pattern. */
const waitingFor = async (db: Client, pattern: string, except: number[] = []) =>
	(await db.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query ilike $1 and not pid = any ($2)`, [pattern, except])).rowCount === 1;

describe('queue_take_lead', () => {
	it('while a worker holds the lead\'s message: the worker\'s Complete is refused, nothing is recorded as sent, the ledger shows the cancel', async () => {
		const { userId, leadIds } = await preparedOwner(1);
		const [held] = await claim('worker-1', userId, AT);
		expect(held.lead_id).toBe(leadIds[0]);

		const [taken] = await takeLead(held.lead_id, { actorId: userId, reason: 'Customer called', now: LATER });
		expect(taken).toMatchObject({ status: 'human_controlled', already_taken: false });
		expect(taken.cancelled).toEqual(
			expect.arrayContaining([
				{ queue: 'whatsapp_message_queue', item_id: held.item_id, from_status: 'claimed' },
				{ queue: 'lead_processing_queue', item_id: expect.any(String), from_status: 'claimed' },
			]),
		);

		// The send went out meanwhile; the worker reports it: refused.
		const [report] = await complete('worker-1', [sent(held, 'wamid.too-late')], LATER);
		expect(report).toEqual({ item_index: 0, item_id: held.item_id, status: 'cancelled', accepted: false, reason: 'cancelled', next_attempt_at: null });

		const [message] = await messages(userId);
		expect(message).toMatchObject({ status: 'cancelled', message_id: null });
		const lead = await withDb(async (db) => (await db.query('select status, taken_over_by, taken_over_at from public.leads where id = $1', [held.lead_id])).rows[0]);
		expect(lead).toEqual({ status: 'human_controlled', taken_over_by: userId, taken_over_at: new Date(LATER) });

		const rows = (await ledger(userId)).filter((row) => row.item_id === held.item_id);
		expect(rows.map((row) => [row.from_status, row.to_status, row.actor, row.reason])).toEqual([
			[null, 'queued', 'automation', 'prepared'],
			['queued', 'claimed', 'automation', 'claimed'],
			['claimed', 'cancelled', 'user', 'human_takeover'],
		]);
		expect((await ledger(userId)).some((row) => row.to_status === 'sent' || row.to_status === 'contacted')).toBe(false);
		expect(await metrics(userId, TOMORROW, TOMORROW)).toEqual([
			expect.objectContaining({ day: TOMORROW, queued: 1, sent: 0, failed: 0, cancelled: 1, taken_over: 1 }),
		]);
	});

	it('while the worker\'s Complete is in flight: the take-over waits for it, then takes the contacted lead (nothing lost, nothing cancelled twice)', async () => {
		const { userId } = await preparedOwner(1);
		const [held] = await claim('worker-2', userId, AT);
		const taken = await withDb(async (db) => {
			await db.query('begin');
			await db.query(`select * from public.queue_complete('worker-2', $1, $2)`, [JSON.stringify([sent(held)]), AT]);
			const take = takeLead(held.lead_id, { now: LATER });
			await new Promise((resolve) => setTimeout(resolve, 300)); // the take-over is waiting for the message's lock
			await db.query('commit');
			return take;
		});
		expect(taken[0]).toMatchObject({ status: 'human_controlled', already_taken: false, cancelled: [] });
		const [message] = await messages(userId);
		expect(message.status).toBe('sent');
		const leadRows = (await ledger(userId)).filter((row) => row.queue === 'leads' && row.item_id === held.lead_id);
		expect(leadRows.map((row) => row.to_status)).toEqual(['new', 'queued', 'contacted', 'human_controlled']);
	});

	it('during a send (begin_send let it go): the message is left to its worker, Complete records it sent with its wamid, the answer says it was being sent', async () => {
		const { userId } = await preparedOwner(1);
		const [held] = await claim('worker-s', userId, AT);
		expect((await beginSend('worker-s', [held.item_id], AT))[0]).toMatchObject({ send: true });

		const [taken] = await takeLead(held.lead_id, { actorId: userId, reason: 'Customer called', now: LATER });
		expect(taken).toMatchObject({ status: 'human_controlled', already_taken: false, cancelled: [] });
		expect(taken.sending).toEqual([{ item_id: held.item_id, send_started_at: AT.replace('.000Z', '+00:00'), worker: 'worker-s' }]);
		// Still the worker's: the message and its backlog item wait for its report.
		expect((await messages(userId)).map((row) => [row.status, row.lease_holder])).toEqual([['claimed', 'worker-s']]);

		const [report] = await complete('worker-s', [sent(held, 'wamid.X')], LATER);
		expect(report).toMatchObject({ item_id: held.item_id, status: 'sent', accepted: true, reason: null });
		expect((await messages(userId))[0]).toMatchObject({ status: 'sent', message_id: 'wamid.X' });
		const state = await withDb(
			async (db) =>
				(
					await db.query(
						`select l.status as lead, p.status as backlog, p.message_id from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.id = $1`,
						[held.lead_id],
					)
				).rows[0],
		);
		expect(state).toEqual({ lead: 'human_controlled', backlog: 'sent', message_id: 'wamid.X' });
		const rows = (await ledger(userId)).filter((row) => row.item_id === held.item_id);
		expect(rows.map((row) => [row.from_status, row.to_status, row.reason, row.detail])).toEqual([
			[null, 'queued', 'prepared', null],
			['queued', 'claimed', 'claimed', null],
			['claimed', 'sent', 'sent', { message_id: 'wamid.X' }],
		]);
		expect(await metrics(userId, TOMORROW, TOMORROW)).toEqual([
			expect.objectContaining({ day: TOMORROW, queued: 1, sent: 1, failed: 0, cancelled: 0, taken_over: 0 }),
		]);
		// Asked again, the lead is taken already and nothing is being sent.
		expect((await takeLead(held.lead_id, { now: LATER }))[0]).toMatchObject({ already_taken: true, cancelled: [], sending: [] });
	});

	it('during a send that then fails or is released: the messages are cancelled, not retried, with their backlog items', async () => {
		const { userId } = await preparedOwner(2);
		const items = await claim('worker-f', userId, `${TOMORROW}T13:00:00.000Z`);
		expect(items).toHaveLength(2);
		await beginSend('worker-f', items.map((item) => item.item_id), AT);
		for (const item of items) expect((await takeLead(item.lead_id, { now: LATER }))[0].sending).toHaveLength(1);

		// Released as Send releases a message it let go that did not go out (not_attempted): its mark
		// taken back first (queue_send_not_made); any other release of a begun message is refused, also
		// for a lead taken over (migrations 20261201002720, 20261201002770).
		await sendNotMade('worker-f', [items[1].item_id], LATER);
		const reports = await complete(
			'worker-f',
			[failed(items[0]), { item_id: items[1].item_id, outcome: 'released', error: { code: 'not_attempted', message: 'Not sent: the execution was cancelled' } }],
			LATER,
		);
		expect(reports.map((row) => [row.status, row.accepted, row.next_attempt_at])).toEqual([
			['cancelled', true, null],
			['cancelled', true, null],
		]);
		const day = await messages(userId);
		expect(day.map((row) => row.status)).toEqual(['cancelled', 'cancelled']);
		expect(day.find((row) => row.id === items[0].item_id)?.last_error).toMatchObject({ code: '131000' });
		const backlog = await withDb(async (db) => (await db.query('select status from public.lead_processing_queue where user_id = $1', [userId])).rows);
		expect(backlog).toEqual([{ status: 'cancelled' }, { status: 'cancelled' }]);
		const cancels = (await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue' && row.to_status === 'cancelled');
		expect(cancels.map((row) => [row.from_status, row.reason, row.worker])).toEqual([
			['claimed', 'human_takeover', 'worker-f'],
			['claimed', 'human_takeover', 'worker-f'],
		]);
		// Nothing comes back for them, even once every retry would be due.
		expect(await claim('worker-g', userId, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
	});

	// The take-over undone (the lead set back to new) while the message's send had begun: its backlog
	// item stays claimed, so the leads' trigger cannot re-queue it. When the message then dies, Complete
	// queues it again for the next Prepare (migration 20261201001510); sent, the lead is contacted.
	it('undone while a send had begun (the lead set back to new): a message that then dies puts the lead back in the backlog; one sent makes it contacted', async () => {
		const { userId } = await preparedOwner(2);
		const claimedAt = `${TOMORROW}T13:00:00.000Z`;
		const items = await claim('worker-u', userId, claimedAt);
		expect(items).toHaveLength(2);
		await beginSend('worker-u', items.map((item) => item.item_id), claimedAt);
		for (const item of items) expect((await takeLead(item.lead_id, { now: claimedAt }))[0].sending).toHaveLength(1);
		await withDb((db) => db.query(`update public.leads set status = 'new' where id = any ($1)`, [items.map((item) => item.lead_id)]));
		const state = () =>
			withDb(async (db) =>
				(
					await db.query<{ id: string; lead: string; backlog: string }>(
						`select l.id, l.status as lead, p.status as backlog from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.user_id = $1`,
						[userId],
					)
				).rows.reduce<Record<string, [string, string]>>((all, row) => ({ ...all, [row.id]: [row.lead, row.backlog] }), {}),
			);
		expect(await state()).toEqual({ [items[0].lead_id]: ['new', 'claimed'], [items[1].lead_id]: ['new', 'claimed'] });

		const reports = await complete(
			'worker-u',
			[failed(items[0], { code: '132001', message: 'Template name does not exist in the translation', permanent: true }), sent(items[1], 'wamid.U')],
			`${TOMORROW}T13:01:00.000Z`,
		);
		expect(reports.map((row) => [row.status, row.accepted])).toEqual([
			['dead', true],
			['sent', true],
		]);
		expect(await state()).toEqual({ [items[0].lead_id]: ['new', 'queued'], [items[1].lead_id]: ['contacted', 'sent'] });
		const requeued = (await ledger(userId)).filter((row) => row.queue === 'lead_processing_queue' && row.lead_id === items[0].lead_id).at(-1);
		expect(requeued).toMatchObject({ from_status: 'dead', to_status: 'queued', actor: 'automation', reason: 'message_dead' });
		const [next] = await rpc<Array<{ day: string; queued: number }>>('queue_prepare', { p_user_id: userId, p_now: `${TOMORROW}T18:00:00.000Z` });
		expect(next).toMatchObject({ day: '2026-11-27', queued: 1 });
	});

	it('while a send\'s failure is being recorded: the take-over waits for it, then cancels the failed message (never retried)', async () => {
		const { userId } = await preparedOwner(1);
		const [held] = await claim('worker-r', userId, AT);
		await beginSend('worker-r', [held.item_id], AT);
		const taken = await withDb(async (db) => {
			await db.query('begin');
			await db.query(`select * from public.queue_complete('worker-r', $1, $2)`, [JSON.stringify([failed(held)]), AT]);
			const take = takeLead(held.lead_id, { now: LATER });
			// The take-over waits for the Complete's lock on the lead (or, were it not to, it would
			// have finished by now, seeing the message still being sent).
			let done = false;
			void take.then(() => (done = true)).catch(() => (done = true));
			await withDb(async (watch) => {
				for (let waited = 0; waited < 3_000 && !done; waited += 20) {
					const waiting = await watch.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%queue_take_lead%'`);
					if (waiting.rowCount) return;
					await new Promise((resolve) => setTimeout(resolve, 20));
				}
			});
			await db.query('commit');
			return take;
		});
		expect((await messages(userId)).map((row) => row.status)).toEqual(['cancelled']);
		expect(taken[0]).toMatchObject({ status: 'human_controlled', already_taken: false, sending: [] });
		expect(await claim('worker-s', userId, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
	});

	it.each(['released', 'failed', 'sent'] as const)(
		'the owner\'s app taking a lead while a worker\'s Complete reports its claimed message %s (send not begun): neither waits for the other in a circle (no deadlock, 40P01), both are kept',
		async (outcome) => {
			// Complete locks the lead before the message (the order the leads' trigger takes them in):
			// it used to lock the message, then the lead (failed, released: its trigger,
			// 20261201001160; sent: the lead made contacted), while the app's update held the lead and
			// its trigger waited for the message.
			const { userId } = await preparedOwner(2);
			const REPORTED = `${TOMORROW}T13:01:00.000Z`;
			const items = (await claim('worker-d', userId, `${TOMORROW}T13:00:00.000Z`)).sort((a, b) => (a.item_id < b.item_id ? -1 : 1));
			expect(items).toHaveLength(2);
			const [mine, other] = items;
			const report = (item: { item_id: string }) => (outcome === 'failed' ? failed(item) : outcome === 'sent' ? sent(item) : { item_id: item.item_id, outcome });
			const waiting = (db: Client, pids: number[]) =>
				db.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and pid = any ($1)`, [pids]).then((r) => r.rows[0].n as number);
			const outcomes = await withDb((gate) =>
				withDb((worker) =>
					withDb(async (watch) => {
						// A take-over of the other lead holds its message (and lead) for a moment, so the
						// worker's Complete stops half-way, at that message: the real timing made repeatable.
						await gate.query('begin');
						await gate.query(`select * from public.queue_take_lead($1, null, null, $2, null)`, [other.lead_id, REPORTED]);
						const workerPid = (await worker.query('select pg_backend_pid() as pid')).rows[0].pid as number;
						const completing = worker
							.query(`select * from public.queue_complete('worker-d', $1, $2)`, [JSON.stringify([report(mine), report(other)]), REPORTED])
							.then((r) => ({ rows: r.rows, code: null as string | null }), (error: { code?: string }) => ({ rows: [], code: error.code ?? 'error' }));
						await until(async () => (await waiting(watch, [workerPid])) === 1);
						// The owner's app takes the worker's lead meanwhile.
						let appDone = false;
						const app = userClient(userId, { now: new Date(REPORTED) })
							.from('leads')
							.update({ status: 'human_controlled', taken_over_at: REPORTED })
							.eq('id', mine.lead_id)
							.then((r) => {
								appDone = true;
								return r.error;
							});
						await until(async () => {
							if (appDone) return true;
							const r = await watch.query(
								`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and pid <> $1 and query ilike '%update%leads%'`,
								[workerPid],
							);
							return r.rows[0].n === 1;
						});
						await gate.query('commit');
						return { complete: await completing, app: await app };
					}),
				),
			);
			expect(outcomes.app).toBeNull();
			expect(outcomes.complete.code).toBeNull();
			// Whichever went first, nothing waits to be sent to either lead; a sent report is kept if
			// it came first, refused (cancelled) if the take-over did.
			const [reportMine, reportOther] = outcomes.complete.rows as { item_id: string; status: string; accepted: boolean }[];
			expect(reportOther).toMatchObject({ item_id: other.item_id, status: 'cancelled', accepted: false });
			expect(reportMine.item_id).toBe(mine.item_id);
			const day = await messages(userId);
			expect(day.find((row) => row.id === other.item_id)?.status).toBe('cancelled');
			expect(day.find((row) => row.id === mine.item_id)?.status).toBe(outcome === 'sent' && reportMine.accepted ? 'sent' : 'cancelled');
			const leads = await withDb(async (db) => (await db.query('select status from public.leads where user_id = $1', [userId])).rows);
			expect(leads).toEqual([{ status: 'human_controlled' }, { status: 'human_controlled' }]);
			expect(await claim('worker-e', userId, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
		},
	);

	it('the owner\'s app and queue_take_lead taking the same lead at once: no deadlock (40P01), the lead taken once, its message cancelled once', async () => {
		// queue_take_lead locks the lead first, as the app's update (and its trigger after it) does.
		// It used to lock the lead's message, then its backlog item, then the lead: stopped at the
		// backlog item (held a moment by another writer), it held the message the app's trigger
		// waited for, while the app held the lead it waited for.
		const { userId, leadIds } = await preparedOwner(1);
		const outcome = await withDb((gate) =>
			withDb(async (watch) => {
				await gate.query('begin');
				await gate.query(`select 1 from public.lead_processing_queue where lead_id = $1 for no key update`, [leadIds[0]]);
				let takeDone = false;
				const take = takeLead(leadIds[0], { actorId: userId, now: AT }).then(
					(rows) => ((takeDone = true), { rows, code: null as string | null }),
					(error: { code?: string }) => ((takeDone = true), { rows: [], code: error.code ?? 'error' }),
				);
				await until(async () => takeDone || (await waitingFor(watch, '%queue_take_lead%')));
				let appDone = false;
				const app = userClient(userId, { now: new Date(AT) })
					.from('leads')
					.update({ status: 'human_controlled', taken_over_at: AT })
					.eq('id', leadIds[0])
					.then((r) => ((appDone = true), r.error));
				await until(async () => appDone || (await waitingFor(watch, '%update "public"."leads"%')));
				await gate.query('commit');
				return { take: await take, app: await app };
			}),
		);
		expect(outcome.app).toBeNull();
		expect(outcome.take.code).toBeNull();
		expect((await messages(userId)).map((row) => row.status)).toEqual(['cancelled']);
		const rows = await ledger(userId);
		expect(rows.filter((row) => row.to_status === 'cancelled' && row.queue === 'whatsapp_message_queue')).toHaveLength(1);
		expect(rows.filter((row) => row.to_status === 'human_controlled')).toHaveLength(1);
	});

	it('taking a lead twice is harmless: the second says already_taken and changes nothing', async () => {
		const { userId, leadIds } = await preparedOwner(2);
		await takeLead(leadIds[0], { now: AT });
		const before = await ledger(userId);
		const [again] = await takeLead(leadIds[0], { now: LATER, reason: 'clicked twice' });
		expect(again).toEqual({ lead_id: leadIds[0], user_id: userId, status: 'human_controlled', already_taken: true, cancelled: [], stopped_rules: 0, sending: [], status_kept: false, explanation: null });
		expect(await ledger(userId)).toEqual(before);
	});

	it('stops the lead\'s Messenger follow-ups: one stop for every rule, reason human_takeover, counted per rule that was running', async () => {
		const userId = await createOwner();
		const { conversationId, otherRule } = await withDb(async (db) => {
			const conversation = await db.query<{ id: string }>(
				`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '111', '222', 'Ana') returning id`,
				[userId],
			);
			const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Lead') returning id`, [userId]);
			const rules = await db.query<{ id: string }>(
				`insert into public.ai_automation_rules (user_id, name, include_tag_ids, instructions, page_id, enabled)
				 values ($1, 'All pages', $2, 'Be brief.', null, true), ($1, 'This page', $2, 'Be brief.', '111', true),
				        ($1, 'Another page', $2, 'Be brief.', '999', true), ($1, 'Off', $2, 'Be brief.', null, false)
				 returning id`,
				[userId, [tag.rows[0].id]],
			);
			// The person already answered rule 2 (stopped for that rule): it is not counted again.
			await db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, $3, 'replied')`, [
				userId,
				conversation.rows[0].id,
				rules.rows[1].id,
			]);
			return { conversationId: conversation.rows[0].id, otherRule: rules.rows[2].id };
		});
		const [lead] = await addLeads([{ user_id: userId, name: 'Ana', phone: phone(), conversation_id: conversationId }]);
		const [taken] = await takeLead(lead.lead_id, { reason: 'Sales took it', now: AT });
		expect(taken.stopped_rules).toBe(1); // "All pages": "This page" was stopped already, "Another page" never followed it, "Off" is off
		const stops = await withDb(async (db) =>
			(await db.query('select rule_id, reason, note from public.ai_automation_stops where conversation_id = $1 order by reason', [conversationId])).rows,
		);
		expect(stops).toEqual([
			{ rule_id: null, reason: 'human_takeover', note: 'Sales took it' },
			{ rule_id: expect.any(String), reason: 'replied', note: null },
		]);
		expect(otherRule).toEqual(expect.any(String));
		// Twice: the stop is there, nothing more.
		expect((await takeLead(lead.lead_id, { now: LATER }))[0].stopped_rules).toBe(0);
	});

	it('with the owner named (p_user_id), another owner\'s lead is not found; an unknown actor is refused', async () => {
		const { leadIds } = await preparedOwner(1);
		const stranger = await createOwner();
		const error = await failure(takeLead(leadIds[0], { userId: stranger }));
		expect(error.code).toBe('P0002');
		expect(error.message).toBe(`p_lead_id: lead ${leadIds[0]} does not exist for user ${stranger}`);
		const actor = await failure(takeLead(leadIds[0], { actorId: '00000000-0000-4000-8000-000000000001' }));
		expect(actor.code).toBe('22023');
		expect(actor.message).toMatch(/^p_actor_id: user 00000000-0000-4000-8000-000000000001 does not exist/);
		const lead = await withDb(async (db) => (await db.query('select status from public.leads where id = $1', [leadIds[0]])).rows[0]);
		expect(lead.status).toBe('queued');
	});

	// The node's rule (Take Lead, test/nodes/QueueLedger/take-lead.test.ts): text with line breaks, at
	// most 2,000 characters once trimmed. What an app's text box sends must never stop a take-over.
	it('takes the lead with a reason of several lines or of 600 characters, keeping it trimmed as the note', async () => {
		const { userId, leadIds } = await preparedOwner(2);
		const reasons = ['Customer called back.\r\nWants a quote by Friday.', 'x'.repeat(600)];
		for (const [index, reason] of reasons.entries()) {
			const [taken] = await takeLead(leadIds[index], { actorId: userId, reason: `  ${reason}\n`, now: AT });
			expect(taken).toMatchObject({ lead_id: leadIds[index], status: 'human_controlled', already_taken: false });
			const notes = (await ledger(userId)).filter((row) => row.lead_id === leadIds[index] && row.reason === 'human_takeover').map((row) => row.detail?.note);
			expect(notes).toEqual([reason, reason, reason]); // the lead, its backlog item and its message
		}
		expect((await messages(userId)).map((row) => row.status)).toEqual(['cancelled', 'cancelled']);
	});

	it('refuses a reason the node refuses, naming p_reason, before anything is written: over 2,000 characters, blank, a control character', async () => {
		const { userId, leadIds } = await preparedOwner(1);
		const before = await ledger(userId);
		for (const reason of ['x'.repeat(2001), ' \n ', 'bell\u0007']) {
			const error = await failure(takeLead(leadIds[0], { actorId: userId, reason, now: AT }));
			expect(error.code).toBe('22023');
			expect(error.message).toBe('p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null');
		}
		expect(await ledger(userId)).toEqual(before);
		expect((await messages(userId)).map((row) => row.status)).toEqual(['queued']);
	});

	it('the owner\'s app taking the lead directly (status human_controlled) cancels its queue items too: the rule holds whoever writes', async () => {
		const { userId, leadIds } = await preparedOwner(1);
		const { error } = await userClient(userId, { now: new Date(AT) })
			.from('leads')
			.update({ status: 'human_controlled', taken_over_at: AT })
			.eq('id', leadIds[0]);
		expect(error).toBeNull();
		expect((await messages(userId)).map((row) => row.status)).toEqual(['cancelled']);
		const cancel = (await ledger(userId)).find((row) => row.queue === 'whatsapp_message_queue' && row.to_status === 'cancelled');
		expect(cancel).toMatchObject({ actor: 'user', actor_id: userId, reason: 'human_takeover' });
		expect(await claim('worker-3', userId, `${TOMORROW}T16:00:00.000Z`)).toEqual([]);
	});
});
