// queue_complete called again with the same reports by the same worker (Record Outcomes' Retry On
// Fail after the answer to a call the database had committed was lost): the first call's answer
// again and nothing written; a different report, another worker's, or one for a message claimed
// again since is refused as before.
import type { BeginQueueSendResult, SendResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, messages, preparedOwner, rpc, sendNotMade, sent, takeLead, TOMORROW, phonesOf } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;
const beginSend = (worker: string, ids: string[], now: string) =>
	phonesOf(ids).then((phones) => rpc<BeginQueueSendResult[]>('queue_begin_send', { p_worker: worker, p_item_ids: ids, p_phones: phones, p_lease_seconds: 300, p_now: now }));

/** Everything Complete writes for an owner: messages, ledger, backlog items, leads. */
const written = (userId: string) =>
	withDb(async (db) => ({
		messages: await messages(userId),
		ledger: await ledger(userId),
		backlog: (await db.query('select id, status, message_id, updated_at from public.lead_processing_queue where user_id = $1 order by id', [userId])).rows,
		leads: (await db.query('select id, status, updated_at from public.leads where user_id = $1 order by id', [userId])).rows,
	}));

const answers = (rows: Array<{ item_id: string; status: string; accepted: boolean; reason: string | null }>) =>
	rows.map((row) => [row.item_id, row.status, row.accepted, row.reason]);

it('the same reports again from the same worker, a minute later: the first answer again (next_attempt_at too), nothing written', async () => {
	const { userId } = await preparedOwner(5, { max_attempts: 5 });
	const items = await claim('w-lost', userId, at('16:00'));
	const batch: SendResult[] = [
		sent(items[0]),
		failed(items[1], { code: '131000', message: 'Something went wrong', retry_after_seconds: 120 }),
		failed(items[2], { code: '131026', message: 'Message undeliverable', permanent: true }),
		{ item_id: items[3].item_id, outcome: 'released', error: { code: 'not_attempted', message: 'Not sent: the batch stopped' } },
		failed(items[4], { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API', permanent: true }),
	];
	const first = await complete('w-lost', batch, at('16:00'));
	expect(first.map((row) => [row.status, row.accepted])).toEqual([
		['sent', true],
		['failed', true],
		['dead', true],
		['queued', true],
		['dead', true],
	]);
	expect(first[1].next_attempt_at).not.toBeNull();
	const before = await written(userId);

	const again = await complete('w-lost', batch, at('16:01'));

	expect(again).toEqual(first);
	expect(await written(userId)).toEqual(before);
});

it('a different report, another worker\'s, or one for a message claimed again since is refused, and writes nothing', async () => {
	const { userId } = await preparedOwner(4, { max_attempts: 5 });
	const items = await claim('w-first', userId, at('16:00'));
	const reports: SendResult[] = [
		sent(items[0], 'wamid.first'),
		failed(items[1], { code: '131000', message: 'Something went wrong' }),
		{ item_id: items[2].item_id, outcome: 'released' },
		failed(items[3]),
	];
	await complete('w-first', reports, at('16:00'));
	const before = await written(userId);

	// Another worker, the very same reports.
	expect(answers(await complete('w-other', reports, at('16:01')))).toEqual([
		[items[0].item_id, 'sent', false, 'already_completed'],
		[items[1].item_id, 'failed', false, 'already_completed'],
		[items[2].item_id, 'queued', false, 'not_held'],
		[items[3].item_id, 'failed', false, 'already_completed'],
	]);
	// The same worker, a different message id, error or outcome.
	const different: SendResult[] = [
		sent(items[0], 'wamid.other'),
		failed(items[1], { code: '131000', message: 'Something else went wrong' }),
		failed(items[2]),
		sent(items[3]),
	];
	const swapped: SendResult[] = [failed(items[0]), sent(items[1]), sent(items[2]), { item_id: items[3].item_id, outcome: 'released' }];
	for (const batch of [different, swapped]) {
		expect(answers(await complete('w-first', batch, at('16:01')))).toEqual([
			[items[0].item_id, 'sent', false, 'already_completed'],
			[items[1].item_id, 'failed', false, 'already_completed'],
			[items[2].item_id, 'queued', false, 'not_held'],
			[items[3].item_id, 'failed', false, 'already_completed'],
		]);
	}
	expect(await written(userId)).toEqual(before);

	// Later another worker claims the three not sent: the first worker's reports for them, sent again, are not its own any more.
	expect((await claim('w-second', userId, at('16:10'))).map((item) => item.item_id).sort()).toEqual(items.slice(1).map((item) => item.item_id).sort());
	const claimedAgain = await written(userId);
	expect(answers(await complete('w-first', reports, at('16:11')))).toEqual([
		// Still where its report left it: answered as recorded.
		[items[0].item_id, 'sent', true, null],
		[items[1].item_id, 'claimed', false, 'not_held'],
		[items[2].item_id, 'claimed', false, 'not_held'],
		[items[3].item_id, 'claimed', false, 'not_held'],
	]);
	expect(await written(userId)).toEqual(claimedAgain);
});

it('a lease that ran out and was taken by another worker: the first worker\'s report is refused, before and after the new holder\'s', async () => {
	const { userId } = await preparedOwner(1);
	const [held] = await claim('w-slow', userId, at('09:00'), 10, 60);
	// The lease ran out before the send began: another claim hands it out again.
	const [again] = await claim('w-fast', userId, at('09:02'));
	expect(again).toMatchObject({ item_id: held.item_id, attempt: 2 });
	expect(answers(await complete('w-slow', [sent(held, 'wamid.slow')], at('09:03')))).toEqual([[held.item_id, 'claimed', false, 'not_held']]);
	expect(answers(await complete('w-fast', [sent(held, 'wamid.fast')], at('09:03')))).toEqual([[held.item_id, 'sent', true, null]]);
	const before = await written(userId);
	expect(answers(await complete('w-slow', [sent(held, 'wamid.slow')], at('09:04')))).toEqual([[held.item_id, 'sent', false, 'already_completed']]);
	expect(answers(await complete('w-slow', [sent(held, 'wamid.fast')], at('09:04')))).toEqual([[held.item_id, 'sent', false, 'already_completed']]);
	expect(await written(userId)).toEqual(before);
});

it('reports cancelled by a take-over during the send: the same again is answered cancelled and accepted; swapped outcomes are refused', async () => {
	const { userId } = await preparedOwner(3);
	const items = await claim('w-taken', userId, at('16:50'));
	expect(items).toHaveLength(3);
	await beginSend('w-taken', items.map((item) => item.item_id), at('16:50'));
	for (const item of items) await takeLead(item.lead_id, { now: at('16:51') });
	// Released with not_attempted: Send's own for a message it let go that did not go out, its mark
	// taken back first (migration 20261201002770).
	await sendNotMade('w-taken', [items[1].item_id], at('16:52'));
	const batch: SendResult[] = [failed(items[0]), { item_id: items[1].item_id, outcome: 'released', error: { code: 'not_attempted', message: 'Not sent: the execution was cancelled' } }];
	const first = await complete('w-taken', batch, at('16:52'));
	expect(first.map((row) => [row.status, row.accepted])).toEqual([
		['cancelled', true],
		['cancelled', true],
	]);
	// A plain release (no code: not Send's) of a message whose send began is refused also for a lead
	// taken over (migration 20261201002720; before, it was cancelled and the first Send's sent refused):
	// the report of the Send that let it go is recorded.
	expect(answers(await complete('w-taken', [{ item_id: items[2].item_id, outcome: 'released' }], at('16:52')))).toEqual([
		[items[2].item_id, 'claimed', false, 'already_sending'],
	]);
	expect(answers(await complete('w-taken', [sent(items[2])], at('16:52')))).toEqual([[items[2].item_id, 'sent', true, null]]);
	const before = await written(userId);

	expect(await complete('w-taken', batch, at('16:53'))).toEqual(first);
	expect(answers(await complete('w-taken', [{ item_id: items[0].item_id, outcome: 'released' }, failed(items[1])], at('16:53')))).toEqual([
		[items[0].item_id, 'cancelled', false, 'cancelled'],
		[items[1].item_id, 'cancelled', false, 'cancelled'],
	]);
	expect(await written(userId)).toEqual(before);
});
