// Migration 20261201002690 (review R1 of 20261201002630): a message whose send began is never given
// back, nor ended dead, by a report that cannot describe that send.
// - queue_begin_send answered a message this worker holds whose send began, asked again with another
//   phone, phone_mismatch (tested before already_sending), with its item id: Send released it and
//   Complete cleared the send's mark, so the next run sent it again (the lead got it twice). It now
//   answers already_sending first, whatever the phone.
// - queue_complete took a released phone_mismatch, and a failed invalid_message, for a message whose
//   send began: released (due again, sent twice) or dead (a delivered message, its lead new again).
//   Send gives either only before a send begins, so such a report is refused, reason
//   already_sending, nothing written, for a workflow and for a tool; the first Send's report is
//   recorded after it.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, ledger, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], phones: string[], now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now });
const completeAs = (asTool: boolean, worker: string, results: SendResult[], now: string) =>
	asTool ? rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true }) : complete(worker, results, now);
/** A message's send mark and lease, as the database holds them. */
const held = (itemId: string) =>
	withDb(async (db) =>
		(await db.query<{ status: string; lease_holder: string | null; send_started_at: Date | null; lease_expires_at: Date | null; last_error: unknown }>(
			'select status, lease_holder, send_started_at, lease_expires_at, last_error from public.whatsapp_message_queue where id = $1',
			[itemId],
		)).rows[0],
	);
const leadStatus = (leadId: string) => withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0]?.status);

const SOMEONE_ELSE = '+447700900123';

describe('queue_begin_send: a message whose send began is a repeat whatever the phone', () => {
	it('asked again with another phone, in a later call or later in the same call: already_sending (not phone_mismatch), nothing written', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-begun', userId, at('13:00'));
		expect((await beginSend('w-begun', [a.item_id], [a.phone], at('13:01'))).map((row) => [row.send, row.reason])).toEqual([[true, null]]);
		const before = await held(a.item_id);
		expect(before.send_started_at).not.toBeNull();
		// A later call (a second Send of it: an AI agent giving another phone).
		expect((await beginSend('w-begun', [a.item_id], [SOMEONE_ELSE], at('13:02'))).map((row) => [row.send, row.status, row.reason])).toEqual([
			[false, 'claimed', 'already_sending'],
		]);
		// The same call: the right phone first, then another.
		expect((await beginSend('w-begun', [b.item_id, b.item_id], [b.phone, SOMEONE_ELSE], at('13:03'))).map((row) => [row.send, row.reason])).toEqual([
			[true, null],
			[false, 'already_sending'],
		]);
		// A message whose send has not begun, with another phone: still phone_mismatch.
		const [c] = await claim('w-begun-2', (await preparedOwner(1)).userId, at('13:00'));
		expect((await beginSend('w-begun-2', [c.item_id], [SOMEONE_ELSE], at('13:04'))).map((row) => row.reason)).toEqual(['phone_mismatch']);
		expect(await held(a.item_id)).toEqual(before);
	});
});

describe('queue_complete: no report of a later Send undoes a send that began', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'a workflow'}: released phone_mismatch and failed invalid_message for a message whose send began are refused already_sending, nothing written; the first Send's sent is then recorded`, async () => {
			const { userId } = await preparedOwner(2);
			const [a, b] = await claim('w-twice', userId, at('14:00'));
			await beginSend('w-twice', [a.item_id, b.item_id], [a.phone, b.phone], at('14:01'));
			const entries = (await ledger(userId)).length;
			const rows = await completeAs(
				asTool,
				'w-twice',
				[
					{ item_id: a.item_id, outcome: 'released', message_id: null, error: { code: 'phone_mismatch', message: `Not sent: the phone "${SOMEONE_ELSE}" is not its lead's phone`, permanent: false } },
					{ item_id: b.item_id, outcome: 'failed', message_id: null, error: { code: 'invalid_message', message: 'The message is a text of 5000 characters; WhatsApp takes at most 4096', permanent: true } },
				],
				at('14:02'),
			);
			expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
				[a.item_id, false, 'claimed', 'already_sending'],
				[b.item_id, false, 'claimed', 'already_sending'],
			]);
			for (const item of [a, b]) expect(await held(item.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-twice', last_error: null, send_started_at: expect.any(Date) });
			expect((await ledger(userId)).length).toBe(entries);
			expect(await leadStatus(a.lead_id)).toBe('queued');
			expect(await leadStatus(b.lead_id)).toBe('queued');
			// The first Send's reports: recorded.
			expect((await completeAs(asTool, 'w-twice', [sent(a), sent(b)], at('14:03'))).map((row) => [row.accepted, row.status])).toEqual([
				[true, 'sent'],
				[true, 'sent'],
			]);
			expect(await leadStatus(a.lead_id)).toBe('contacted');
		});
	}
});
