// Migration 20261201002810 (task MF1, review RF1 of 20261201002770): a queue_begin_send whose answer
// was lost is repeated with its own key, and the marks it may have set are taken back by that key
// alone. Before, Send gave no key: a repeat was answered already_sending, and the marks the lost
// call set could not be told from another Send's, so its messages ended dead `uncertain` though
// nothing was sent.
// Real Postgres through PostgREST, fixed instants (p_now).
import { randomUUID } from 'node:crypto';
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import { claim, complete, preparedOwner, rpc, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, items: Array<{ item_id: string; phone: string }>, now: string, key?: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', {
		p_worker: worker,
		p_item_ids: items.map((item) => item.item_id),
		p_phones: items.map((item) => item.phone),
		p_lease_seconds: 300,
		p_now: now,
		...(key && { p_begin_key: key }),
	});
const notMade = (worker: string, ids: string[], now: string, key: string) =>
	rpc<Array<{ item_id: string }>>('queue_send_not_made', { p_worker: worker, p_item_ids: ids, p_now: now, p_begin_key: key });
const row = (itemId: string) =>
	withDb(async (db) =>
		(await db.query<{ status: string; send_started_at: Date | null; begin_key: string | null; lease_expires_at: Date }>(
			'select status, send_started_at, begin_key, lease_expires_at from public.whatsapp_message_queue where id = $1',
			[itemId],
		)).rows[0],
	);
const NOT_CHECKED = { code: 'not_checked', message: 'Not sent: whether this run still holds it could not be checked', permanent: false };

describe('queue_begin_send with a key: the same call repeated answers send again for what it began', () => {
	it('a repeat with the key answers send for the messages it began (the mark and key kept, the lease renewed); another key or none answers already_sending', async () => {
		const { userId } = await preparedOwner(2);
		const items = await claim('w-key', userId, at('16:40'));
		const key = randomUUID();
		expect((await beginSend('w-key', items, at('16:41'), key)).map((one) => one.send)).toEqual([true, true]);
		const first = await row(items[0].item_id);
		expect(first).toMatchObject({ status: 'claimed', begin_key: key, send_started_at: new Date(at('16:41')) });
		// Its answer lost: the same call again, a moment later.
		const repeat = await beginSend('w-key', items, at('16:42'), key);
		expect(repeat.map((one) => [one.item_id, one.send, one.reason])).toEqual(items.map((item) => [item.item_id, true, null]));
		expect(await row(items[0].item_id)).toMatchObject({ begin_key: key, send_started_at: new Date(at('16:41')), lease_expires_at: new Date(at('16:47')) });
		// Another call (another key, or none): a message goes out once.
		expect((await beginSend('w-key', items, at('16:43'), randomUUID())).map((one) => [one.send, one.reason])).toEqual(Array(2).fill([false, 'already_sending']));
		expect((await beginSend('w-key', items, at('16:43'))).map((one) => [one.send, one.reason])).toEqual(Array(2).fill([false, 'already_sending']));
	});

	it("queue_send_not_made with a key clears only the marks that key set, never an earlier Send's of the same worker; the release is then taken", async () => {
		const { userId } = await preparedOwner(3);
		const items = await claim('w-two', userId, at('16:50'));
		const [a, b, c] = items;
		// An earlier Send of the same worker (the same tool called twice in one execution) let a go.
		const earlier = randomUUID();
		expect((await beginSend('w-two', [a], at('16:51'), earlier))[0].send).toBe(true);
		// This Send's call asks for all three; it lets b and c go (a is the earlier Send's), and its answer is lost.
		const mine = randomUUID();
		expect((await beginSend('w-two', items, at('16:52'), mine)).map((one) => [one.send, one.reason])).toEqual([[false, 'already_sending'], [true, null], [true, null]]);
		// Its repeat does not let a go either.
		expect((await beginSend('w-two', items, at('16:52'), mine)).map((one) => one.send)).toEqual([false, true, true]);
		// Still failing: Send gives every id of that call with its key. Before (no key): a's mark cleared too, and the earlier Send's message given back though it may be out.
		expect((await notMade('w-two', items.map((item) => item.item_id), at('16:53'), mine)).map((one) => one.item_id).sort()).toEqual([b.item_id, c.item_id].sort());
		expect(await row(a.item_id)).toMatchObject({ status: 'claimed', begin_key: earlier, send_started_at: expect.any(Date) });
		expect(await row(b.item_id)).toMatchObject({ status: 'claimed', begin_key: null, send_started_at: null });
		// The release of all three: b and c back in the queue; a refused (its send began, the earlier Send's).
		const report = items.map((item) => ({ item_id: item.item_id, outcome: 'released' as const, message_id: null, error: NOT_CHECKED }));
		expect((await complete('w-two', report, at('16:54'))).map((one) => [one.accepted, one.status, one.reason])).toEqual([
			[false, 'claimed', 'already_sending'],
			[true, 'queued', null],
			[true, 'queued', null],
		]);
		// A key that let nothing go clears nothing.
		expect(await notMade('w-two', [a.item_id], at('16:55'), randomUUID())).toEqual([]);
	});

	it('one signature each (PostgREST finds them by name), service_role only', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-sig', userId, at('16:50'));
		const counts = await withDb(async (db) =>
			(await db.query<{ name: string; n: number }>(
				"select proname as name, count(*)::int as n from pg_proc where pronamespace = 'public'::regnamespace and proname in ('queue_begin_send', 'queue_send_not_made') group by proname order by proname",
			)).rows,
		);
		expect(counts).toEqual([{ name: 'queue_begin_send', n: 1 }, { name: 'queue_send_not_made', n: 1 }]);
		const key = randomUUID();
		for (const [name, args] of [
			['queue_begin_send', { p_worker: 'w-sig', p_item_ids: [a.item_id], p_phones: [a.phone], p_begin_key: key }],
			['queue_send_not_made', { p_worker: 'w-sig', p_item_ids: [a.item_id], p_begin_key: key }],
		] as const) {
			const { error } = await userClient(userId).rpc(name, args);
			expect(error?.code).toBe('42501');
		}
		const grants = await withDb(async (db) =>
			(await db.query<{ role: string; can: boolean }>(
				"select r as role, has_function_privilege(r, 'public.queue_send_not_made(text, uuid[], timestamptz, uuid)', 'execute') as can from unnest(array['anon', 'authenticated', 'service_role']) r",
			)).rows,
		);
		expect(grants).toEqual([{ role: 'anon', can: false }, { role: 'authenticated', can: false }, { role: 'service_role', can: true }]);
	});
});
