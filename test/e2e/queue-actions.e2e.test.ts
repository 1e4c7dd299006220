// workflows/queue-actions.json in real n8n 2.41.1 (this package installed from its tarball) against
// the local stack: Take Lead (200, harmless twice, 404 for an unknown or another owner's lead, 400
// malformed), settling a dead message (200, already_settled, 409, 404, 400 naming outcome), the export as a CSV download (streamed through n8n's binary data, headers only when
// empty), the metrics; 403 without the key; no answer holds a stack trace and a refused call writes nothing.
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import { EXPORT_COLUMNS } from '../../nodes/QueueLedger/helpers/csv';
import { testStack } from '../helpers/stack';
import { leadStatus, leadsOf, messagesOf, prepareDue, queueOwner } from '../nodes/QueueLedger/support/queue';
import { claim, complete, failed, preparedOwner, TOMORROW } from '../db/queue/fixtures';
import { startN8n, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `e2e-${randomUUID()}` };
let n8n: RunningN8n;
let owner: string;
const headers = (who = owner) => ({ [KEY.name]: KEY.value, 'X-Leadflow-Owner': who });

beforeAll(async () => {
	const stack = testStack();
	owner = await queueOwner();
	n8n = await startN8n({
		workflows: ['workflows/queue-actions.json'],
		credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } },
	});
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
});

const noStackTrace = (body: unknown) => expect(JSON.stringify(body)).not.toMatch(/at \S+ \(|\.(js|ts):\d+/);

test('in real n8n: the export downloads the queue as CSV, headers only for an empty day; 400 without a day', async () => {
	const leads = await leadsOf(owner, 3, (index) => ['=cmd|\'/C calc\'!A0', 'Zoë', 'Tom'][index]);
	const prepared = await prepareDue(owner);
	const answer = await n8n.callWebhook('leadflow/queue/export', { headers: headers(), query: { day: prepared.day } });
	expect(answer.statusCode).toBe(200);
	expect(answer.headers['content-type']).toBe('text/csv; charset=utf-8');
	expect(answer.headers['content-disposition']).toBe(`attachment; filename="leadflow-queue-${prepared.day}-${prepared.day}.csv"`);
	const records = parse(answer.body as string, { bom: true }) as string[][];
	expect(records[0]).toEqual([...EXPORT_COLUMNS]);
	expect(records.slice(1).map((row) => row[EXPORT_COLUMNS.indexOf('lead_id')]).sort()).toEqual(leads.map((lead) => lead.leadId).sort());
	expect(records.slice(1).map((row) => row[EXPORT_COLUMNS.indexOf('lead_name')]).sort()).toEqual(["'=cmd|'/C calc'!A0", 'Tom', 'Zoë']);

	const empty = await n8n.callWebhook('leadflow/queue/export', { headers: headers(), query: { day: prepared.day, status: 'dead' } });
	expect(empty.statusCode).toBe(200);
	expect(parse(empty.body as string, { bom: true })).toEqual([[...EXPORT_COLUMNS]]);

	const noDay = await n8n.callWebhook('leadflow/queue/export', { headers: headers() });
	expect(noDay.statusCode).toBe(400);
	expect(noDay.body).toMatchObject({ status: 400, error: 'From Day is empty' });
	noStackTrace(noDay.body);
});

test('in real n8n: take a lead (200, harmless twice), 404 unknown or another owner\'s, 400 malformed, 403 without the key; nothing written when refused', async () => {
	const stranger = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const [other] = await leadsOf(stranger, 1);
	const takeOf = (leadId: string, who = owner, withKey = true) =>
		n8n.callWebhook(`leadflow/leads/${leadId}/take`, { method: 'POST', headers: withKey ? headers(who) : { 'X-Leadflow-Owner': who }, body: { reason: 'Called back' } });

	const taken = await takeOf(lead.leadId);
	expect(taken.statusCode).toBe(200);
	expect(taken.body).toMatchObject({ lead_id: lead.leadId, status: 'human_controlled', already_taken: false });
	expect((await takeOf(lead.leadId)).body).toMatchObject({ already_taken: true, cancelled: [] });

	const foreign = await takeOf(other.leadId);
	expect(foreign.statusCode).toBe(404);
	const unknown = await takeOf(randomUUID());
	expect(unknown.statusCode).toBe(404);
	const malformed = await takeOf('lead-42');
	expect(malformed.statusCode).toBe(400);
	expect(malformed.body).toMatchObject({ status: 400, error: 'The lead ID "lead-42" is not a UUID' });
	const noKey = await takeOf(other.leadId, stranger, false);
	expect(noKey.statusCode).toBe(403);
	expect(await leadStatus(other.leadId)).toBe('new');
	expect((await messagesOf(stranger)).length).toBe(0);
	for (const answer of [foreign, unknown, malformed]) noStackTrace(answer.body);
});

test('in real n8n: settle a lead whose message ended dead uncertain (200 delivered, harmless twice; 409 the other outcome; 404 another owner\'s; 400 naming outcome)', async () => {
	const { userId } = await preparedOwner(1, { max_attempts: 3 });
	const [message] = await claim('w-settle-e2e', userId, `${TOMORROW}T16:00:00.000Z`);
	await complete('w-settle-e2e', [failed(message, { code: 'uncertain', message: 'No answer within 30000 ms: it may have been sent', permanent: true })], `${TOMORROW}T16:01:00.000Z`);
	const settleOf = (body: unknown, who = userId) => n8n.callWebhook(`leadflow/leads/${message.lead_id}/settle`, { method: 'POST', headers: headers(who), body: body as Record<string, unknown> });

	const badOutcome = await settleOf({ outcome: 'arrived' });
	expect(badOutcome.statusCode).toBe(400);
	expect(badOutcome.body).toMatchObject({ status: 400, field: 'outcome' });
	const foreign = await settleOf({ outcome: 'delivered' }, owner);
	expect(foreign.statusCode).toBe(404);
	expect(foreign.body).toMatchObject({ status: 404, field: 'leadId' });
	expect(await leadStatus(message.lead_id)).toBe('queued');

	const settled = await settleOf({ outcome: 'delivered', reason: 'She answered' });
	expect(settled.statusCode).toBe(200);
	expect(settled.body).toMatchObject({ lead_id: message.lead_id, outcome: 'delivered', status: 'contacted', already_settled: false, error_code: 'uncertain' });
	expect((await settleOf({ outcome: 'delivered' })).body).toMatchObject({ already_settled: true });
	const other = await settleOf({ outcome: 'send_again' });
	expect(other.statusCode).toBe(409);
	expect(other.body).toMatchObject({ status: 409, field: 'outcome', refusal: 'not_settleable' });
	expect(await leadStatus(message.lead_id)).toBe('contacted');
	for (const answer of [badOutcome, foreign, other]) noStackTrace(answer.body);
});

test('in real n8n: the metrics per day with totals; 400 for a bad range', async () => {
	const fresh = await queueOwner();
	await leadsOf(fresh, 2);
	const prepared = await prepareDue(fresh);
	const answer = await n8n.callWebhook('leadflow/queue/metrics', { headers: headers(fresh), query: { from: prepared.day, to: prepared.day } });
	expect(answer.statusCode).toBe(200);
	expect(answer.body).toEqual({ days: [expect.objectContaining({ day: prepared.day, queued: 2, sent: 0 })], totals: { queued: 2, sent: 0, failed: 0, cancelled: 0, taken_over: 0 } });
	const backwards = await n8n.callWebhook('leadflow/queue/metrics', { headers: headers(fresh), query: { from: '2026-12-05', to: '2026-12-01' } });
	expect(backwards.statusCode).toBe(400);
	expect(backwards.body).toMatchObject({ error: 'To Day 2026-12-01 is before From Day 2026-12-05' });
	noStackTrace(backwards.body);
});
