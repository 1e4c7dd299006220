// queue_begin_send, asked by Send just before each group of messages goes out: the messages the
// worker still holds get their lease renewed (also one that ran out while nobody claimed it since;
// one whose send it began already only through p_renew_item_ids: Send renews the earlier groups'
// with each group, and never lets one go twice, test/db/queue/begin-send-once.test.ts);
// one another worker claimed after the lease ran out, one whose lead was taken over, one already
// completed or unknown are refused with the reason, and nothing is written for them. A message it
// let go may have been delivered: if its run never reports, Claim never hands it out again but ends
// it dead, uncertain, once its lease ran out (one never let go is handed out again, as before).
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, failure, ledger, messages, phonesOf, preparedOwner, rpc, sendNotMade, sent, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string, leaseSeconds = 300, renewIds: string[] = []) =>
	phonesOf(ids).then((phones) =>
		rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_renew_item_ids: renewIds, p_lease_seconds: leaseSeconds, p_now: now }),
	);

describe('queue_begin_send', () => {
	// A message released (not sent: the batch stopped after its group's begin_send, a refused token)
	// is queued again, untried: its send never began, so nothing may read it as being sent. Before
	// migration 20261201002240 it kept the send_started_at begin_send gave it until the next claim.
	it('a message released after its group\'s begin_send is queued with no send_started_at; one failed keeps the instant its send began', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-a', userId, at('13:00'));
		expect((await beginSend('w-a', [a.item_id, b.item_id], at('13:01'))).map((row) => row.send)).toEqual([true, true]);
		// Send takes the mark of the one it did not send back first (migration 20261201002770).
		expect(await sendNotMade('w-a', [b.item_id], at('13:02'))).toEqual([{ item_id: b.item_id }]);
		const answers = await complete(
			'w-a',
			[failed(a), { item_id: b.item_id, outcome: 'released', error: { code: 'not_attempted', message: 'Not sent: the WhatsApp access token was refused earlier in the batch' } }],
			at('13:02'),
		);
		expect(answers.map((row) => [row.accepted, row.status])).toEqual([
			[true, 'failed'],
			[true, 'queued'],
		]);
		const started = await withDb(
			async (db) => (await db.query<{ id: string; send_started_at: Date | null }>('select id, send_started_at from public.whatsapp_message_queue where user_id = $1', [userId])).rows,
		);
		expect(new Map(started.map((row) => [row.id, row.send_started_at?.toISOString() ?? null]))).toEqual(
			new Map([
				[a.item_id, at('13:01')],
				[b.item_id, null],
			]),
		);
	});

	it('renews the lease of the messages the worker holds, even one whose lease ran out while nobody claimed it; no ledger row', async () => {
		const { userId } = await preparedOwner(2);
		const held = await claim('w-a', userId, at('13:00'), 10, 60);
		expect(held).toHaveLength(2);
		const before = (await ledger(userId)).length;
		// 13:05: both leases ran out a few minutes ago, nobody took them.
		const rows = await beginSend('w-a', held.map((item) => item.item_id), at('13:05'), 120);
		expect(rows).toEqual(held.map((item) => ({ item_id: item.item_id, send: true, status: 'claimed', reason: null, lease_expires_at: at('13:07').replace('.000Z', '+00:00') })));
		// Held again until 13:07: another claim at 13:06 finds nothing.
		expect(await claim('w-b', userId, at('13:06'))).toEqual([]);
		expect((await messages(userId)).map((row) => [row.status, row.lease_holder, row.attempts])).toEqual([
			['claimed', 'w-a', 1],
			['claimed', 'w-a', 1],
		]);
		expect(await ledger(userId)).toHaveLength(before);
	});

	it('renews again a message the worker holds whose send it began, given in p_renew_item_ids (Send renews the earlier groups with each group): the lease moves, the send\'s start stays, no row answered, no ledger row', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-a', userId, at('13:00'));
		expect((await beginSend('w-a', [a.item_id], at('13:01')))[0]).toMatchObject({ send: true });
		const before = (await ledger(userId)).length;
		// 13:04: the next group (b) goes, a renewed with it (answered for b only).
		expect(await beginSend('w-a', [b.item_id], at('13:04'), 300, [a.item_id])).toEqual([{ item_id: b.item_id, send: true, status: 'claimed', reason: null, lease_expires_at: at('13:09').replace('.000Z', '+00:00') }]);
		expect(new Map((await messages(userId)).map((row) => [row.id, new Date(row.lease_expires_at!).toISOString()]))).toEqual(new Map([[a.item_id, at('13:09')], [b.item_id, at('13:09')]]));
		const started = await withDb(async (db) => (await db.query<{ id: string; send_started_at: Date }>('select id, send_started_at from public.whatsapp_message_queue where user_id = $1', [userId])).rows);
		expect(new Map(started.map((row) => [row.id, row.send_started_at.toISOString()]))).toEqual(new Map([[a.item_id, at('13:01')], [b.item_id, at('13:04')]]));
		expect(await ledger(userId)).toHaveLength(before);
		// 13:07: a's first lease (13:06) is over, but it is held until 13:09: another claim ends nothing.
		expect(await claim('w-b', userId, at('13:07'))).toEqual([]);
		expect((await messages(userId)).map((row) => [row.status, row.lease_holder])).toEqual([
			['claimed', 'w-a'],
			['claimed', 'w-a'],
		]);
		expect((await complete('w-a', [sent(a), sent(b)], at('13:08'))).map((row) => [row.accepted, row.status])).toEqual([
			[true, 'sent'],
			[true, 'sent'],
		]);
	});

	it('refuses a message another worker claimed after the lease ran out: the first worker never sends it', async () => {
		const { userId } = await preparedOwner(1);
		const [first] = await claim('w-slow', userId, at('09:00'), 1, 300);
		const [again] = await claim('w-next', userId, at('09:06'));
		expect(again).toMatchObject({ item_id: first.item_id, attempt: 2 });
		expect(await beginSend('w-slow', [first.item_id], at('09:07'))).toEqual([
			{ item_id: first.item_id, send: false, status: 'claimed', reason: 'not_held', lease_expires_at: null },
		]);
		expect((await beginSend('w-next', [again.item_id], at('09:07')))[0]).toMatchObject({ send: true });
		expect((await messages(userId)).map((row) => row.lease_holder)).toEqual(['w-next']);
	});

	it('refuses a message whose lead was taken over after the claim, one already completed and one unknown, in the order asked', async () => {
		const { userId, leadIds } = await preparedOwner(2);
		const items = await claim('w-a', userId, at('13:00'));
		const byLead = new Map(items.map((item) => [item.lead_id, item]));
		const taken = byLead.get(leadIds[0])!;
		const done = byLead.get(leadIds[1])!;
		await takeLead(taken.lead_id, { now: at('13:01') });
		expect((await complete('w-a', [sent(done)], at('13:01')))[0]).toMatchObject({ accepted: true });
		const unknown = '00000000-0000-4000-8000-00000000beef';
		expect(await beginSend('w-a', [taken.item_id, done.item_id, unknown], at('13:02'))).toEqual([
			{ item_id: taken.item_id, send: false, status: 'cancelled', reason: 'cancelled', lease_expires_at: null },
			{ item_id: done.item_id, send: false, status: 'sent', reason: 'already_completed', lease_expires_at: null },
			{ item_id: unknown, send: false, status: 'not_found', reason: 'not_found', lease_expires_at: null },
		]);
	});

	it('a message it let go is never handed out again: once its lease ran out, Claim ends it dead, uncertain, with its ledger row; one never let go is handed out again', async () => {
		const { userId } = await preparedOwner(3, { max_attempts: 5, retry_backoff_seconds: 60 });
		// 09:00, 11:40 and 14:20 are due; w-dies holds them until 15:05.
		const [a, b, c] = await claim('w-dies', userId, at('15:00'));
		// Send lets a and c go (a reaches Meta; c's connection is refused: failed, due again at 15:02);
		// then the run dies before recording a. b was never let go.
		expect((await beginSend('w-dies', [a.item_id, c.item_id], at('15:01'))).map((row) => row.send)).toEqual([true, true]);
		expect((await complete('w-dies', [failed(c, { code: 'not_sent', message: 'connection refused' })], at('15:01')))[0]).toMatchObject({ status: 'failed', accepted: true });

		// 15:07: a's lease (15:06) ran out after its send began: never handed out again. b (never let
		// go) and c (failed, its retry due) are handed out, attempt 2.
		const next = await claim('w-next', userId, at('15:07'));
		expect(next.map((item) => [item.item_id, item.attempt])).toEqual([
			[b.item_id, 2],
			[c.item_id, 2],
		]);
		const rowA = (await messages(userId)).find((row) => row.id === a.item_id)!;
		expect(rowA).toMatchObject({ status: 'dead', lease_holder: 'w-dies', lease_expires_at: null, completed_at: new Date(at('15:07')), message_id: null });
		expect(rowA.last_error).toEqual({
			code: 'uncertain',
			permanent: true,
			message: `No outcome recorded: the run of worker w-dies began sending it at ${TOMORROW}T15:01:00Z and its lease ran out without a report; it may have been delivered, so it is not sent again`,
		});
		// Its last ledger rows: the message and its backlog item, with the run's worker and why.
		const history = (await ledger(userId)).filter((row) => row.lead_id === a.lead_id && row.queue !== 'leads');
		expect(history.slice(-3).map((row) => [row.queue, row.from_status, row.to_status, row.worker, row.actor, row.reason])).toEqual([
			['whatsapp_message_queue', 'queued', 'claimed', 'w-dies', 'automation', 'claimed'],
			['whatsapp_message_queue', 'claimed', 'dead', 'w-dies', 'automation', 'send_uncertain'],
			['lead_processing_queue', 'claimed', 'dead', 'queue_prepare', 'automation', 'send_uncertain'],
		]);
		expect(history.at(-2)).toMatchObject({ at: new Date(at('15:07')), detail: { code: 'uncertain', permanent: true } });
		// The lead stays queued (Prepare never takes it; the owner decides), its backlog item dead.
		const state = await withDb(async (db) =>
			(await db.query<{ lead: string; backlog: string }>('select l.status as lead, p.status as backlog from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.id = $1', [a.lead_id])).rows,
		);
		expect(state).toEqual([{ lead: 'queued', backlog: 'dead' }]);
		// The dead run's report, arriving now, is refused: the message is the owner's to judge.
		expect((await complete('w-dies', [sent(a)], at('15:08')))[0]).toMatchObject({ accepted: false, reason: 'already_completed', status: 'dead' });

		// w-next dies before letting b or c go (c's earlier send attempt does not count: each claim
		// starts afresh): both are handed out again once its lease ran out; a never.
		expect((await claim('w-third', userId, at('15:13'))).map((item) => [item.item_id, item.attempt])).toEqual([
			[b.item_id, 3],
			[c.item_id, 3],
		]);
		expect((await messages(userId)).map((row) => [row.id, row.status])).toEqual([
			[a.item_id, 'dead'],
			[b.item_id, 'claimed'],
			[c.item_id, 'claimed'],
		]);
	});

	it('Claim ends such a message whatever the owner\'s sending hours: after they close it is not left claimed', async () => {
		const { userId } = await preparedOwner(1);
		const [item] = await claim('w-late', userId, at('16:58'));
		expect((await beginSend('w-late', [item.item_id], at('16:58')))[0]).toMatchObject({ send: true });
		// 17:10: the hours (until 17:00) are closed and the lease (17:03) ran out.
		expect(await claim('w-evening', userId, at('17:10'))).toEqual([]);
		expect((await messages(userId)).map((row) => [row.status, row.last_error?.code, row.completed_at])).toEqual([['dead', 'uncertain', new Date(at('17:10'))]]);
	});

	it('refuses bad arguments naming them', async () => {
		expect(await failure(beginSend('', [], at('09:00')))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_worker:/) });
		expect(await failure(beginSend('w', [], at('09:00'), 1))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_lease_seconds:/) });
		const tooMany = Array.from({ length: 1001 }, () => '00000000-0000-4000-8000-000000000001');
		expect(await failure(beginSend('w', tooMany, at('09:00')))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_item_ids:/) });
	});
});
