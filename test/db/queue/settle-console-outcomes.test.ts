// console_queue_page's settle_outcomes (migration 20261201002942_console_queue_page_settle_outcomes.sql,
// review RF1 F3): each row lists the outcomes queue_settle_lead accepts for it now, so the console
// shows "It arrived" / "Send again" only where the database would settle. Checked against the
// function itself: each row's each outcome is tried in a transaction rolled back.
import type { QueuePage } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { claim, complete, failed, preparedOwner, prepare, rpc, takeLead, TOMORROW } from './fixtures';

const at = (time: string, day = TOMORROW) => `${day}T${time}:00.000Z`;
const UNCERTAIN = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };
const TEMPLATE = { code: '132001', message: 'Template name does not exist in the translation', permanent: true };
const setNew = (leadId: string) => withDb((db) => db.query(`update public.leads set status = 'new' where id = $1`, [leadId]));

const accepted = (leadId: string, outcome: string, userId: string) =>
	withDb(async (db) => {
		await db.query('begin');
		try {
			// Settled now (already_settled answers settled too, but changes nothing: no button for it).
			const { rows } = await db.query<{ settled: boolean; already_settled: boolean }>('select settled, already_settled from public.queue_settle_lead($1, $2, null, null, $3, $4)', [leadId, outcome, at('18:00'), userId]);
			return rows[0].settled && !rows[0].already_settled;
		} finally {
			await db.query('rollback');
		}
	});

it('each dead row lists the outcomes queue_settle_lead accepts now, and only those', async () => {
	const { userId } = await preparedOwner(7, { max_attempts: 3 });
	const items = await claim('w-settle-co', userId, at('16:00'));
	const [waiting, settled, setByApp, template, taken, nextDay, wasSentAgain] = items;
	await complete('w-settle-co', [failed(template, TEMPLATE), ...[waiting, settled, setByApp, taken, nextDay, wasSentAgain].map((item) => failed(item, UNCERTAIN))], at('16:01'));
	await rpc('queue_settle_lead', { p_lead_id: settled.lead_id, p_outcome: 'delivered', p_actor_id: null, p_reason: null, p_now: at('16:10'), p_user_id: userId });
	await rpc('queue_settle_lead', { p_lead_id: wasSentAgain.lead_id, p_outcome: 'send_again', p_actor_id: null, p_reason: null, p_now: at('16:10'), p_user_id: userId });
	await setNew(setByApp.lead_id);
	await setNew(nextDay.lead_id);
	await takeLead(taken.lead_id, { userId, now: at('16:20') });
	// The next day's Prepare: setByApp, nextDay and wasSentAgain get a new message (their dead one is no longer the last).
	await prepare(userId, at('17:00'));

	const page = await rpc<QueuePage>('console_queue_page', { p_user_id: userId, p_day: TOMORROW, p_now: at('17:30') });
	const rows = page.rows?.rows ?? [];
	const outcomes = Object.fromEntries(rows.map((row) => [row.lead_id, row.settle_outcomes]));
	expect(outcomes).toEqual({
		[waiting.lead_id]: ['delivered', 'send_again'],
		[settled.lead_id]: [],
		[setByApp.lead_id]: [],
		[template.lead_id]: [],
		[taken.lead_id]: [],
		[nextDay.lead_id]: [],
		[wasSentAgain.lead_id]: [],
	});
	for (const row of rows) {
		for (const outcome of ['delivered', 'send_again'] as const) {
			expect({ lead: row.lead_id, outcome, accepted: await accepted(row.lead_id, outcome, userId) }).toEqual({ lead: row.lead_id, outcome, accepted: row.settle_outcomes.includes(outcome) });
		}
	}
});

it('a lead set to new after an uncertain death, not prepared yet: delivered only', async () => {
	const { userId } = await preparedOwner(1, { max_attempts: 3 });
	const [m] = await claim('w-settle-cp', userId, at('16:00'));
	await complete('w-settle-cp', [failed(m, UNCERTAIN)], at('16:01'));
	await setNew(m.lead_id);
	const page = await rpc<QueuePage>('console_queue_page', { p_user_id: userId, p_day: TOMORROW, p_now: at('16:30') });
	const [row] = page.rows?.rows ?? [];
	expect(row.settle_outcomes).toEqual(['delivered']);
	expect(await accepted(m.lead_id, 'delivered', userId)).toBe(true);
	expect(await accepted(m.lead_id, 'send_again', userId)).toBe(false);
});
