// Claim and Complete (the seed's "Start Automation"): due messages handed out with a lease and what
// the sender needs; each outcome recorded only from the worker holding the message; a failure
// retried with backoff until max_attempts, then dead; a lease that ran out handed out again.
import type { ClaimedMessage, QueueCompleteResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, failed, ledger, messages, phone, prepare, preparedOwner, sent, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const addSeconds = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

/** Each lead of the owner: its status and its backlog item's, by lead id. */
const leadsAndBacklog = (userId: string) =>
	withDb(async (db) =>
		(
			await db.query<{ lead_id: string; lead: string; backlog: string }>(
				`select l.id as lead_id, l.status as lead, p.status as backlog
				   from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.user_id = $1`,
				[userId],
			)
		).rows.reduce<Record<string, { lead: string; backlog: string }>>((all, row) => ({ ...all, [row.lead_id]: { lead: row.lead, backlog: row.backlog } }), {}),
	);

describe('queue_claim', () => {
	it('hands out what is due, with the lead\'s name in the message (removed with its space when there is none) and a lease', async () => {
		const userId = await createOwner({ daily_capacity: 2, message: { type: 'text', text: 'Hi {{name}}, see you soon {{name}}!' } });
		await addLeads([
			{ user_id: userId, name: 'Zoë', phone: phone(), lead_score: 90 },
			{ user_id: userId, name: null, phone: phone(), lead_score: 10 },
		]);
		const [prepared] = await prepare(userId);
		expect(prepared.queued).toBe(2);
		// 09:00 the first is due, 13:00 the second.
		const [first, ...none] = await claim('w-a', userId, at('12:59'), 10, 120);
		expect(none).toEqual([]);
		expect(first).toMatchObject({ lead_name: 'Zoë', attempt: 1, message: { type: 'text', text: 'Hi Zoë, see you soon Zoë!' } });
		expect(first.lease_expires_at).toBe(at('13:01').replace('.000Z', '+00:00'));
		const [second] = await claim('w-a', userId, at('13:00'));
		expect(second).toMatchObject({ lead_name: null, message: { type: 'text', text: 'Hi, see you soon!' } });
		// Template messages pass as they are.
		const templated = await preparedOwner(1, { message: { type: 'template', name: 'first_contact', language: 'pt_BR' } });
		const [item] = await claim('w-a', templated.userId, at('09:00'));
		expect(item.message).toEqual({ type: 'template', name: 'first_contact', language: 'pt_BR' });
	});

	it('uses the stack\'s clock when no p_now is given (X-Leadflow-Now), never the real date', async () => {
		const { userId } = await preparedOwner(1);
		const early = await serviceClient({ now: new Date(at('08:59')) }).rpc('queue_claim', { p_worker: 'w-clock', p_user_id: userId });
		expect(early).toMatchObject({ error: null, data: [] });
		const due = await serviceClient({ now: new Date(at('09:00')) }).rpc('queue_claim', { p_worker: 'w-clock', p_user_id: userId });
		expect((due.data as ClaimedMessage[]).map((row) => row.lease_expires_at)).toEqual([at('09:05').replace('.000Z', '+00:00')]);
	});

	it('hands a message out again when its lease ran out (attempt + 1), and then only the new holder may complete it', async () => {
		const { userId } = await preparedOwner(1);
		const [first] = await claim('w-dies', userId, at('09:00'), 1, 60);
		expect(await claim('w-other', userId, addSeconds(at('09:00'), 59))).toEqual([]);
		const [again] = await claim('w-other', userId, at('09:01'));
		expect(again).toMatchObject({ item_id: first.item_id, attempt: 2 });
		expect(await complete('w-dies', [sent(first)], at('09:02'))).toEqual([
			{ item_index: 0, item_id: first.item_id, status: 'claimed', accepted: false, reason: 'not_held', next_attempt_at: null },
		]);
		expect((await complete('w-other', [sent(again)], at('09:02')))[0]).toMatchObject({ status: 'sent', accepted: true });
		const rows = (await ledger(userId)).filter((row) => row.item_id === first.item_id).map((row) => [row.to_status, row.worker, row.reason]);
		expect(rows).toEqual([
			['queued', null, 'prepared'],
			['claimed', 'w-dies', 'claimed'],
			['claimed', 'w-other', 'lease_expired'],
			['sent', 'w-other', 'sent'],
		]);
	});

	it('accepts the holder\'s report after its lease ran out as long as nobody claimed the message since (it was sent)', async () => {
		const { userId } = await preparedOwner(1);
		const [item] = await claim('w-slow', userId, at('09:00'), 1, 60);
		expect((await complete('w-slow', [sent(item)], at('09:30')))[0]).toMatchObject({ status: 'sent', accepted: true, reason: null });
	});
});

describe('queue_complete', () => {
	it('a failure is retried after the backoff, doubled each time, until max_attempts; then the message is dead and the lead new again (Meta\'s trouble, not the lead\'s)', async () => {
		const { userId, leadIds } = await preparedOwner(1, { max_attempts: 3, retry_backoff_seconds: 600 });
		let now = at('09:00');
		const reports: QueueCompleteResult[] = [];
		for (let attempt = 1; attempt <= 3; attempt++) {
			const [item] = await claim('w-retry', userId, now);
			expect(item).toMatchObject({ attempt });
			const [report] = await complete('w-retry', [failed(item, { code: '131000', message: `attempt ${attempt} failed` })], now);
			reports.push(report);
			if (report.next_attempt_at) {
				// Not a second before its time.
				expect(await claim('w-retry', userId, addSeconds(report.next_attempt_at, -1))).toEqual([]);
				now = new Date(report.next_attempt_at).toISOString();
			}
		}
		expect(reports.map((report) => [report.status, report.next_attempt_at && (Date.parse(report.next_attempt_at) - Date.parse(at('09:00'))) / 60_000])).toEqual([
			['failed', 10], // + 600 s
			['failed', 30], // + 1,200 s after the second claim at 09:10
			['dead', null],
		]);
		const [message] = await messages(userId);
		expect(message).toMatchObject({ status: 'dead', attempts: 3, last_error: { code: '131000', message: 'attempt 3 failed' } });
		const lead = (await ledger(userId)).filter((row) => row.queue === 'leads').at(-1);
		expect(lead).toMatchObject({ item_id: leadIds[0], from_status: 'queued', to_status: 'new', reason: 'message_dead' });
		expect(await claim('w-retry', userId, at('16:00'))).toEqual([]);
	});

	// Only the recipient's fault makes a lead invalid (docs/whatsapp.md): 131026. The owner's setup
	// errors (a template, the 24-hour window) put the lead back for the next Prepare; a send that may
	// have gone out (uncertain) is never sent again by itself, and the lead is not invalid either.
	it('a dead message: 131026 makes the lead invalid; a template error (132001) puts it back for the next Prepare; an uncertain send keeps it queued, never re-sent', async () => {
		const { userId } = await preparedOwner(3, { max_attempts: 5 });
		const [a, b, c] = await claim('w-dead', userId, at('16:00'));
		const reports = await complete(
			'w-dead',
			[
				failed(a, { code: '131026', message: 'Message undeliverable', permanent: true }),
				failed(b, { code: '132001', message: 'Template name does not exist in the translation', permanent: true }),
				failed(c, { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true }),
			],
			at('16:00'),
		);
		expect(reports.map((report) => [report.status, report.accepted])).toEqual([
			['dead', true],
			['dead', true],
			['dead', true],
		]);
		const state = () => leadsAndBacklog(userId);
		expect(await state()).toEqual({
			[a.lead_id]: { lead: 'invalid', backlog: 'dead' },
			[b.lead_id]: { lead: 'new', backlog: 'queued' },
			[c.lead_id]: { lead: 'queued', backlog: 'dead' },
		});
		// Why each message died, in its row and its ledger row.
		const dead = new Map((await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue' && row.to_status === 'dead').map((row) => [row.item_id, row.detail?.code]));
		expect([a, b, c].map((item) => dead.get(item.item_id))).toEqual(['131026', '132001', 'uncertain']);
		const leadRows = (await ledger(userId)).filter((row) => row.queue === 'leads' && row.reason === 'message_dead').map((row) => [row.item_id, row.from_status, row.to_status]);
		expect(leadRows).toEqual(expect.arrayContaining([
			[a.lead_id, 'queued', 'invalid'],
			[b.lead_id, 'queued', 'new'],
		]));
		expect(leadRows).toHaveLength(2);

		// The owner fixes the template; the next Prepare (for Friday) takes the template's lead only.
		const [next] = await prepare(userId, at('18:00'));
		expect(next).toMatchObject({ day: '2026-11-27', queued: 1 }); // the others are not in the backlog any more
		const friday = await claim('w-dead', userId, at('16:00', '2026-11-27'));
		expect(friday.map((item) => item.lead_id)).toEqual([b.lead_id]);
		expect(await state()).toMatchObject({ [b.lead_id]: { lead: 'queued', backlog: 'claimed' }, [c.lead_id]: { lead: 'queued', backlog: 'dead' } });
		// The uncertain one's message is never handed out again.
		expect((await messages(userId)).filter((row) => row.lead_id === c.lead_id).map((row) => row.status)).toEqual(['dead']);
	});

	// docs/database.md: `new` means the lead has a queued backlog item. A lead set back to new while
	// its message waits for a retry keeps its backlog item claimed (the leads' trigger re-queues
	// only a finished one); when that message then dies, Complete queues the item again, as it does
	// for a queued lead it puts back to new (migration 20261201001510). Not after an uncertain send:
	// that lead is made queued, its backlog item dead (migration 20261201002930; before, it stayed new
	// with its backlog item dead, which nothing ever queued again).
	it('a lead set back to new while its message waits for a retry: when the message dies, its backlog item is queued again for the next Prepare (not after an uncertain send: the lead is made queued)', async () => {
		const { userId } = await preparedOwner(3, { max_attempts: 2, retry_backoff_seconds: 60 });
		const [a, b, c] = await claim('w-renew', userId, at('16:00'));
		expect((await complete('w-renew', [failed(a), failed(b), failed(c)], at('16:00'))).map((report) => report.status)).toEqual(['failed', 'failed', 'failed']);
		// The owner sets a and b back to new while their messages wait; c stays queued (the plain path).
		await withDb((db) => db.query(`update public.leads set status = 'new' where id = any ($1)`, [[a.lead_id, b.lead_id]]));
		const state = () => leadsAndBacklog(userId);
		expect(await state()).toEqual({
			[a.lead_id]: { lead: 'new', backlog: 'claimed' },
			[b.lead_id]: { lead: 'new', backlog: 'claimed' },
			[c.lead_id]: { lead: 'queued', backlog: 'claimed' },
		});

		// The retries (attempt 2 of 2) die: a and c of Meta's trouble, b of an uncertain send.
		const retried = await claim('w-renew', userId, at('16:05'));
		expect(retried.map((item) => item.attempt)).toEqual([2, 2, 2]);
		const uncertain = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };
		const reports = await complete('w-renew', [failed(a), failed(b, uncertain), failed(c)], at('16:05'));
		expect(reports.map((report) => [report.status, report.accepted])).toEqual([
			['dead', true],
			['dead', true],
			['dead', true],
		]);
		expect(await state()).toEqual({
			[a.lead_id]: { lead: 'new', backlog: 'queued' },
			[b.lead_id]: { lead: 'queued', backlog: 'dead' },
			[c.lead_id]: { lead: 'new', backlog: 'queued' },
		});
		// Every change has its ledger row: a's backlog item moves as c's does (dead, then queued again
		// by the automation, reason message_dead), and a's lead has no new row (it was new already).
		const rows = await ledger(userId);
		const backlogRows = (leadId: string) =>
			rows.filter((row) => row.queue === 'lead_processing_queue' && row.lead_id === leadId).map((row) => [row.from_status, row.to_status, row.actor, row.reason]);
		expect(backlogRows(a.lead_id)).toEqual(backlogRows(c.lead_id));
		expect(backlogRows(a.lead_id).slice(-2)).toEqual([
			['claimed', 'dead', 'automation', 'max_attempts'],
			['dead', 'queued', 'automation', 'message_dead'],
		]);
		// b's backlog item dies of its message's cause, the uncertain send (permanent_error, as the
		// message's row), not max_attempts (migration 20261201002430_queue_backlog_dead_carries_cause.sql).
		expect(backlogRows(b.lead_id).at(-1)).toEqual(['claimed', 'dead', 'automation', 'permanent_error']);
		expect(rows.filter((row) => row.queue === 'leads' && row.reason === 'message_dead').map((row) => [row.item_id, row.from_status, row.to_status])).toEqual([
			[c.lead_id, 'queued', 'new'],
			[b.lead_id, 'new', 'queued'],
		]);

		// The next Prepare (for Friday) queues a and c; b's message may have been delivered: never sent again by itself.
		const [next] = await prepare(userId, at('18:00'));
		expect(next).toMatchObject({ day: '2026-11-27', queued: 2 });
		const friday = await claim('w-renew', userId, at('16:00', '2026-11-27'));
		expect(friday.map((item) => item.lead_id).sort()).toEqual([a.lead_id, c.lead_id].sort());
	});

	it('a permanent error is dead at once; retry_after_seconds postpones beyond the backoff; a released message is queued again without an attempt', async () => {
		const { userId } = await preparedOwner(3, { max_attempts: 5, retry_backoff_seconds: 60 });
		const [a, b, c] = await claim('w-kinds', userId, at('16:00'));
		const reports = await complete(
			'w-kinds',
			[
				{ item_id: a.item_id, outcome: 'failed', error: { code: '131026', message: 'Message undeliverable', permanent: true } },
				{ item_id: b.item_id, outcome: 'failed', error: { code: '130429', message: 'Rate limit hit', retry_after_seconds: 900 } },
				{ item_id: c.item_id, outcome: 'released' },
			],
			at('16:00'),
		);
		expect(reports.map((report) => [report.status, report.next_attempt_at])).toEqual([
			['dead', null],
			['failed', at('16:15').replace('.000Z', '+00:00')],
			['queued', null],
		]);
		const byId = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(byId.get(c.item_id)).toMatchObject({ attempts: 0, lease_holder: null });
		const [reclaimed] = await claim('w-kinds', userId, at('16:01'));
		expect(reclaimed).toMatchObject({ item_id: c.item_id, attempt: 1 });
		const reasons = new Map((await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue' && row.from_status === 'claimed').map((row) => [row.item_id, row.reason]));
		expect([a, b, c].map((item) => reasons.get(item.item_id))).toEqual(['permanent_error', 'send_failed', 'released']);
	});

	it('the same batch reported again (Record Outcomes retried after its answer was lost): the first answer again, nothing recorded the second time', async () => {
		const { userId } = await preparedOwner(4, { max_attempts: 5 });
		const items = await claim('w-retried', userId, at('16:00'));
		const batch = [
			sent(items[0]),
			failed(items[1]),
			failed(items[2], { code: '131026', message: 'Message undeliverable', permanent: true }),
			{ item_id: items[3].item_id, outcome: 'released' as const },
		];
		expect((await complete('w-retried', batch, at('16:00'))).map((row) => [row.status, row.accepted])).toEqual([
			['sent', true],
			['failed', true],
			['dead', true],
			['queued', true],
		]);
		const rows = await messages(userId);
		const before = await ledger(userId);
		expect((await complete('w-retried', batch, at('16:00'))).map((row) => [row.status, row.accepted, row.reason])).toEqual([
			['sent', true, null],
			['failed', true, null],
			['dead', true, null],
			['queued', true, null],
		]);
		expect(await messages(userId)).toEqual(rows);
		expect(await ledger(userId)).toEqual(before);
	});

	it('answers every report: not_found, not_held, already_completed (a report sent twice), and records nothing for them', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-answers', userId, at('16:00'));
		await complete('w-answers', [sent(a, 'wamid.first')], at('16:00'));
		const before = await ledger(userId);
		const unknown = '00000000-0000-4000-8000-00000000000f';
		expect(
			await complete('w-answers', [sent(a, 'wamid.second'), { item_id: unknown, outcome: 'sent', message_id: 'wamid.x' }, sent(b)], at('16:01')).then((rows) =>
				rows.map((row) => [row.item_id, row.status, row.accepted, row.reason]),
			),
		).toEqual([
			[a.item_id, 'sent', false, 'already_completed'],
			[unknown, null, false, 'not_found'],
			[b.item_id, 'sent', true, null],
		]);
		expect((await complete('w-intruder', [failed(b)], at('16:02')))[0]).toMatchObject({ accepted: false, reason: 'already_completed', status: 'sent' });
		const after = await ledger(userId);
		expect(after.slice(before.length).map((row) => [row.queue, row.to_status])).toEqual([
			['whatsapp_message_queue', 'sent'],
			['lead_processing_queue', 'sent'],
			['leads', 'contacted'],
		]);
		expect((await messages(userId)).find((row) => row.id === a.item_id)?.message_id).toBe('wamid.first');
	});
});
