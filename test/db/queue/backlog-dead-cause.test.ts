// A backlog item (lead_processing_queue) that dies with its message carries the message's cause:
// its last_error is the message's error, and its ledger row the message's reason and detail. Before
// migration 20261201002430_queue_backlog_dead_carries_cause.sql, queue_complete and queue_claim's
// lease-expiry path marked it dead without an error, so the ledger trigger wrote max_attempts with
// no detail: a message that died on its first attempt of 3 (131026, 131050, Send's uncertain) read
// `permanent_error` for the message and `max_attempts`, attempt 0, for its backlog item.
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, preparedOwner, rpc, TOMORROW } from './fixtures';

const at = (time: string) => `${TOMORROW}T${time}:00.000Z`;

/** The lead's two rows that ended it dead, the message's and its backlog item's, and the backlog item's own last_error. */
async function deathOf(userId: string, leadId: string) {
	const rows = (await ledger(userId)).filter((row) => row.lead_id === leadId && row.to_status === 'dead');
	const backlogError = await withDb(
		async (db) => (await db.query<{ last_error: Record<string, unknown> | null }>('select last_error from public.lead_processing_queue where lead_id = $1', [leadId])).rows[0].last_error,
	);
	const byQueue = (queue: string) => rows.filter((row) => row.queue === queue).map((row) => ({ reason: row.reason, detail: row.detail }));
	return { message: byQueue('whatsapp_message_queue'), backlog: byQueue('lead_processing_queue'), backlogError };
}

describe('a message dead on its first attempt of 3', () => {
	it.each([
		['131026 (not on WhatsApp)', { code: '131026', message: '(#131026) Message undeliverable', permanent: true }],
		['131050 (stopped marketing messages)', { code: '131050', message: '(#131050) User has stopped marketing messages', permanent: true }],
		["Send's uncertain (no answer)", { code: 'uncertain', message: 'No answer within 30000 ms: it may have been sent', permanent: true }],
		['132001 (template missing)', { code: '132001', message: '(#132001) Template name does not exist in the translation', permanent: true }],
	])('%s: the backlog item\'s ledger row is permanent_error with the error, as the message\'s, never max_attempts', async (_label, error) => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [item] = await claim('w-cause', userId, at('10:00'));
		expect(item.attempt).toBe(1);
		expect((await complete('w-cause', [failed(item, error)], at('10:01')))[0]).toMatchObject({ accepted: true, status: 'dead' });
		const death = await deathOf(userId, item.lead_id);
		expect(death.message).toEqual([{ reason: 'permanent_error', detail: error }]);
		expect(death.backlog).toEqual([{ reason: 'permanent_error', detail: error }]);
		expect(death.backlogError).toEqual(error);
	});
});

it('a retryable error on the last attempt: max_attempts for both, with the error; the backlog item then queued again', async () => {
	const { userId } = await preparedOwner(1, { max_attempts: 2, retry_backoff_seconds: 60 });
	const busy = { code: '131000', message: '(#131000) Something went wrong' };
	const [first] = await claim('w-1', userId, at('10:00'));
	expect((await complete('w-1', [failed(first, busy)], at('10:01')))[0]).toMatchObject({ status: 'failed' });
	const [second] = await claim('w-2', userId, at('10:10'));
	expect(second).toMatchObject({ item_id: first.item_id, attempt: 2 });
	expect((await complete('w-2', [failed(second, busy)], at('10:11')))[0]).toMatchObject({ status: 'dead' });
	const death = await deathOf(userId, first.lead_id);
	expect(death.message).toEqual([{ reason: 'max_attempts', detail: busy }]);
	expect(death.backlog).toEqual([{ reason: 'max_attempts', detail: busy }]);
	// Not the lead's fault: it is new again and its backlog item queued (reopened), as before.
	const backlogRows = (await ledger(userId)).filter((row) => row.queue === 'lead_processing_queue').map((row) => [row.from_status, row.to_status]);
	expect(backlogRows.slice(-2)).toEqual([
		['claimed', 'dead'],
		['dead', 'queued'],
	]);
});

it('a send begun and never reported, ended by the next claim: the backlog item\'s row is send_uncertain with the message\'s error', async () => {
	const { userId } = await preparedOwner(1);
	const [item] = await claim('w-dies', userId, at('10:00'), 1, 60);
	await rpc('queue_begin_send', { p_worker: 'w-dies', p_item_ids: [item.item_id], p_phones: [item.phone], p_lease_seconds: 60, p_now: at('10:00') });
	expect(await claim('w-next', userId, at('10:05'))).toEqual([]);
	const death = await deathOf(userId, item.lead_id);
	expect(death.message).toEqual([{ reason: 'send_uncertain', detail: expect.objectContaining({ code: 'uncertain', permanent: true }) }]);
	expect(death.backlog).toEqual(death.message);
	expect(death.backlogError).toEqual(death.message[0].detail);
});
