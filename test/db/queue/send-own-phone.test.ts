// Review X (migration 20261201002530): a queued message goes only to its lead's phone, and a sent or
// failed report can be held to messages whose send began.
// - queue_begin_send takes the phone Send is about to use with each item id (p_phones): a message
//   this worker holds whose phone is not the one given is refused, phone_mismatch, its lease not
//   renewed and its send not begun, so nothing can go to a number that is not its lead's (Send as an
//   AI agent's tool sent a lead's message to a phone a model gave; a workflow's Phone reading a wrong
//   field did the same).
// - queue_complete with p_send_begun_only (Complete as an AI agent's tool) refuses sent or failed for
//   a message whose send never began (send_not_begun), nothing written; released is taken. Without
//   it (a workflow) sent is recorded as before, send begun or not.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, failure, messages, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], phones: string[] | null, now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now });
const completeBegunOnly = (worker: string, results: SendResult[], now: string) =>
	rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true });
const leadStatuses = (userId: string) =>
	withDb(async (db) => new Map((await db.query<{ id: string; status: string }>('select id, status from public.leads where user_id = $1', [userId])).rows.map((row) => [row.id, row.status])));
const sendStarted = (userId: string) =>
	withDb(
		async (db) =>
			new Map(
				(await db.query<{ id: string; send_started_at: Date | null }>('select id, send_started_at from public.whatsapp_message_queue where user_id = $1', [userId])).rows.map((row) => [
					row.id,
					row.send_started_at?.toISOString() ?? null,
				]),
			),
	);

const SOMEONE_ELSE = '+447700900123';

describe('queue_begin_send: the phone each message goes to', () => {
	it('refuses a held message whose phone given is not its own (phone_mismatch): not renewed, its send not begun; with its own phone it goes', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-phone', userId, at('13:00'));
		const rows = await beginSend('w-phone', [a.item_id, b.item_id], [a.phone, SOMEONE_ELSE], at('13:01'));
		expect(rows).toEqual([
			{ item_id: a.item_id, send: true, status: 'claimed', reason: null, lease_expires_at: at('13:06').replace('.000Z', '+00:00') },
			{ item_id: b.item_id, send: false, status: 'claimed', reason: 'phone_mismatch', lease_expires_at: null },
		]);
		// b still held by the worker, untouched: its lease as the claim set it, no send begun.
		const held = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(held.get(b.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-phone' });
		expect((await sendStarted(userId)).get(b.item_id)).toBeNull();
		expect((await sendStarted(userId)).get(a.item_id)).toBe(at('13:01'));
		// Another lead's phone is no better than a stranger's: b to a's number is refused too.
		expect((await beginSend('w-phone', [b.item_id], [a.phone], at('13:02'))).map((row) => [row.send, row.reason])).toEqual([[false, 'phone_mismatch']]);
		// Its own phone: it goes.
		expect((await beginSend('w-phone', [b.item_id], [b.phone], at('13:03'))).map((row) => [row.send, row.reason])).toEqual([[true, null]]);
	});

	it('the same message asked twice, with its phone and with another: only the pair with its own phone may send; the other is already_sending (its send began in this call)', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-twice', userId, at('13:00'));
		const rows = await beginSend('w-twice', [a.item_id, a.item_id], [SOMEONE_ELSE, a.phone], at('13:01'));
		// Since 20261201002690 a message whose send began is already_sending whatever the phone (before:
		// phone_mismatch, which Send released with the item id beside the send's own report).
		expect(rows.map((row) => [row.item_id, row.send, row.reason])).toEqual([
			[a.item_id, false, 'already_sending'],
			[a.item_id, true, null],
		]);
	});

	it('a message another worker holds is not_held whatever the phone given', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-holder', userId, at('13:00'));
		expect((await beginSend('w-other', [a.item_id], [SOMEONE_ELSE], at('13:01'))).map((row) => [row.send, row.reason])).toEqual([[false, 'not_held']]);
	});

	it('refuses p_phones missing, of another length or with a null, naming it; nothing written', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-args', userId, at('13:00'));
		for (const phones of [null, [], [a.phone, a.phone], [null]] as Array<string[] | null>) {
			expect(await failure(beginSend('w-args', [a.item_id], phones, at('13:01')))).toMatchObject({
				code: '22023',
				message: expect.stringMatching(/^p_phones: required, the phone each message is about to be sent to/),
			});
		}
		expect((await sendStarted(userId)).get(a.item_id)).toBeNull();
	});
});

describe('queue_complete with p_send_begun_only', () => {
	it('refuses sent or failed for a message whose send never began (send_not_begun), nothing written; takes one whose send began, and released', async () => {
		const { userId } = await preparedOwner(3);
		const [begun, madeUp, madeUpFailure] = await claim('w-tool', userId, at('16:00'));
		expect((await beginSend('w-tool', [begun.item_id], [begun.phone], at('16:01')))[0].send).toBe(true);
		const before = await leadStatuses(userId);
		const rows = await completeBegunOnly(
			'w-tool',
			[
				sent(begun),
				sent(madeUp, 'wamid.made-up-by-the-model'),
				failed(madeUpFailure, { code: '131026', message: 'Message undeliverable', permanent: true }),
			],
			at('16:02'),
		);
		expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
			[begun.item_id, true, 'sent', null],
			[madeUp.item_id, false, 'claimed', 'send_not_begun'],
			[madeUpFailure.item_id, false, 'claimed', 'send_not_begun'],
		]);
		const after = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(after.get(madeUp.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-tool', message_id: null });
		expect(after.get(madeUpFailure.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-tool', last_error: null });
		// The leads of the refused reports as they were: not contacted, not invalid.
		const leads = await leadStatuses(userId);
		expect(leads.get(madeUp.lead_id)).toBe(before.get(madeUp.lead_id));
		expect(leads.get(madeUpFailure.lead_id)).toBe(before.get(madeUpFailure.lead_id));
		expect(leads.get(begun.lead_id)).toBe('contacted');
		// Released, given back untried, is taken.
		expect((await completeBegunOnly('w-tool', [{ item_id: madeUp.item_id, outcome: 'released' }], at('16:03'))).map((row) => [row.accepted, row.status])).toEqual([[true, 'queued']]);
	});

	it('without it (a workflow) a sent report of a message whose send never began is recorded, as before', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-flow', userId, at('13:00'));
		expect((await complete('w-flow', [sent(a)], at('13:01'))).map((row) => [row.accepted, row.status])).toEqual([[true, 'sent']]);
		expect((await rpc<QueueCompleteResult[]>('queue_complete', { p_worker: 'w-flow', p_results: [sent(a)], p_now: at('13:02'), p_send_begun_only: false })).map((row) => row.accepted)).toEqual([true]);
	});
});
