// Migration 20261201002720 (task M1c, after review RM1b of 20261201002700): queue_complete takes no
// report of a message whose send began that Send cannot have made for it.
// 1. …2700 still took a release (no code, any other code) of such a message when its lead was no
//    longer new or queued (taken over during the send): the delivered message was cancelled, the
//    first Send's sent then refused (cancelled), and once the owner gave the lead back (new) the
//    next Prepare and Claim sent it a second time. Now refused already_sending like any other; the
//    sent of the Send that let it go is recorded.
// 2. …2700 refused a failed report of such a message only with code invalid_message: a failure with
//    a code Send gives only for a message it never let go (a second Send's already_sending, the
//    codes of its releases) was taken, due again after the backoff, and sent a second time. Now
//    refused already_sending; Send's own failures of a message it let go (Meta's codes, not_sent,
//    uncertain) are taken as before.
// 3. What becomes of a refused report's message (docs/whatsapp.md): it stays claimed until its lease
//    ends, then the next Claim ends it dead uncertain; its lead stays queued, its backlog item dead,
//    until the owner sets the lead to new.
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, phonesOf, prepare, preparedOwner, rpc, sendNotMade, sent, takeLead, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));
const completeAs = (asTool: boolean, worker: string, results: SendResult[], now: string) =>
	asTool ? rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true }) : complete(worker, results, now);
const answers = (rows: QueueCompleteResult[]) => rows.map((row) => [row.item_id, row.status, row.accepted, row.reason]);
/** A lead, its backlog item and its messages (status, and WhatsApp's id when sent), oldest first. */
const state = (leadId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<{ lead: string; backlog: string; messages: string }>(
					`select l.status as lead, p.status as backlog,
					        (select string_agg(q.status || coalesce(':' || q.message_id, ''), ',' order by q.created_at) from public.whatsapp_message_queue q where q.lead_id = l.id) as messages
					   from public.leads l join public.lead_processing_queue p on p.lead_id = l.id where l.id = $1`,
					[leadId],
				)
			).rows[0],
	);
const message = (itemId: string) =>
	withDb(
		async (db) =>
			(
				await db.query<{ status: string; lease_holder: string | null; send_started_at: Date | null; code: string | null }>(
					"select status, lease_holder, send_started_at, last_error ->> 'code' as code from public.whatsapp_message_queue where id = $1",
					[itemId],
				)
			).rows[0],
	);

describe('queue_complete: a release of a message whose send began is refused also for a lead taken over during the send', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'a workflow'}: refused already_sending, the first Send's sent recorded; given back by the owner, the lead is not sent the message again`, async () => {
			const { userId } = await preparedOwner(1);
			const worker = `w-taken-plain-${asTool}`;
			const [a] = await claim(worker, userId, at('16:00'));
			expect((await beginSend(worker, [a.item_id], at('16:00'))).map((row) => row.send)).toEqual([true]);
			await takeLead(a.lead_id, { actorId: userId, now: at('16:00') });
			const entries = (await ledger(userId)).length;
			// Before (…2700): accepted, the delivered message cancelled.
			expect(answers(await completeAs(asTool, worker, [{ item_id: a.item_id, outcome: 'released', message_id: null, error: null }], at('16:01')))).toEqual([
				[a.item_id, 'claimed', false, 'already_sending'],
			]);
			expect(await message(a.item_id)).toMatchObject({ status: 'claimed', lease_holder: worker, send_started_at: expect.any(Date) });
			expect((await ledger(userId)).length).toBe(entries);
			// The report of the Send that let it go (before: refused cancelled).
			expect(answers(await completeAs(asTool, worker, [sent(a, 'wamid.A')], at('16:01')))).toEqual([[a.item_id, 'sent', true, null]]);
			expect(await state(a.lead_id)).toMatchObject({ lead: 'human_controlled', messages: 'sent:wamid.A' });
			// The owner gives the lead back; the next day's Prepare and Claim (before: a second message let go to it).
			const app = userClient(userId, { now: new Date(at('17:00')) });
			expect((await app.from('leads').update({ status: 'new' }).eq('id', a.lead_id)).error).toBeNull();
			await prepare(userId, '2026-11-27T12:00:00.000Z');
			expect((await claim('w-taken-next', userId, '2026-11-28T16:00:00.000Z')).filter((item) => item.lead_id === a.lead_id)).toEqual([]);
			expect((await state(a.lead_id)).messages).toBe('sent:wamid.A');
		});
	}

	it("Send's own releases of a message it let go (not_attempted, not_checked, invalid_token, business_account) still end it cancelled for a lead taken over", async () => {
		const { userId } = await preparedOwner(4);
		const items = await claim('w-taken-own', userId, at('16:50'));
		expect(items).toHaveLength(4);
		await beginSend('w-taken-own', items.map((item) => item.item_id), at('16:50'));
		for (const item of items) await takeLead(item.lead_id, { now: at('16:51') });
		// As Send does, its mark taken back first (migration 20261201002770).
		await sendNotMade('w-taken-own', items.map((item) => item.item_id), at('16:52'));
		const rows = await complete(
			'w-taken-own',
			['not_attempted', 'not_checked', 'invalid_token', 'business_account'].map((code, index) => ({
				item_id: items[index].item_id,
				outcome: 'released' as const,
				message_id: null,
				error: { code, message: 'Not sent', permanent: false },
			})),
			at('16:52'),
		);
		expect(rows.map((row) => [row.status, row.accepted, row.reason])).toEqual(Array(4).fill(['cancelled', true, null]));
	});
});

/** Codes Send gives only for a message it never let go (released, or failed invalid_message), and Claim's. */
const NOT_BEGUN_CODES = [
	'invalid_message',
	'already_sending',
	'phone_mismatch',
	'not_held',
	'cancelled',
	'phone_changed',
	'already_completed',
	'not_found',
	'not_checked',
	'not_attempted',
	'send_setup_failed',
	'claim_failed',
];

describe('queue_complete: a failure of a message whose send began with a code Send gives only for a message it never let go is refused', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'a workflow'}: each refused already_sending, nothing written; after the backoff no Claim takes them; the first Send's sent recorded`, async () => {
			const { userId } = await preparedOwner(NOT_BEGUN_CODES.length, { retry_backoff_seconds: 60, max_attempts: 5 });
			const worker = `w-begun-failed-${asTool}`;
			const items = await claim(worker, userId, at('16:50'));
			expect(items).toHaveLength(NOT_BEGUN_CODES.length);
			await beginSend(worker, items.map((item) => item.item_id), at('16:50'));
			const entries = (await ledger(userId)).length;
			const rows = await completeAs(
				asTool,
				worker,
				items.map((item, index) => failed(item, { code: NOT_BEGUN_CODES[index], message: 'Not sent', permanent: false })),
				at('16:51'),
			);
			// Before (…2700): all but invalid_message accepted, failed, due again at 16:52.
			expect(answers(rows)).toEqual(items.map((item) => [item.item_id, 'claimed', false, 'already_sending']));
			expect((await ledger(userId)).length).toBe(entries);
			for (const item of items) expect(await message(item.item_id)).toMatchObject({ status: 'claimed', lease_holder: worker, send_started_at: expect.any(Date) });
			expect(await claim('w-begun-failed-next', userId, at('16:54'))).toEqual([]);
			expect((await completeAs(asTool, worker, items.map((item) => sent(item)), at('16:54'))).map((row) => [row.status, row.accepted])).toEqual(
				items.map(() => ['sent', true]),
			);
		});
	}

	it("Send's own failures of a message it let go (Meta's code, not_sent, uncertain) are taken as before", async () => {
		const { userId } = await preparedOwner(3, { max_attempts: 5 });
		const [a, b, c] = await claim('w-begun-own-failed', userId, at('15:00'));
		await beginSend('w-begun-own-failed', [a.item_id, b.item_id, c.item_id], at('15:00'));
		const rows = await complete(
			'w-begun-own-failed',
			[
				failed(a, { code: '131000', message: 'Something went wrong', permanent: false }),
				failed(b, { code: 'not_sent', message: 'The WhatsApp Cloud API was not reached', permanent: false }),
				failed(c, { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API', permanent: true }),
			],
			at('15:01'),
		);
		expect(rows.map((row) => [row.status, row.accepted, row.reason])).toEqual([
			['failed', true, null],
			['failed', true, null],
			['dead', true, null],
		]);
	});
});

it('a refused report leaves the message claimed until its lease ends; the next Claim then ends it dead uncertain, its lead queued with its backlog item dead until the owner sets it new', async () => {
	const { userId } = await preparedOwner(1);
	const [a] = await claim('w-refused', userId, at('15:00'));
	await beginSend('w-refused', [a.item_id], at('15:00'));
	expect(answers(await complete('w-refused', [{ item_id: a.item_id, outcome: 'released', message_id: null, error: { code: 'skipped_by_workflow', message: 'Not wanted' } }], at('15:01')))).toEqual([
		[a.item_id, 'claimed', false, 'already_sending'],
	]);
	// Before the lease ends (15:05): still claimed, no Claim takes it.
	expect(await claim('w-refused-2', userId, at('15:04'))).toEqual([]);
	expect(await state(a.lead_id)).toMatchObject({ lead: 'queued', backlog: 'claimed', messages: 'claimed' });
	// After: the next Claim ends it dead uncertain (it may have gone out), never hands it out.
	expect(await claim('w-refused-3', userId, at('15:06'))).toEqual([]);
	expect(await message(a.item_id)).toMatchObject({ status: 'dead', code: 'uncertain' });
	expect(await state(a.lead_id)).toMatchObject({ lead: 'queued', backlog: 'dead', messages: 'dead' });
	// Out of Prepare's reach until the owner sets the lead to new: then its backlog item is queued again.
	await prepare(userId, '2026-11-26T18:00:00.000Z');
	expect(await state(a.lead_id)).toMatchObject({ lead: 'queued', backlog: 'dead' });
	const app = userClient(userId, { now: new Date(at('17:00')) });
	expect((await app.from('leads').update({ status: 'new' }).eq('id', a.lead_id)).error).toBeNull();
	expect(await state(a.lead_id)).toMatchObject({ lead: 'new', backlog: 'queued' });
});
