// Migration 20261201002730 (review RM1c of 20261201002720): a failure of a message whose send began
// with no code, or with a refused code in other letter case, is not Send's report either. …2720
// compared the code exactly, so a code-less failure (Complete turns a plain-text Error into
// {message} alone: an AI agent passing a second Send's answer on as text) or ALREADY_SENDING was
// taken, the message due again after the backoff and let go a second time: the lead got it twice.
// Every failure Send reports for a message it let go carries a code (Meta's, not_sent, uncertain).
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { claim, complete, failed, phonesOf, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));
const completeAs = (asTool: boolean, worker: string, results: SendResult[], now: string) =>
	asTool ? rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true }) : complete(worker, results, now);

describe('queue_complete: a failure of a begun message without a code Send gives (…2730)', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'from a workflow'}: no code, 'Already_Sending' and ' ALREADY_SENDING ' are refused, nothing written, nothing let go again; the first Send's sent is recorded; Meta's code is still taken`, async () => {
			const { userId } = await preparedOwner(4, { retry_backoff_seconds: 60, max_attempts: 5 });
			const worker = `w-nocode-${asTool}`;
			const items = await claim(worker, userId, at('16:50'));
			expect(items).toHaveLength(4);
			expect((await beginSend(worker, items.map((item) => item.item_id), at('16:50'))).map((row) => row.send)).toEqual([true, true, true, true]);

			const rows = await completeAs(asTool, worker, [
				{ item_id: items[0].item_id, outcome: 'failed', message_id: null, error: { message: 'already_sending: Not sent: its send already began' } } as SendResult,
				failed(items[1], { code: 'Already_Sending', message: 'Not sent', permanent: false }),
				failed(items[2], { code: ' ALREADY_SENDING ', message: 'Not sent', permanent: false }),
				failed(items[3], { code: '131000', message: 'Something went wrong', permanent: false }),
			], at('16:51'));
			expect(rows.map((row) => [row.status, row.accepted, row.reason])).toEqual([
				['claimed', false, 'already_sending'],
				['claimed', false, 'already_sending'],
				['claimed', false, 'already_sending'],
				['failed', true, null],
			]);

			// After the backoff only Meta's failure is due again; the three refused stay claimed, never let go twice.
			const again = await claim(`w-nocode-next-${asTool}`, userId, at('16:54'));
			expect(again.map((item) => item.item_id)).toEqual([items[3].item_id]);

			// The report of the Send that let them go is the one recorded.
			const recorded = await completeAs(asTool, worker, items.slice(0, 3).map((item) => sent(item)), at('16:52'));
			expect(recorded.map((row) => [row.status, row.accepted])).toEqual([['sent', true], ['sent', true], ['sent', true]]);
		});
	}
});
