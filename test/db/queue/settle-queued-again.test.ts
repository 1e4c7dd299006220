// queue_settle_lead after migration 20261201002941_queue_settle_uncertain_after_give_back.sql
// (review RF1 F1, F2). F1: a message dead `uncertain` whose lead was queued again (given back after
// a take-over, or set to new by the owner's app) can still be settled `delivered`: the lead becomes
// contacted and the leads' trigger cancels the queued backlog item, so no Prepare sends it again;
// the taken-over refusal no longer advises giving it back first. F2: a settle beside Prepare never
// deadlocks (Prepare locks backlog items, then leads; the settle no longer waits for a backlog item
// while holding the lead). The interleaving is forced by a third transaction holding the lead's
// message, and each step waits until the database shows the previous one waiting for its lock.
import { Client } from 'pg';
import { statusMeaningInWords } from '../../../console/src/queue-words';
import type { SettleLeadResult } from '../../../nodes/shared/contract';
import { testStack, withDb } from '../../helpers/stack';
import { claim, complete, failed, ledger, messages, preparedOwner, prepare, rpc, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const UNCERTAIN = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };
const TEMPLATE = { code: '132001', message: 'Template name does not exist in the translation', permanent: true };

const settle = (leadId: string, outcome: string, userId: string, now = at('18:00')) =>
	rpc<SettleLeadResult[]>('queue_settle_lead', { p_lead_id: leadId, p_outcome: outcome, p_actor_id: null, p_reason: null, p_now: now, p_user_id: userId }).then((rows) => rows[0]);

const leadState = (leadId: string) =>
	withDb(async (db) => {
		const lead = (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0].status;
		const backlog = (await db.query<{ status: string }>('select status from public.lead_processing_queue where lead_id = $1', [leadId])).rows.map((row) => row.status);
		return { lead, backlog };
	});

const setNew = (leadId: string) => withDb((db) => db.query(`update public.leads set status = 'new' where id = $1`, [leadId]));

async function waitingForLock(observer: Client, pid: number): Promise<void> {
	for (let i = 0; i < 500; i++) {
		const { rows } = await observer.query('select 1 from pg_locks where pid = $1 and not granted', [pid]);
		if (rows.length) return;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	throw new Error(`backend ${pid} never waited for a lock`);
}

/** A settle and a Prepare at once, in the order that deadlocked: the settle holds the lead, Prepare the backlog item. */
async function settleBesidePrepare(userId: string, leadId: string, itemId: string, outcome: string) {
	const url = testStack().dbUrl;
	const [holder, settler, preparer, observer] = [0, 1, 2, 3].map(() => new Client({ connectionString: url }));
	await Promise.all([holder, settler, preparer, observer].map((client) => client.connect()));
	try {
		const pid = async (client: Client) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
		const [settlerPid, preparerPid] = [await pid(settler), await pid(preparer)];
		await holder.query('begin');
		await holder.query('select 1 from public.whatsapp_message_queue where id = $1 for update', [itemId]);
		// The settle locks the lead, then waits for its message (held above).
		const settled = settler
			.query<SettleLeadResult>('select * from public.queue_settle_lead($1, $2, null, null, $3, $4)', [leadId, outcome, at('18:00'), userId])
			.then((result) => ({ answer: result.rows[0] }), (error: { code?: string; message: string }) => ({ error: `${error.code} ${error.message}` }));
		await waitingForLock(observer, settlerPid);
		// Prepare takes the queued backlog item, then waits for the lead (held by the settle).
		const prepared = preparer
			.query<{ queued: number }>('select * from public.queue_prepare($1, $2)', [userId, at('20:00')])
			.then((result) => ({ queued: result.rows[0].queued }), (error: { code?: string; message: string }) => ({ error: `${error.code} ${error.message}` }));
		await waitingForLock(observer, preparerPid);
		await holder.query('commit');
		return { settled: await settled, prepared: await prepared };
	} finally {
		await Promise.all([holder, settler, preparer, observer].map((client) => client.end()));
	}
}

describe('queue_settle_lead on a lead queued again after its message died', () => {
	it('taken over, uncertain: the refusal does not advise giving it back; given back, delivered is accepted and no Prepare sends again', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-ga', userId, at('16:00'));
		await complete('w-settle-ga', [failed(m, UNCERTAIN)], at('16:01'));
		await takeLead(m.lead_id, { userId, now: at('16:30') });

		const refused = await settle(m.lead_id, 'delivered', userId);
		expect(refused).toMatchObject({ settled: false, refusal: 'not_settleable', field: 'lead_id', status: 'human_controlled' });
		expect(refused.explanation).toContain('If it arrived, set it to contacted in your app');
		expect(refused.explanation).toContain('giving it back, set to new, queues it and sends a new message');
		expect(refused.explanation).not.toContain('first, then settle');

		// Given back: its backlog item is queued again (the leads' trigger).
		await setNew(m.lead_id);
		expect(await leadState(m.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
		const done = await settle(m.lead_id, 'delivered', userId, at('18:05'));
		expect(done).toMatchObject({ settled: true, already_settled: false, refusal: null, status: 'contacted', error_code: 'uncertain' });
		// contacted: the leads' trigger cancels the queued backlog item.
		expect(await leadState(m.lead_id)).toEqual({ lead: 'contacted', backlog: ['cancelled'] });
		expect((await ledger(userId)).filter((row) => row.reason === 'dead_message_settled' && row.lead_id === m.lead_id && row.queue === 'leads')).toHaveLength(1);
		expect((await prepare(userId, at('20:00')))[0].queued).toBe(0);
		expect((await messages(userId)).filter((row) => row.lead_id === m.lead_id).map((row) => row.status)).toEqual(['dead']);
		expect((await settle(m.lead_id, 'delivered', userId, at('18:10'))).already_settled).toBe(true);
	});

	it('queued, uncertain, set to new by the owner\'s app: delivered is accepted; send_again is refused saying how it was queued again', async () => {
		const { userId } = await preparedOwner(2, { max_attempts: 3 });
		const [a, b] = await claim('w-settle-gb', userId, at('16:00'));
		await complete('w-settle-gb', [failed(a, UNCERTAIN), failed(b, UNCERTAIN)], at('16:01'));
		await setNew(a.lead_id);
		await setNew(b.lead_id);
		expect(await leadState(a.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });

		expect(await settle(a.lead_id, 'delivered', userId)).toMatchObject({ settled: true, status: 'contacted' });
		expect(await leadState(a.lead_id)).toEqual({ lead: 'contacted', backlog: ['cancelled'] });

		const again = await settle(b.lead_id, 'send_again', userId);
		expect(again).toMatchObject({ settled: false, refusal: 'not_settleable', field: 'lead_id', status: 'new' });
		expect(again.explanation).toContain('queued again when it was set to new');
		expect(again.explanation).not.toContain('by itself');
		expect(await leadState(b.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });
	});

	it('uncertain, set to new then queued by hand: the send_again refusal and the row\'s words do not say the next Prepare sends it, as Prepare skips it (review RMF1 F4)', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-gh', userId, at('16:00'));
		await complete('w-settle-gh', [failed(m, UNCERTAIN)], at('16:01'));
		await setNew(m.lead_id);
		await withDb((db) => db.query(`update public.leads set status = 'queued' where id = $1`, [m.lead_id]));
		expect(await leadState(m.lead_id)).toEqual({ lead: 'queued', backlog: ['queued'] });

		const again = await settle(m.lead_id, 'send_again', userId);
		expect(again).toMatchObject({ settled: false, refusal: 'not_settleable', field: 'lead_id', status: 'queued' });
		expect(again.explanation).not.toContain('the next Prepare sends it');
		expect(again.explanation).toContain('Prepare takes only new leads, so none sends it while the lead stays queued: set the lead to new in your app');

		const page = await rpc<{ rows: { rows: Array<{ lead_id: string; status: string; last_error: string | null; lead_status: string; settle_outcomes: string[] }> } }>(
			'console_queue_page', { p_user_id: userId, p_day: TOMORROW, p_now: at('19:00') });
		const row = page.rows.rows.find((r) => r.lead_id === m.lead_id)!;
		expect(row).toMatchObject({ status: 'dead', lead_status: 'queued', settle_outcomes: ['delivered'] });
		const words = statusMeaningInWords(row.status, row.last_error, row.lead_status, row.settle_outcomes);
		expect(words).not.toContain('the next Prepare sends');
		expect(words).toContain('Prepare takes only new leads, so nothing is sent while it stays queued');

		// What the words say: Prepare skips it.
		expect((await prepare(userId, at('20:00')))[0]).toMatchObject({ queued: 0, skipped: expect.objectContaining({ not_new: 1 }) });
	});

	it('a settle beside Prepare never deadlocks: send_again of a lead queued again by itself (132001)', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-gc', userId, at('16:00'));
		await complete('w-settle-gc', [failed(m, TEMPLATE)], at('16:01'));
		expect(await leadState(m.lead_id)).toEqual({ lead: 'new', backlog: ['queued'] });

		const { settled, prepared } = await settleBesidePrepare(userId, m.lead_id, m.item_id, 'send_again');
		expect(prepared).toEqual({ queued: 1 });
		expect(settled).toMatchObject({ answer: { settled: false, refusal: 'not_settleable', field: 'lead_id' } });
		expect((settled as { answer: SettleLeadResult }).answer.explanation).toContain('queued again by itself');
	});

	it('a settle beside Prepare never deadlocks: delivered of an uncertain lead set to new is refused, nothing written, and both refusals advise contacted, which cancels the new message (review RMF1 F1)', async () => {
		const { userId } = await preparedOwner(1, { max_attempts: 3 });
		const [m] = await claim('w-settle-gd', userId, at('16:00'));
		await complete('w-settle-gd', [failed(m, UNCERTAIN)], at('16:01'));
		await setNew(m.lead_id);

		const { settled, prepared } = await settleBesidePrepare(userId, m.lead_id, m.item_id, 'delivered');
		expect(prepared).toEqual({ queued: 1 });
		expect(settled).toMatchObject({ answer: { settled: false, refusal: 'not_settleable', field: 'lead_id' } });
		const first = (settled as { answer: SettleLeadResult }).answer.explanation;
		expect(first).toContain('being given a new message by Prepare right now');
		expect(first).toContain('set the lead to contacted in your app');
		expect(first).not.toContain('try again');
		expect((await ledger(userId)).filter((row) => row.reason === 'dead_message_settled')).toHaveLength(0);
		expect((await leadState(m.lead_id)).lead).toBe('queued');

		// Trying again: the lead's last message is now Prepare's new one; the refusal says what works.
		const again = await settle(m.lead_id, 'delivered', userId, at('18:01'));
		expect(again).toMatchObject({ settled: false, refusal: 'not_settleable', field: 'lead_id', status: 'queued' });
		// The advice is its own sentence after the rule (review RMMF1 F1: inside the state it read as if
		// contacted would not help).
		expect(again.explanation).toContain(
			'has its last message waiting to be sent (queued): only a lead whose last message ended dead can be settled. It was written after its message before died uncertain (that one may have arrived): if it did, set the lead to contacted in your app, and this new message is cancelled before it is sent.',
		);

		// Claimed by the next day's run, its send not begun: the same advice (review RMMF1 F1: none was given,
		// though the leads' trigger cancels a claimed message whose send has not begun too).
		const DAY2 = new Date(Date.parse(TOMORROW) + 86_400_000).toISOString().slice(0, 10);
		const [next] = await claim('w-settle-gd-next', userId, `${DAY2}T16:30:00.000Z`);
		expect(next.lead_id).toBe(m.lead_id);
		const whileClaimed = await settle(m.lead_id, 'delivered', userId, `${DAY2}T16:30:05.000Z`);
		expect(whileClaimed).toMatchObject({ settled: false, refusal: 'not_settleable', message_status: 'claimed' });
		expect(whileClaimed.explanation).toContain('has its last message claimed by a run, not sent yet: only a lead whose last message ended dead can be settled. It was written after');
		expect(whileClaimed.explanation).toContain('set the lead to contacted in your app, and this new message is cancelled before it is sent.');

		// Following it: contacted cancels the new message and its backlog item; nothing is handed out.
		await withDb((db) => db.query(`update public.leads set status = 'contacted' where id = $1`, [m.lead_id]));
		expect(await leadState(m.lead_id)).toEqual({ lead: 'contacted', backlog: ['cancelled'] });
		expect((await messages(userId)).filter((row) => row.lead_id === m.lead_id).map((row) => row.status).sort()).toEqual(['cancelled', 'dead']);
		expect(await claim('w-settle-gd2', userId, `${DAY2}T16:30:00.000Z`)).toHaveLength(0);
	});
});
