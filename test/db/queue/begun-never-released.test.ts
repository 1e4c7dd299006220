// Migration 20261201002700 (task M1b, after review R1 of 20261201002630): a message whose send began
// is never given back by a release Send cannot have made. …2690 refused a released phone_mismatch of
// such a message; any other release (no code, another code: an AI agent's Complete, a workflow's own
// report) was still taken: the send's mark cleared, the message queued again, the next run claimed
// it and queue_begin_send let it go a second time (the lead got it twice). Now refused, reason
// already_sending, nothing written, for a workflow and for a tool; Send's own releases of a message
// it let go that did not go out (invalid_token, business_account, not_attempted, not_checked) are
// taken as before, and so is the same accepted report repeated.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, ledger, preparedOwner, rpc, sendNotMade, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], phones: string[], now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now });
const completeAs = (asTool: boolean, worker: string, results: SendResult[], now: string) =>
	asTool ? rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true }) : complete(worker, results, now);
const held = (itemId: string) =>
	withDb(async (db) =>
		(await db.query<{ status: string; lease_holder: string | null; send_started_at: Date | null; attempts: number }>(
			'select status, lease_holder, send_started_at, attempts from public.whatsapp_message_queue where id = $1',
			[itemId],
		)).rows[0],
	);
const released = (item: { item_id: string }, error: SendResult['error']): SendResult => ({ item_id: item.item_id, outcome: 'released', message_id: null, error });

describe('queue_complete: a message whose send began is never released by a report Send cannot have made', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'a workflow'}: released without a code or with another code is refused already_sending, nothing written; the next Claim does not take it and it is not let go again; the first Send's sent is recorded`, async () => {
			const { userId } = await preparedOwner(3);
			const worker = `w-begun-rel-${asTool}`;
			const [a, b, c] = await claim(worker, userId, at('15:10'));
			await beginSend(worker, [a.item_id, b.item_id, c.item_id], [a.phone, b.phone, c.phone], at('15:11'));
			const entries = (await ledger(userId)).length;
			const rows = await completeAs(
				asTool,
				worker,
				[
					released(a, null),
					released(b, { code: 'given_back', message: 'The agent decided not to send it', permanent: false }),
					released(c, { message: 'Not sent' }),
				],
				at('15:12'),
			);
			expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
				[a.item_id, false, 'claimed', 'already_sending'],
				[b.item_id, false, 'claimed', 'already_sending'],
				[c.item_id, false, 'claimed', 'already_sending'],
			]);
			for (const item of [a, b, c]) expect(await held(item.item_id)).toMatchObject({ status: 'claimed', lease_holder: worker, send_started_at: expect.any(Date), attempts: 1 });
			expect((await ledger(userId)).length).toBe(entries);
			// The next run (before the lease ends) gets none of them, so none is sent again.
			expect(await claim('w-next-run', userId, at('15:13'))).toEqual([]);
			expect((await beginSend('w-next-run', [a.item_id], [a.phone], at('15:13'))).map((row) => [row.send, row.reason])).toEqual([[false, 'not_held']]);
			// The first Send's reports: recorded.
			expect((await completeAs(asTool, worker, [sent(a), sent(b), sent(c)], at('15:14'))).map((row) => [row.accepted, row.status])).toEqual([
				[true, 'sent'],
				[true, 'sent'],
				[true, 'sent'],
			]);
		});
	}

	it("Send's own releases of a message it let go that did not go out (invalid_token, business_account, not_attempted, not_checked) are taken once Send took its mark back (queue_send_not_made, migration 20261201002770), and repeated are answered as the first time", async () => {
		const { userId } = await preparedOwner(4);
		const [a, b, c, d] = await claim('w-own', userId, at('15:00'));
		await beginSend('w-own', [a.item_id, b.item_id, c.item_id, d.item_id], [a.phone, b.phone, c.phone, d.phone], at('15:01'));
		await sendNotMade('w-own', [a.item_id, b.item_id, c.item_id, d.item_id], at('15:02'));
		const report = [
			released(a, { code: 'invalid_token', message: 'The WhatsApp access token was refused (190): Invalid OAuth access token', permanent: false }),
			released(b, { code: 'business_account', message: 'WhatsApp refused to send for the business account (131042)', permanent: false }),
			released(c, { code: 'not_attempted', message: 'Not sent: the execution was cancelled', permanent: false }),
			released(d, { code: 'not_checked', message: 'Not sent: whether this run still holds it could not be checked', permanent: false }),
		];
		const first = await complete('w-own', report, at('15:02'));
		expect(first.map((row) => [row.accepted, row.status, row.reason])).toEqual(Array(4).fill([true, 'queued', null]));
		for (const item of [a, b, c, d]) expect(await held(item.item_id)).toMatchObject({ status: 'queued', lease_holder: null, send_started_at: null, attempts: 0 });
		const entries = (await ledger(userId)).length;
		expect((await complete('w-own', report, at('15:03'))).map((row) => [row.accepted, row.status, row.reason])).toEqual(Array(4).fill([true, 'queued', null]));
		expect((await ledger(userId)).length).toBe(entries);
	});

	it('a release of a message whose send did not begin is taken as before, with any code or none', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-not-begun', userId, at('16:00'));
		const rows = await completeAs(true, 'w-not-begun', [released(a, null), released(b, { code: 'given_back', message: 'Not sent' })], at('16:01'));
		expect(rows.map((row) => [row.accepted, row.status, row.reason])).toEqual([
			[true, 'queued', null],
			[true, 'queued', null],
		]);
	});
});
