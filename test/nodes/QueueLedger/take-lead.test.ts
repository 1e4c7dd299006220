// Queue Ledger's Take Lead and Prepare Tomorrow through n8n's engine against the local stack. Take
// Lead while a worker holds the lead's message: the lead becomes human-controlled and its messages
// cancelled in one go, the worker's Complete is refused, nothing is recorded as sent, the ledger shows
// the cancel; the lead's Messenger follow-ups stop; twice is harmless; an unknown lead, or another
// owner's, is not_found. Prepare Tomorrow fills the owner's tomorrow once.
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { createPipelineWorld } from '../../db/pipelines/fixtures';
import { withDb } from '../../helpers/stack';
import { addLeads, ledgerOf, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, runQueue, supabaseCredentials } from './support/queue';

const take = (entries: IDataObject[], extra: IDataObject = {}, continueOnFail = false) =>
	runQueue(entries, { resource: 'lead', operation: 'takeLead', reason: 'Called them back myself', ...extra }, supabaseCredentials(), { continueOnFail });

test('taking a lead whose message a worker holds: cancelled at once, the worker\'s Complete refused, nothing recorded as sent, the ledger shows the cancel', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', ownerUserId: owner, options: { worker: 'worker-a' } });
	const [message] = claim.outputs[0];

	const { result, outputs } = await take([{ lead_id: lead.leadId }], { ownerUserId: owner, actorId: owner });
	expect(result.error).toBeUndefined();
	expect(outputs[0]).toEqual([
		expect.objectContaining({
			lead_id: lead.leadId,
			user_id: owner,
			status: 'human_controlled',
			already_taken: false,
			cancelled: expect.arrayContaining([{ queue: 'whatsapp_message_queue', item_id: message.item_id, from_status: 'claimed' }]),
		}),
	]);
	expect(await leadStatus(lead.leadId)).toBe('human_controlled');

	const complete = await runQueue([{ item_id: message.item_id, worker: message.worker, outcome: 'sent', message_id: 'wamid.IN-FLIGHT' }], { resource: 'message', operation: 'complete' });
	expect(complete.outputs[0]).toEqual([expect.objectContaining({ accepted: false, reason: 'cancelled', status: 'cancelled' })]);
	expect(await messagesOf(owner)).toEqual([expect.objectContaining({ status: 'cancelled', message_id: null })]);
	const ledger = (await ledgerOf(owner)).filter((row) => row.item_id === message.item_id);
	expect(ledger.map((row) => [row.from_status, row.to_status, row.actor])).toEqual([
		[null, 'queued', 'automation'],
		['queued', 'claimed', 'automation'],
		['claimed', 'cancelled', 'user'],
	]);

	const again = await take([{ lead_id: lead.leadId }], { ownerUserId: owner });
	expect(again.outputs[0]).toEqual([expect.objectContaining({ status: 'human_controlled', already_taken: true, cancelled: [] })]);
});

test('a lead with a Messenger conversation: its follow-ups stop (human_takeover)', async () => {
	const world = await createPipelineWorld();
	await world.rule();
	const conversation = await world.contact();
	await withDb((db) =>
		db.query(`insert into public.user_queue_settings (user_id, message) values ($1, '{"type": "text", "text": "Hi"}')`, [world.userId]),
	);
	const [added] = await addLeads([{ user_id: world.userId, name: 'Messenger lead', phone: null, conversation_id: conversation }]);
	const { outputs } = await take([{ lead_id: added.lead_id }], { ownerUserId: world.userId });
	expect(outputs[0]).toEqual([expect.objectContaining({ status: 'human_controlled', stopped_rules: 1 })]);
	const stops = await withDb(async (db) => (await db.query<{ reason: string }>('select reason from public.ai_automation_stops where conversation_id = $1', [conversation])).rows);
	expect(stops.map((stop) => stop.reason)).toEqual(['human_takeover']);
});

test('an unknown lead, or another owner\'s, is not_found; a malformed id or reason is invalid_input; nothing changes', async () => {
	const owner = await queueOwner();
	const stranger = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const { outputs } = await take(
		[
			{ lead_id: randomUUID(), owner },
			{ lead_id: lead.leadId, owner: stranger },
			{ lead_id: 'lead-1', owner },
			{ lead_id: lead.leadId, owner, reason: 'x'.repeat(2001) },
		],
		{ ownerUserId: '={{ $json.owner }}', leadId: '={{ $json.lead_id }}', reason: '={{ $json.reason ?? "" }}' },
		true,
	);
	expect(outputs[0].map((one) => (one.error as IDataObject).code)).toEqual(['not_found', 'not_found', 'invalid_input', 'invalid_input']);
	expect((outputs[0][2].error as IDataObject).message).toBe('The lead ID "lead-1" is not a UUID');
	expect((outputs[0][3].error as IDataObject).message).toMatch(/^Reason is too long: 2001 characters/);
	expect(await leadStatus(lead.leadId)).toBe('new');
});

// The node and queue_take_lead apply one rule to the reason (test/db/queue/take-lead.test.ts): text
// with line breaks, at most 2,000 characters once trimmed. A reason from an app's text box takes the
// lead over; one the node refuses never reaches the database.
test('a reason of several lines, or of 600 characters, takes the lead over and is kept as the note; one of 2,001 is refused naming the reason', async () => {
	const owner = await queueOwner();
	const leads = await leadsOf(owner, 3);
	const reasons = ['Customer called back.\nWants a quote by Friday.', 'y'.repeat(600), 'z'.repeat(2001)];
	const { outputs } = await take(
		leads.map((lead, index) => ({ lead_id: lead.leadId, reason: reasons[index] })),
		{ ownerUserId: owner, reason: '={{ $json.reason }}' },
		true,
	);
	expect(outputs[0].slice(0, 2)).toEqual([
		expect.objectContaining({ lead_id: leads[0].leadId, status: 'human_controlled', already_taken: false }),
		expect.objectContaining({ lead_id: leads[1].leadId, status: 'human_controlled', already_taken: false }),
	]);
	expect(outputs[0][2].error).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^Reason is too long: 2001 characters/) });
	expect(await Promise.all(leads.map((lead) => leadStatus(lead.leadId)))).toEqual(['human_controlled', 'human_controlled', 'new']);
	const notes = await withDb(async (db) =>
		(
			await db.query<{ item_id: string; note: string }>(
				`select item_id, detail ->> 'note' as note from public.queue_ledger where user_id = $1 and queue = 'leads' and reason = 'human_takeover' order by id`,
				[owner],
			)
		).rows,
	);
	expect(notes).toEqual([
		{ item_id: leads[0].leadId, note: reasons[0] },
		{ item_id: leads[1].leadId, note: reasons[1] },
	]);
});

test('Prepare Tomorrow fills the owner\'s tomorrow once: the same queue when run again', async () => {
	const owner = await queueOwner({ daily_capacity: 2 });
	await leadsOf(owner, 3);
	const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
	const before = tomorrow();
	const first = await runQueue([{}], { resource: 'message', operation: 'prepareTomorrow', ownerUserId: owner });
	const after = tomorrow();
	expect(first.result.error).toBeUndefined();
	expect(first.outputs[0]).toEqual([expect.objectContaining({ user_id: owner, time_zone: 'UTC', capacity: 2, queued: 2, already_queued: 0, skipped: expect.objectContaining({ over_capacity: 1 }) })]);
	expect([before, after]).toContain(first.outputs[0][0].day);
	const queued = await messagesOf(owner);

	const second = await runQueue([{}], { resource: 'message', operation: 'prepareTomorrow', ownerUserId: owner });
	expect(second.outputs[0]).toEqual([expect.objectContaining({ queued: 0, already_queued: 2 })]);
	expect(await messagesOf(owner)).toEqual(queued);
});
