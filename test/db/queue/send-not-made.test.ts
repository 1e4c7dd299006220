// Migration 20261201002770 (task F1, review RM1 of 20261201002700): a message whose send began is
// never given back on anyone's word. …2700 took a release of such a message when its code was one of
// Send's four for a message it let go that did not go out (invalid_token, business_account,
// not_attempted, not_checked): an AI agent's Complete or a workflow's own report naming one of them
// for a delivered message cleared its send's mark, and the next Claim handed it out again (the lead
// got it twice). Now Send takes its own mark back first (queue_send_not_made, service_role only),
// and queue_complete refuses every release of a message whose send began (already_sending, nothing
// written).
// Real Postgres through PostgREST, fixed instants (p_now).
import type { BeginQueueSendResult, QueueCompleteResult, SendResult } from '../../../nodes/shared/contract';
import { userClient, withDb } from '../../helpers/stack';
import { claim, complete, ledger, preparedOwner, rpc, sendNotMade, sent, takeLead, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, items: Array<{ item_id: string; phone: string }>, now: string) =>
	rpc<BeginQueueSendResult[]>('queue_begin_send', {
		p_worker: worker,
		p_item_ids: items.map((item) => item.item_id),
		p_phones: items.map((item) => item.phone),
		p_lease_seconds: 300,
		p_now: now,
	});
const completeAs = (asTool: boolean, worker: string, results: SendResult[], now: string) =>
	asTool ? rpc<QueueCompleteResult[]>('queue_complete', { p_worker: worker, p_results: results, p_now: now, p_send_begun_only: true }) : complete(worker, results, now);
const row = (itemId: string) =>
	withDb(async (db) =>
		(await db.query<{ status: string; lease_holder: string | null; send_started_at: Date | null; attempts: number }>(
			'select status, lease_holder, send_started_at, attempts from public.whatsapp_message_queue where id = $1',
			[itemId],
		)).rows[0],
	);

/** Send's four codes for a message it let go that did not go out. */
const SENDS_OWN = [
	{ code: 'invalid_token', message: 'The WhatsApp access token was refused (190): Invalid OAuth access token', permanent: false },
	{ code: 'business_account', message: 'WhatsApp refused to send for the business account (131042)', permanent: false },
	{ code: 'not_attempted', message: 'Not sent: the execution was cancelled', permanent: false },
	{ code: 'not_checked', message: 'Not sent: whether this run still holds it could not be checked', permanent: false },
];
const releases = (items: Array<{ item_id: string }>): SendResult[] =>
	items.map((item, index) => ({ item_id: item.item_id, outcome: 'released', message_id: null, error: SENDS_OWN[index] }));

describe('queue_complete: no release of a message whose send began, whatever its code', () => {
	for (const asTool of [false, true]) {
		it(`${asTool ? 'as a tool' : 'a workflow'}: released with each of Send's four codes for a delivered message is refused already_sending, nothing written; no Claim hands it out again; the first Send's sent is recorded`, async () => {
			const { userId } = await preparedOwner(4);
			const worker = `w-typed-${asTool}`;
			const items = await claim(worker, userId, at('16:40'));
			expect(items).toHaveLength(4);
			await beginSend(worker, items, at('16:41'));
			const entries = (await ledger(userId)).length;
			// Before (…2700-…2730): accepted, queued, the send's mark cleared.
			expect((await completeAs(asTool, worker, releases(items), at('16:42'))).map((one) => [one.item_id, one.accepted, one.status, one.reason])).toEqual(
				items.map((item) => [item.item_id, false, 'claimed', 'already_sending']),
			);
			for (const item of items) expect(await row(item.item_id)).toMatchObject({ status: 'claimed', lease_holder: worker, send_started_at: expect.any(Date), attempts: 1 });
			expect((await ledger(userId)).length).toBe(entries);
			// Before: the next Claim handed all four out again.
			expect(await claim('w-typed-next', userId, at('16:43'))).toEqual([]);
			// The first Send's reports: recorded.
			expect((await completeAs(asTool, worker, items.map((item) => sent(item)), at('16:44'))).map((one) => [one.accepted, one.status])).toEqual(Array(4).fill([true, 'sent']));
		});
	}

	it('a refused release leaves the message begun: after its lease, the next Claim ends it dead uncertain, never handed out', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-typed-lease', userId, at('16:40'));
		await beginSend('w-typed-lease', [a], at('16:41'));
		expect((await complete('w-typed-lease', releases([a]), at('16:42')))[0]).toMatchObject({ accepted: false, reason: 'already_sending' });
		expect(await claim('w-typed-later', userId, at('16:50'))).toEqual([]);
		expect(await row(a.item_id)).toMatchObject({ status: 'dead' });
	});
});

describe("queue_send_not_made: Send takes back its own mark, then its release is taken", () => {
	it("clears the mark of the worker's begun messages only (not another worker's, not one not begun), answers the ids cleared, and the four releases are then taken (queued, the attempt given back, the next Claim hands them out); the same report again is answered as the first", async () => {
		const { userId } = await preparedOwner(6);
		const mine = await claim('w-own', userId, at('16:50'), 5);
		const [other] = await claim('w-other', userId, at('16:50'));
		await beginSend('w-own', mine.slice(0, 4), at('16:51'));
		await beginSend('w-other', [other], at('16:51'));
		const asked = [...mine.map((item) => item.item_id), other.item_id];
		const cleared = await sendNotMade('w-own', asked, at('16:52'));
		expect(cleared.map((one) => one.item_id).sort()).toEqual(mine.slice(0, 4).map((item) => item.item_id).sort());
		expect(await row(other.item_id)).toMatchObject({ status: 'claimed', lease_holder: 'w-other', send_started_at: expect.any(Date) });
		const entries = (await ledger(userId)).length;
		// Clearing writes no ledger row (no status change).
		expect((await ledger(userId)).length).toBe(entries);
		const report = releases(mine.slice(0, 4));
		expect((await complete('w-own', report, at('16:53'))).map((one) => [one.accepted, one.status, one.reason])).toEqual(Array(4).fill([true, 'queued', null]));
		for (const item of mine.slice(0, 4)) expect(await row(item.item_id)).toMatchObject({ status: 'queued', lease_holder: null, send_started_at: null, attempts: 0 });
		expect((await complete('w-own', report, at('16:54'))).map((one) => [one.accepted, one.status])).toEqual(Array(4).fill([true, 'queued']));
		// Called again: nothing left to clear.
		expect(await sendNotMade('w-own', asked, at('16:55'))).toEqual([]);
		const next = await claim('w-next', userId, at('16:56'));
		expect(next.map((item) => item.item_id).sort()).toEqual([...mine.map((item) => item.item_id)].sort());
	});

	it("for a lead taken over during the send, Send's release after its mark is taken back ends the message cancelled, never queued again", async () => {
		const { userId } = await preparedOwner(2);
		const items = await claim('w-taken', userId, at('16:50'));
		await beginSend('w-taken', items, at('16:50'));
		for (const item of items) await takeLead(item.lead_id, { now: at('16:51') });
		await sendNotMade('w-taken', items.map((item) => item.item_id), at('16:52'));
		expect((await complete('w-taken', releases(items), at('16:52'))).map((one) => [one.status, one.accepted, one.reason])).toEqual(Array(2).fill(['cancelled', true, null]));
	});

	it('is not callable by a signed-in user (service_role only), and refuses a worker name that is not one line', async () => {
		const { userId } = await preparedOwner(1);
		const [a] = await claim('w-rls', userId, at('16:50'));
		await beginSend('w-rls', [a], at('16:51'));
		const { error } = await userClient(userId).rpc('queue_send_not_made', { p_worker: 'w-rls', p_item_ids: [a.item_id] });
		expect(error?.code).toBe('42501');
		expect(await row(a.item_id)).toMatchObject({ send_started_at: expect.any(Date) });
		await expect(sendNotMade('w\nrls', [a.item_id], at('16:52'))).rejects.toThrow(/p_worker/);
	});
});
