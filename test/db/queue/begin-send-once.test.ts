// Review S6 (migration 20261201002600): queue_begin_send lets a claimed message go once. Before it,
// every occurrence of an id in one call answered send true, and so did a message whose send had
// already begun (the call renewed the earlier groups' leases and could not tell a renewal from a new
// send): Claim merged with itself, a retried node or an AI agent calling Send twice sent one lead two
// messages. Now a message goes only if its send has not begun, and only its first occurrence in the
// call; the others are refused, already_sending, nothing written. Renewals have their own argument
// (p_renew_item_ids: leases only, never send true, no row answered).
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, ledger, messages, phonesOf, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const lease = (time: string) => at(time).replace('.000Z', '+00:00');
const beginSend = (worker: string, ids: string[], now: string, renewIds: string[] = []) =>
	phonesOf(ids).then((phones) =>
		rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_renew_item_ids: renewIds, p_lease_seconds: 300, p_now: now }),
	);
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

describe('queue_begin_send lets a message go once', () => {
	it('every item listed twice in one call: only the first occurrence of each goes, the repeats are already_sending', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-dup', userId, at('13:00'));
		expect(await beginSend('w-dup', [a.item_id, b.item_id, a.item_id, b.item_id], at('13:01'))).toEqual([
			{ item_id: a.item_id, send: true, status: 'claimed', reason: null, lease_expires_at: lease('13:06') },
			{ item_id: b.item_id, send: true, status: 'claimed', reason: null, lease_expires_at: lease('13:06') },
			{ item_id: a.item_id, send: false, status: 'claimed', reason: 'already_sending', lease_expires_at: null },
			{ item_id: b.item_id, send: false, status: 'claimed', reason: 'already_sending', lease_expires_at: null },
		]);
		expect(await sendStarted(userId)).toEqual(new Map([[a.item_id, at('13:01')], [b.item_id, at('13:01')]]));
	});

	it('a message whose send began (an earlier call: the next group, a second tool call) is refused, already_sending: nothing written, its lease and send start unchanged', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-again', userId, at('13:00'));
		expect((await beginSend('w-again', [a.item_id], at('13:01')))[0]).toMatchObject({ send: true });
		const before = { rows: await messages(userId), ledger: (await ledger(userId)).length };
		expect(await beginSend('w-again', [a.item_id], at('13:03'))).toEqual([{ item_id: a.item_id, send: false, status: 'claimed', reason: 'already_sending', lease_expires_at: null }]);
		expect(await messages(userId)).toEqual(before.rows);
		expect(await ledger(userId)).toHaveLength(before.ledger);
		expect((await sendStarted(userId)).get(a.item_id)).toBe(at('13:01'));
		// Asked again and renewed in the same call: renewed only, still not let go.
		expect((await beginSend('w-again', [a.item_id], at('13:04'), [a.item_id])).map((row) => [row.send, row.reason])).toEqual([[false, 'already_sending']]);
		expect((await messages(userId))[0].lease_expires_at?.toISOString()).toBe(at('13:09'));
		// Its one report is recorded.
		expect((await complete('w-again', [sent(a)], at('13:05')))[0]).toMatchObject({ accepted: true, status: 'sent' });
	});

	it('p_renew_item_ids renews only messages this worker holds whose send began: never one not begun, another worker\'s, or one completed; no row answered', async () => {
		const { userId } = await preparedOwner(3);
		// 09:00, 11:40 and 14:20 are due at 15:00; held until 15:05.
		const [a, b, c] = await claim('w-renew', userId, at('15:00'));
		expect((await beginSend('w-renew', [a.item_id, c.item_id], at('15:01'))).map((row) => row.send)).toEqual([true, true]);
		expect((await complete('w-renew', [sent(c)], at('15:02')))[0]).toMatchObject({ accepted: true });
		// b was never let go: a renewal of it does not begin its send nor move its lease.
		expect(await beginSend('w-renew', [], at('15:04'), [a.item_id, b.item_id, c.item_id])).toEqual([]);
		const rows = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(rows.get(a.item_id)?.lease_expires_at?.toISOString()).toBe(at('15:09'));
		expect(rows.get(b.item_id)?.lease_expires_at?.toISOString()).toBe(at('15:05'));
		expect(rows.get(c.item_id)).toMatchObject({ status: 'sent', lease_expires_at: null });
		expect((await sendStarted(userId)).get(b.item_id)).toBeNull();
		// Another worker's renewal moves nothing.
		expect(await beginSend('w-other', [], at('15:05'), [a.item_id])).toEqual([]);
		expect((await messages(userId)).find((row) => row.id === a.item_id)?.lease_expires_at?.toISOString()).toBe(at('15:09'));
	});

	it('refuses p_renew_item_ids null or with a null, naming it; nothing written', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-args', userId, at('13:00'));
		for (const renew of [null, [null]] as Array<Array<string | null> | null>) {
			await expect(
				rpc('queue_begin_send', { p_worker: 'w-args', p_item_ids: [a.item_id], p_phones: [a.phone], p_renew_item_ids: renew, p_lease_seconds: 300, p_now: at('13:01') }),
			).rejects.toThrow(/p_renew_item_ids: at most 1000 item ids without nulls/);
		}
		expect((await sendStarted(userId)).get(a.item_id)).toBeNull();
	});
});
