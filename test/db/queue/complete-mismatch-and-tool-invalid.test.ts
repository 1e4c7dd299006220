// Migration 20261201002630 (review S10, F1), mended by 20261201002690 (review R1):
// - A message Send released because its Phone was not the message's own (error code phone_mismatch)
//   leaves its reason in the ledger: reason phone_mismatch. Before …2630, its ledger row said
//   `released` like any untried message, and a workflow whose Phone read a wrong field released
//   those messages every run with no trace of why. The detail is the database's own words (…2690):
//   …2630 stored the report's text, which names the phone Send was given (another lead's, often
//   another owner's) in an append-only ledger, and any caller could write any text there.
// - As an AI agent's tool (p_send_begun_only), a failed report with invalid_message for a message
//   whose send never began is recorded (dead) only when the message as stored, {{name}} filled as
//   Claim hands it out, fails Send's rule (…2690): …2630 took it on the caller's word, so a model's
//   own too-long text ended the owner's good message dead. A made-up sent, and a failed report with
//   any other code, are still refused for a message whose send never began.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, failed, leadItems, ledger, messages, prepare, preparedOwner, rpc, sent, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], phones: string[], now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now });
const completeBegunOnly = (worker: string, results: SendResult[], now: string) =>
	rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true });
const leadStatus = (leadId: string) => withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0]?.status);

const SOMEONE_ELSE = '+447700900123';
/** The ledger detail's sentence (the database's, whatever the report says). */
const MISMATCH_DETAIL =
	"Not sent: Send was given a phone that is not this message's (its lead's phone, the one Claim gave); the phone given is not stored. Map the phone Claim returns in Send's Phone.";
const MISMATCH_MESSAGE = `Not sent: the phone "${SOMEONE_ELSE}" is not its lead's phone, the number Claim gave the message: a queued message goes only to its lead. Map the phone Claim returns, e.g. {{ $json.phone }} (the default)`;

describe('queue_complete: a phone_mismatch release says why in the ledger', () => {
	it('released with error code phone_mismatch: queued, the attempt given back, ledger reason phone_mismatch with the database\'s own detail (not the report\'s text, which names the phone given); another release stays `released`; the same report again is answered as recorded', async () => {
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
			detail: { code: 'phone_mismatch', message: MISMATCH_DETAIL },
		});
		// Nothing the caller wrote is stored: not the phone Send was given, not any other text.
		expect(JSON.stringify(await ledger(userId))).not.toContain(SOMEONE_ELSE);
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

describe('queue_complete with p_send_begun_only: failed invalid_message only for a message Send cannot send as stored', () => {
	it('refuses failed invalid_message for a good stored message (send_not_begun, still held: the text was the model\'s), a made-up sent and another failed code', async () => {
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
			[invalid.item_id, false, 'claimed', 'send_not_begun'],
			[madeUp.item_id, false, 'claimed', 'send_not_begun'],
			[madeUpFailure.item_id, false, 'claimed', 'send_not_begun'],
		]);
		const after = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(after.get(invalid.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-tool', last_error: null });
		expect(after.get(madeUp.item_id)).toMatchObject({ status: 'claimed', message_id: null });
		expect(after.get(madeUpFailure.item_id)).toMatchObject({ status: 'claimed', last_error: null });
		expect(await leadStatus(invalid.lead_id)).toBe('queued');
	});

	it('takes failed invalid_message when the stored message, {{name}} filled, fails Send\'s rule (a long name past 4,096 characters): dead, its lead new again', async () => {
		// A setting of 4,088 characters plus {{name}} (4,096: taken), for a lead whose name pushes it past 4,096.
		const userId = await createOwner({ daily_capacity: 2, message: { type: 'text', text: `${'x'.repeat(4088)}{{name}}` } });
		const [longName, shortName] = leadItems(userId, 2);
		await addLeads([{ ...longName, name: 'A lead with a rather long name' }, { ...shortName, name: 'Al' }]);
		await prepare(userId);
		const claimed = await claim('w-tool', userId, at('16:00'));
		const byName = new Map(claimed.map((item) => [item.lead_name, item]));
		const long = byName.get('A lead with a rather long name')!;
		const short = byName.get('Al')!;
		const error = { code: 'invalid_message', message: 'The message is a text of 4118 characters; WhatsApp takes at most 4096', permanent: true };
		const rows = await completeBegunOnly('w-tool', [failed(long, error), failed(short, error)], at('16:01'));
		expect(rows.map((row) => [row.item_id, row.accepted, row.status, row.reason])).toEqual([
			[long.item_id, true, 'dead', null],
			[short.item_id, false, 'claimed', 'send_not_begun'],
		]);
		const after = new Map((await messages(userId)).map((row) => [row.id, row]));
		expect(after.get(long.item_id)).toMatchObject({ status: 'dead', last_error: { code: 'invalid_message', permanent: true } });
		// Not the lead's fault: new again (its backlog item queued for the next Prepare), as for a workflow's report.
		expect(await leadStatus(long.lead_id)).toBe('new');
		expect(await leadStatus(short.lead_id)).toBe('queued');
	});
});
