// queue_begin_send, asked by Send just before each group of messages goes out: the messages the
// worker still holds get their lease renewed (also one that ran out while nobody claimed it since);
// one another worker claimed after the lease ran out, one whose lead was taken over, one already
// completed or unknown are refused with the reason, and nothing is written for them.
import type { BeginQueueSendResult } from '../../../nodes/shared/contract';
import { claim, complete, failure, ledger, messages, preparedOwner, rpc, sent, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string, leaseSeconds = 300) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_lease_seconds: leaseSeconds, p_now: now });

describe('queue_begin_send', () => {
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

	it('refuses bad arguments naming them', async () => {
		expect(await failure(beginSend('', [], at('09:00')))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_worker:/) });
		expect(await failure(beginSend('w', [], at('09:00'), 1))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_lease_seconds:/) });
		const tooMany = Array.from({ length: 1001 }, () => '00000000-0000-4000-8000-000000000001');
		expect(await failure(beginSend('w', tooMany, at('09:00')))).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_item_ids:/) });
	});
});
