// The WhatsApp queue's two scheduled workflows in real n8n 2.41.1 (this package installed from its
// tarball) against the local stack and the Graph simulator's WhatsApp Cloud API:
// - workflows/queue-prepare.json, "Prepare Now" for one owner: 200 with tomorrow's numbers, the
//   same queue when called again; an owner sent in the query refused (400) before anything runs.
// - workflows/queue-run.json, "Run Now" for one owner: the due messages claimed, sent at the
//   credential's base URL and recorded, the answer counting them; a second call finds nothing; an
//   owner sent in the body refused (400), nothing claimed.
// - queue-run's schedule path: a copy whose Schedule Trigger fires every 2 seconds (its webhook off,
//   its claim for one owner so that other tests' queues stay theirs) sends each due message once,
//   however many times it fires, and records it.
// - a WhatsApp token Meta refuses (190): Run Now answers 500 with the cause, a hint and the counts,
//   the schedule's firing ends in error (Fail The Scheduled Run), the messages wait in the queue
//   with no attempt used, and once the token is accepted the schedule sends them.
// The shipped files' own schedules are switched off here: once published, n8n would run them for
// every owner of the stack.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testStack } from '../helpers/stack';
import { leadStatus, leadsOf, ledgerOf, messagesOf, prepareDue, queueOwner } from '../nodes/QueueLedger/support/queue';
import { startN8n, withoutSchedule, type E2eWorkflow, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `e2e-${randomUUID()}` };
const PHONE_NUMBER_ID = '106540352242922';
let n8n: RunningN8n;
let sims: RunningSimulators;
/** The owner the scheduled copy claims for. */
let scheduledOwner: string;

const load = (file: string) => JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', file), 'utf8')) as E2eWorkflow;

/** queue-run.json as its schedule runs it, under another id: the webhook off, every 2 seconds, one owner's queue. */
function scheduledCopy(owner: string): E2eWorkflow {
	const workflow = load('workflows/queue-run.json');
	return {
		...workflow,
		id: 'LfQueueRunSched',
		name: `${String(workflow.name)} (scheduled copy)`,
		nodes: workflow.nodes.map((node) => {
			if (node.type === 'n8n-nodes-base.webhook') return { ...node, disabled: true };
			if (node.type === 'n8n-nodes-base.scheduleTrigger') return { ...node, parameters: { rule: { interval: [{ field: 'seconds', secondsInterval: 2 }] } } };
			if (node.name === 'Claim Due Messages') return { ...node, parameters: { ...node.parameters, ownerUserId: owner } };
			return node;
		}),
	};
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const headers = (owner: string) => ({ [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner });
const noStackTrace = (body: unknown) => expect(JSON.stringify(body)).not.toMatch(/at \S+ \(|\.(js|ts):\d+/);
const sentTo = async (phones: string[]) => (await sims.graph.control.whatsappMessages()).filter((message) => phones.includes(message.to));

beforeAll(async () => {
	const stack = testStack();
	sims = await startSimulators();
	scheduledOwner = await queueOwner({ message: { type: 'text', text: 'Hello {{name}}, your turn!' } });
	const runWorkflow = withoutSchedule('workflows/queue-run.json');
	const prepareWorkflow = withoutSchedule('workflows/queue-prepare.json');
	n8n = await startN8n({
		workflows: [prepareWorkflow, runWorkflow, scheduledCopy(scheduledOwner)],
		publish: [String(prepareWorkflow.id), String(runWorkflow.id), 'LfQueueRunSched'],
		credentials: {
			httpHeaderAuth: KEY,
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
			leadflowWhatsAppApi: { phoneNumberId: PHONE_NUMBER_ID, accessToken: 'EAAG-e2e-queue-token', graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
		},
	});
	process.stderr.write(`n8n answered its webhooks ${n8n.startSeconds.toFixed(1)} s after \`n8n start\`\n`);
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await sims?.stop();
});

test('in real n8n: Prepare Now fills the owner\'s tomorrow and answers its numbers; again, the same queue; an owner in the query is refused', async () => {
	const owner = await queueOwner({ daily_capacity: 2 });
	await leadsOf(owner, 3);

	const first = await n8n.callWebhook('leadflow/queue/prepare', { method: 'POST', headers: headers(owner), body: {} });
	expect(first.statusCode).toBe(200);
	const [prepared] = (first.body as { owners: Array<Record<string, unknown>> }).owners;
	expect(prepared).toMatchObject({ user_id: owner, time_zone: 'UTC', capacity: 2, queued: 2, already_queued: 0, skipped: expect.objectContaining({ over_capacity: 1 }) });
	const queue = await messagesOf(owner);
	expect(queue.map((row) => [row.status, row.day])).toEqual([
		['queued', prepared.day],
		['queued', prepared.day],
	]);

	const again = await n8n.callWebhook('leadflow/queue/prepare', { method: 'POST', headers: headers(owner), body: {} });
	expect(again.statusCode).toBe(200);
	expect((again.body as { owners: unknown[] }).owners).toEqual([expect.objectContaining({ user_id: owner, queued: 0, already_queued: 2 })]);
	expect(await messagesOf(owner)).toEqual(queue);

	// Read as every owner, this would prepare every owner's tomorrow: refused before anything runs.
	const elsewhere = await queueOwner();
	await leadsOf(elsewhere, 1);
	const refused = await n8n.callWebhook('leadflow/queue/prepare', { method: 'POST', headers: { [KEY.name]: KEY.value }, query: { owner: elsewhere }, body: {} });
	expect(refused.statusCode).toBe(400);
	expect(refused.body).toMatchObject({ status: 400, field: 'owner', error: expect.stringMatching(/^Query parameter "owner"/), hint: expect.stringMatching(/X-Leadflow-Owner/) });
	noStackTrace(refused.body);
	expect(await messagesOf(elsewhere)).toEqual([]);
});

test('in real n8n: Run Now sends the owner\'s due messages on WhatsApp, records them, answers the counts; a second call finds nothing; an owner in the body is refused', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	await sims.graph.control.configureWhatsApp({ notOnWhatsApp: [leads[2].phone] });
	const phones = leads.map((lead) => lead.phone);

	const first = await n8n.callWebhook('leadflow/queue/run', { method: 'POST', headers: headers(owner), body: {} });
	expect(first.statusCode).toBe(200);
	expect(first.body).toEqual({ claimed: 3, sent: 2, failed: 0, dead: 1, released: 0, cancelled: 0, refused: 0, errors: [{ code: '131026', count: 1 }] });
	const delivered = await sentTo(phones);
	expect(delivered.map((message) => [message.to, message.phoneNumberId, message.text]).sort()).toEqual(
		[
			[leads[0].phone, PHONE_NUMBER_ID, `Hi ${leads[0].name}!`],
			[leads[1].phone, PHONE_NUMBER_ID, `Hi ${leads[1].name}!`],
		].sort(),
	);
	const rows = await messagesOf(owner);
	expect(rows.map((row) => row.status).sort()).toEqual(['dead', 'sent', 'sent']);
	// Each sent message carries the id WhatsApp answered, and the ledger has its claim and its send.
	const sentRows = rows.filter((row) => row.status === 'sent');
	expect(sentRows.map((row) => row.message_id).sort()).toEqual(delivered.map((message) => message.messageId).sort());
	const ledger = await ledgerOf(owner);
	for (const row of sentRows) {
		expect(ledger.filter((entry) => entry.item_id === row.id).map((entry) => [entry.from_status, entry.to_status])).toEqual([
			[null, 'queued'],
			['queued', 'claimed'],
			['claimed', 'sent'],
		]);
	}
	expect(await leadStatus(leads[0].leadId)).toBe('contacted');
	expect(await leadStatus(leads[2].leadId)).toBe('invalid');

	const second = await n8n.callWebhook('leadflow/queue/run', { method: 'POST', headers: headers(owner), body: {} });
	expect(second.statusCode).toBe(200);
	expect(second.body).toEqual({ claimed: 0, sent: 0, failed: 0, dead: 0, released: 0, cancelled: 0, refused: 0, errors: [] });
	expect(await sentTo(phones)).toHaveLength(2);

	// Read as every owner, this would claim every owner's due messages: refused, nothing claimed.
	const elsewhere = await queueOwner();
	const [waiting] = await leadsOf(elsewhere, 1);
	await prepareDue(elsewhere);
	const refused = await n8n.callWebhook('leadflow/queue/run', { method: 'POST', headers: { [KEY.name]: KEY.value }, body: { ownerUserId: elsewhere } });
	expect(refused.statusCode).toBe(400);
	expect(refused.body).toMatchObject({ status: 400, field: 'ownerUserId', error: expect.stringMatching(/^Unknown field "ownerUserId"/) });
	noStackTrace(refused.body);
	expect((await messagesOf(elsewhere)).map((row) => row.status)).toEqual(['queued']);
	expect(await sentTo([waiting.phone])).toEqual([]);
});

test('in real n8n: the schedule path, firing every 2 seconds, sends each due message once and records it', async () => {
	const leads = await leadsOf(scheduledOwner, 4);
	await prepareDue(scheduledOwner);
	const phones = leads.map((lead) => lead.phone);

	const until = Date.now() + 30_000;
	while ((await messagesOf(scheduledOwner)).some((row) => row.status !== 'sent')) {
		if (Date.now() > until) throw new Error(`The scheduled copy did not send every message within 30 s:\n${n8n.logs().slice(-3000)}`);
		await sleep(250);
	}
	// Three more firings: nothing is due any more, so nothing is sent again.
	await sleep(6_500);
	const delivered = await sentTo(phones);
	expect(delivered.map((message) => message.to).sort()).toEqual([...phones].sort());
	expect(delivered.map((message) => message.text).sort()).toEqual(leads.map((lead) => `Hello ${lead.name}, your turn!`).sort());
	const rows = await messagesOf(scheduledOwner);
	expect(rows.map((row) => row.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
	expect(rows.map((row) => row.attempts)).toEqual([1, 1, 1, 1]);

	// The firings are the schedule's own executions, and none of them failed.
	const runs = await n8n.executions({ workflowId: 'LfQueueRunSched' });
	expect(runs.length).toBeGreaterThanOrEqual(4);
	expect(runs.filter((run) => run.status !== 'success' && run.stoppedAt !== null).map((run) => run.status)).toEqual([]);
	expect(new Set(runs.map((run) => run.mode))).toEqual(new Set(['trigger']));
});

test('in real n8n: a refused WhatsApp token (190) fails the run visibly: Run Now answers 500 with the cause, a hint and the counts, the schedule\'s firing ends in error; the messages wait in the queue, no attempt used', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}!' } });
	const leads = await leadsOf(owner, 2);
	await prepareDue(owner);
	const before = (await n8n.executions({ workflowId: 'LfQueueRunSched' })).reduce((last, run) => Math.max(last, run.id), 0);
	const [scheduledLead] = await leadsOf(scheduledOwner, 1);
	for (const lead of [...leads, scheduledLead]) await sims.graph.control.addFault({ match: { recipient: lead.phone }, effect: { kind: 'graphError', code: 190 } });
	await prepareDue(scheduledOwner);

	const answer = await n8n.callWebhook('leadflow/queue/run', { method: 'POST', headers: headers(owner), body: {} });
	expect(answer.statusCode).toBe(500);
	expect(answer.body).toEqual({
		status: 500,
		error: expect.stringMatching(/^The WhatsApp access token was refused \(190\)/),
		field: null,
		hint: expect.stringMatching(/Leadflow WhatsApp Cloud API credential/),
		claimed: 2,
		sent: 0,
		failed: 0,
		dead: 0,
		released: 2,
		cancelled: 0,
		refused: 0,
		errors: [{ code: 'invalid_token', count: 2 }],
	});
	noStackTrace(answer.body);
	expect(JSON.stringify(answer.body)).not.toContain('EAAG-e2e-queue-token');
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([
		['queued', 0],
		['queued', 0],
	]);

	// The scheduled copy's firing that met the refusal is an execution in error, at Fail The Scheduled Run.
	const failed = await n8n.waitForExecution((run) => run.workflowId === 'LfQueueRunSched' && run.id > before && run.status === 'error', 30_000);
	expect(failed.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringMatching(/^The WhatsApp access token was refused \(190\)/) });
	// Between firings it waits in the queue, the refused runs having used no attempt (a firing may hold it for a moment).
	const rowOf = async () => (await messagesOf(scheduledOwner)).find((row) => row.lead_id === scheduledLead.leadId);
	const waiting = Date.now() + 10_000;
	while ((await rowOf())?.status !== 'queued' && Date.now() < waiting) await sleep(50);
	expect(await rowOf()).toMatchObject({ status: 'queued', attempts: 0 });

	// Token accepted again: the schedule sends it on its next firing.
	await sims.graph.control.clearFaults();
	const until = Date.now() + 30_000;
	while ((await messagesOf(scheduledOwner)).some((row) => row.lead_id === scheduledLead.leadId && row.status !== 'sent')) {
		if (Date.now() > until) throw new Error(`The scheduled copy did not send the message within 30 s of the fix:\n${n8n.logs().slice(-3000)}`);
		await sleep(250);
	}
	expect(await sentTo([scheduledLead.phone])).toHaveLength(1);
});
