// Migration 20261201002630 (review S10, F1):
// - A message Send released because its Phone was not the message's own (error code phone_mismatch)
//   leaves its reason in the ledger: reason phone_mismatch, the report's error (naming the phone Send
//   was given) as detail. Before, its ledger row said `released` like any untried message, and a
//   workflow whose Phone read a wrong field released those messages every run with no trace of why.
// - As an AI agent's tool (p_send_begun_only), a failed report with Send's own invalid_message (a
//   send that never began: the message cannot be sent as it is) is recorded, dead, as a workflow's
//   is. Before, it was refused send_not_begun and the message came back every run. A made-up sent,
//   and a failed report with any other code, are still refused for a message whose send never began.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, messages, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], phones: string[], now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now });
const completeBegunOnly = (worker: string, results: SendResult[], now: string) =>
	rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true });
const leadStatus = (leadId: string) => withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0]?.status);

const SOMEONE_ELSE = '+447700900123';
const MISMATCH_MESSAGE = `Not sent: the phone "${SOMEONE_ELSE}" is not its lead's phone, the number Claim gave the message: a queued message goes only to its lead. Map the phone Claim returns, e.g. {{ $json.phone }} (the default)`;

describe('queue_complete: a phone_mismatch release says why in the ledger', () => {
	it('released with error code phone_mismatch: queued, the attempt given back, ledger reason phone_mismatch with the error as detail; another release stays `released`; the same report again is answered as recorded', async () => {
		const { userId } = await preparedOwner(2);
		const [wrong, untried] = await claim('w-mismatch', userId, at('13:00'));
		expect((await beginSend('w-mismatch', [wrong.item_id], [SOMEONE_ELSE], at('13:01'))).map((row) => row.reason)).toEqual(['phone_mismatch']);
		const report: SendResult[] = [
			{ item_id: wrong.item_id, outcome: 'released', message_id: null, error: { code: 'phone_mismatch', message: MISMATCH_MESSAGE, permanent: false } },
			{ item_id: untried.item_id, outcome: 'released', message_id: null, error: { code: 'not_attempted', message: 'Not sent: the execution was cancelled', permanent: false } },
		];
		const rows = await complete('w-mismatch', report, at('13:02'));
		expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
			[wrong.item_id, true, 'queued', null],
			[untried.item_id, true, 'queued', null],
		]);
		const after = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(after.get(wrong.item_id)).toMatchObject({ status: 'queued', attempts: 0, lease_holder: null, lease_expires_at: null, last_error: null });
		const last = (itemId: string) => ledger(userId).then((entries) => entries.filter((entry) => entry.item_id === itemId).at(-1));
		expect(await last(wrong.item_id)).toMatchObject({
			from_status: 'claimed',
			to_status: 'queued',
			worker: 'w-mismatch',
			actor: 'automation',
			reason: 'phone_mismatch',
			detail: { code: 'phone_mismatch', message: MISMATCH_MESSAGE },
		});
		expect(await last(untried.item_id)).toMatchObject({ from_status: 'claimed', to_status: 'queued', reason: 'released' });
		// The same report again (Record Outcomes retried after a lost answer): answered as recorded, nothing written.
		const entries = (await ledger(userId)).length;
		expect((await complete('w-mismatch', report, at('13:03'))).map((row) => [row.accepted, row.status])).toEqual([
			[true, 'queued'],
			[true, 'queued'],
		]);
		expect((await ledger(userId)).length).toBe(entries);
	});

	it('a phone_mismatch report for a message this worker does not hold is refused as before, nothing written', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-holder', userId, at('13:00'));
		const rows = await complete('w-stranger', [{ item_id: a.item_id, outcome: 'released', message_id: null, error: { code: 'phone_mismatch', message: MISMATCH_MESSAGE } }], at('13:01'));
		expect(rows.map((row) => [row.accepted, row.status, row.reason])).toEqual([[false, 'claimed', 'not_held']]);
		expect((await messages(userId))[0]).toMatchObject({ status: 'claimed', lease_holder: 'w-holder' });
	});
});

describe('queue_complete with p_send_begun_only: Send\'s own invalid_message', () => {
	it('takes failed invalid_message for a message whose send never began (dead, its lead new again); still refuses a made-up sent and another failed code', async () => {
		const { userId } = await preparedOwner(3);
		const [invalid, madeUp, madeUpFailure] = await claim('w-tool', userId, at('16:00'));
		const rows = await completeBegunOnly(
			'w-tool',
			[
				failed(invalid, { code: 'invalid_message', message: 'The message text is over 4,096 characters', permanent: true }),
				sent(madeUp, 'wamid.made-up-by-the-model'),
				failed(madeUpFailure, { code: '131026', message: 'Message undeliverable', permanent: true }),
			],
			at('16:01'),
		);
		expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
			[invalid.item_id, true, 'dead', null],
			[madeUp.item_id, false, 'claimed', 'send_not_begun'],
			[madeUpFailure.item_id, false, 'claimed', 'send_not_begun'],
		]);
		const after = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(after.get(invalid.item_id)).toMatchObject({ status: 'dead', last_error: { code: 'invalid_message', permanent: true } });
		expect(after.get(madeUp.item_id)).toMatchObject({ status: 'claimed', message_id: null });
		expect(after.get(madeUpFailure.item_id)).toMatchObject({ status: 'claimed', last_error: null });
		// Not the lead's fault: new again (its backlog item queued for the next Prepare), as for a workflow's report.
		expect(await leadStatus(invalid.lead_id)).toBe('new');
		expect(await leadStatus(madeUpFailure.lead_id)).not.toBe('invalid');
	});
});
