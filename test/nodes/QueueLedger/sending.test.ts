// Claim → Send → Complete through n8n's engine against the local stack and the Graph simulator's
// WhatsApp Cloud API (reached through the credential's base URL): each due message is sent once,
// recorded with Meta's message id, its lead contacted; each of Meta's errors is recorded as what it
// means (dead at once when a retry cannot help, due again later for a rate limit, released untried
// when the batch stops); a message without an answer is never sent again; Complete is refused for a
// worker that does not hold the message. The ledger has a row for every change.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { startRpcCounter } from '../FacebookSend/support/rpc-counter';
import {
	chainWorkflow,
	ledgerOf,
	leadStatus,
	leadsOf,
	messagesOf,
	prepareDue,
	queueOwner,
	runQueue,
	supabaseCredentials,
	whatsappCredentials,
} from './support/queue';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});

const credentials = () => ({ ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) });

async function runChain(owner: string, options: Parameters<typeof chainWorkflow>[1] = {}) {
	const result = await runWorkflow(chainWorkflow(owner, options), { credentials: credentials() });
	expect(result.error).toBeUndefined();
	return { result, claimed: result.nodeOutputs.Claim ?? [], sent: result.nodeOutputs.Send ?? [], completed: result.nodeOutputs.Complete ?? [] };
}

async function dueQueue(count: number, settings: Parameters<typeof queueOwner>[0] = {}) {
	const owner = await queueOwner(settings);
	const leads = await leadsOf(owner, count);
	expect((await prepareDue(owner)).queued).toBe(count);
	return { owner, leads };
}

test('each due message is sent once over the Cloud API, recorded sent with Meta\'s id, its lead contacted; the next run finds nothing', async () => {
	const { owner, leads } = await dueQueue(3, { message: { type: 'text', text: 'Hi {{name}}, thanks for your interest!' } });
	const { claimed, sent, completed } = await runChain(owner);

	expect(claimed).toHaveLength(3);
	for (const message of claimed) {
		const lead = leads.find((one) => one.leadId === message.lead_id)!;
		expect(message).toMatchObject({ user_id: owner, phone: lead.phone, lead_name: lead.name, attempt: 1, worker: expect.stringMatching(/^n8n-/), message: { type: 'text', text: `Hi ${lead.name}, thanks for your interest!` } });
	}
	expect(sent.map((one) => one.outcome)).toEqual(['sent', 'sent', 'sent']);
	expect(completed).toEqual(claimed.map((message, index) => expect.objectContaining({ item_index: index, item_id: message.item_id, accepted: true, status: 'sent', reason: null })));

	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered.map((one) => [one.to, one.type, one.text]).sort()).toEqual(leads.map((lead) => [lead.phone, 'text', `Hi ${lead.name}, thanks for your interest!`]).sort());
	const rows = await messagesOf(owner);
	expect(rows.map((row) => [row.status, row.message_id]).sort()).toEqual(delivered.map((one) => ['sent', one.messageId]).sort());
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('contacted');
	const ledger = (await ledgerOf(owner)).filter((row) => row.queue === 'whatsapp_message_queue');
	for (const row of rows) {
		expect(ledger.filter((entry) => entry.item_id === row.id).map((entry) => [entry.from_status, entry.to_status])).toEqual([
			[null, 'queued'],
			['queued', 'claimed'],
			['claimed', 'sent'],
		]);
	}

	const again = await runChain(owner);
	expect(again.claimed).toEqual([]);
	expect(again.result.executedNodes).not.toContain('Send');
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(3);
});

test('a template message goes as a template with its language', async () => {
	await sims.graph.control.configureWhatsApp({ templates: [{ name: 'first_contact', language: 'en_GB' }] });
	const { owner } = await dueQueue(1, { message: { type: 'template', name: 'first_contact', language: 'en_GB' } });
	const { completed } = await runChain(owner);
	expect(completed).toEqual([expect.objectContaining({ accepted: true, status: 'sent' })]);
	const [delivered] = await sims.graph.control.whatsappMessages();
	expect(delivered).toMatchObject({ type: 'template', template: { name: 'first_contact', language: 'en_GB' } });
});

test('Meta\'s errors by code: not on WhatsApp and outside the window are dead at once (the lead invalid only for not on WhatsApp), a pair rate limit is due again after a rest', async () => {
	const { owner, leads } = await dueQueue(4, { max_attempts: 5, retry_backoff_seconds: 10 });
	const [notOnWhatsApp, outsideWindow, pairLimited, fine] = leads;
	await sims.graph.control.configureWhatsApp({ notOnWhatsApp: [notOnWhatsApp.phone] });
	await sims.graph.control.setLastCustomerMessageAt(outsideWindow.phone, Date.now() - 30 * 3_600_000);
	await sims.graph.control.addFault({ match: { recipient: pairLimited.phone }, effect: { kind: 'graphError', code: 131056 } });
	const before = Date.now();
	const { sent, completed } = await runChain(owner, { send: { concurrency: 1 } });

	const byPhone = new Map(sent.map((one) => [one.phone as string, one]));
	expect(byPhone.get(notOnWhatsApp.phone)).toMatchObject({ outcome: 'failed', error: { code: '131026', permanent: true, details: expect.stringMatching(/not a WhatsApp phone number/) } });
	expect(byPhone.get(outsideWindow.phone)).toMatchObject({ outcome: 'failed', error: { code: '131047', permanent: true } });
	expect(byPhone.get(pairLimited.phone)).toMatchObject({ outcome: 'failed', error: { code: '131056', permanent: false, retry_after_seconds: 60 } });
	expect(byPhone.get(fine.phone)).toMatchObject({ outcome: 'sent' });

	const statusOf = new Map(completed.map((one) => [one.item_id as string, one]));
	const rows = await messagesOf(owner);
	const rowOf = (leadId: string) => rows.find((row) => row.lead_id === leadId)!;
	expect(statusOf.get(rowOf(notOnWhatsApp.leadId).id)).toMatchObject({ accepted: true, status: 'dead' });
	expect(statusOf.get(rowOf(outsideWindow.leadId).id)).toMatchObject({ accepted: true, status: 'dead' });
	const limited = statusOf.get(rowOf(pairLimited.leadId).id) as IDataObject;
	expect(limited).toMatchObject({ accepted: true, status: 'failed' });
	expect(Date.parse(limited.next_attempt_at as string)).toBeGreaterThanOrEqual(before + 60_000);
	expect(rowOf(notOnWhatsApp.leadId).last_error).toMatchObject({ code: '131026', message: expect.stringMatching(/^\(#131026\) Message undeliverable \(Unable to deliver message/), permanent: true });
	expect(await leadStatus(notOnWhatsApp.leadId)).toBe('invalid');
	// The owner's setup (a text outside the window), not the lead's fault: back for the next Prepare.
	expect(await leadStatus(outsideWindow.leadId)).toBe('new');
	expect(await leadStatus(pairLimited.leadId)).toBe('queued');
	expect(await leadStatus(fine.leadId)).toBe('contacted');
});

// Meta's 131050 (the person stopped the business's marketing messages) and 131049 (not delivered
// "to maintain healthy ecosystem engagement") fell into "anything else" before: retried after the
// owner's backoff (10 s here), so the person who opted out was messaged again within the day, and
// again every day after (their lead set back to new), and 131049 was retried at once.
test('131050 (opted out of marketing) is dead at once, its lead kept queued (not do_not_contact), never queued again; 131049 waits a day, as Meta advises', async () => {
	const { owner, leads } = await dueQueue(3, { max_attempts: 5, retry_backoff_seconds: 10 });
	const [optedOut, ecosystem, fine] = leads;
	await sims.graph.control.addFault({ match: { recipient: optedOut.phone }, effect: { kind: 'graphError', code: 131050 } });
	await sims.graph.control.addFault({ match: { recipient: ecosystem.phone }, effect: { kind: 'graphError', code: 131049 } });
	const before = Date.now();
	const { sent, completed } = await runChain(owner, { send: { concurrency: 1 } });

	const byPhone = new Map(sent.map((one) => [one.phone as string, one]));
	expect(byPhone.get(optedOut.phone)).toMatchObject({ outcome: 'failed', error: { code: '131050', permanent: true } });
	expect(byPhone.get(ecosystem.phone)).toMatchObject({ outcome: 'failed', error: { code: '131049', permanent: false, retry_after_seconds: 86400 } });
	expect(byPhone.get(fine.phone)).toMatchObject({ outcome: 'sent' });

	const rows = await messagesOf(owner);
	const rowOf = (leadId: string) => rows.find((row) => row.lead_id === leadId)!;
	const statusOf = new Map(completed.map((one) => [one.item_id as string, one]));
	expect(statusOf.get(rowOf(optedOut.leadId).id)).toMatchObject({ accepted: true, status: 'dead' });
	const waiting = statusOf.get(rowOf(ecosystem.leadId).id) as IDataObject;
	expect(waiting).toMatchObject({ accepted: true, status: 'failed' });
	expect(Date.parse(waiting.next_attempt_at as string)).toBeGreaterThanOrEqual(before + 86_400_000);
	// The person said no to marketing: never queued again (not new, which the next Prepare would
	// take), and not do_not_contact either (they can still get service replies; migration …2320).
	expect(await leadStatus(optedOut.leadId)).toBe('queued');
	const backlog = await withDb(async (db) => (await db.query<{ status: string }>('select status from public.lead_processing_queue where lead_id = $1', [optedOut.leadId])).rows);
	expect(backlog.map((row) => row.status)).toEqual(['dead']);
	expect(await leadStatus(ecosystem.leadId)).toBe('queued');
	expect(await leadStatus(fine.leadId)).toBe('contacted');
});

// A setting stored before the database refused what Send refuses (migration 20261201002240, its
// check NOT VALID: such a row is not re-read) is still queued by Prepare; Send refuses each of its
// messages, saying where to correct it, and nothing is sent.
test('a message setting stored before the rule (en_us) is refused by Send, naming the owner\'s message setting to correct', async () => {
	const owner = await queueOwner();
	await withDb(async (db) => {
		await db.query('begin');
		await db.query('alter table public.user_queue_settings drop constraint user_queue_settings_message_sendable');
		await db.query(`update public.user_queue_settings set message = '{"type": "template", "name": "first_contact", "language": "en_us"}' where user_id = $1`, [owner]);
		await db.query(`alter table public.user_queue_settings add constraint user_queue_settings_message_sendable check (leadflow_private.queue_message_sendable(message)) not valid`);
		await db.query('commit');
	});
	await leadsOf(owner, 1);
	expect((await prepareDue(owner)).queued).toBe(1);
	const { sent, completed } = await runChain(owner);
	expect(sent).toEqual([
		expect.objectContaining({
			outcome: 'failed',
			error: {
				code: 'invalid_message',
				permanent: true,
				message: expect.stringMatching(/^The message is a template message without a language code like en_US: it is the owner's message setting \(user_queue_settings\.message\) as Prepare queued it; correct it there/),
			},
		}),
	]);
	expect(completed).toEqual([expect.objectContaining({ accepted: true, status: 'dead' })]);
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(0);
});

// A payment problem of the business account (131042) or the account locked (131031) refuses every
// message alike: like a refused token, the batch stops at the first, the rest untried and every
// message back in the queue with its attempt given back. Before, each message was sent and refused
// one by one, and retried after the backoff until max_attempts made them dead.
test.each([131042, 131031])('the business account refused (%i) stops the batch: nothing else is tried, every message back in the queue, no attempt used', async (code) => {
	const { owner } = await dueQueue(3);
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code } });
	const { sent, completed } = await runChain(owner, { send: { concurrency: 1 } });
	expect(sent[0]).toMatchObject({
		outcome: 'released',
		error: { code: 'business_account', permanent: false, message: expect.stringMatching(new RegExp(`^WhatsApp refused to send for the business account \\(${code}, `)) },
	});
	expect(sent.slice(1).map((one) => [one.outcome, (one.error as IDataObject).code])).toEqual([
		['released', 'not_attempted'],
		['released', 'not_attempted'],
	]);
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(1);
	expect(completed.map((one) => [one.accepted, one.status])).toEqual([
		[true, 'queued'],
		[true, 'queued'],
		[true, 'queued'],
	]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([
		['queued', 0],
		['queued', 0],
		['queued', 0],
	]);
});

test('the throughput limit (130429) stops the batch: the rest is released untried, its attempt not counted', async () => {
	const { owner } = await dueQueue(3);
	await sims.graph.control.addFault({ trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 130429 } });
	const { sent, completed } = await runChain(owner, { send: { concurrency: 1 } });
	expect(sent.map((one) => [one.outcome, (one.error as IDataObject).code])).toEqual([
		['failed', '130429'],
		['released', 'not_attempted'],
		['released', 'not_attempted'],
	]);
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(1);
	expect(completed.map((one) => [one.accepted, one.status])).toEqual([
		[true, 'failed'],
		[true, 'queued'],
		[true, 'queued'],
	]);
	const rows = await messagesOf(owner);
	expect(rows.map((row) => [row.status, row.attempts]).sort()).toEqual([
		['failed', 1],
		['queued', 0],
		['queued', 0],
	]);
});

test('a refused token (190) sends nothing else: every message released, and the results say why', async () => {
	const { owner } = await dueQueue(3);
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: 'another-token' } });
	const { sent, completed } = await runChain(owner, { send: { concurrency: 1 } });
	expect(sent[0]).toMatchObject({ outcome: 'released', error: { code: 'invalid_token', message: expect.stringMatching(/^The WhatsApp access token was refused \(190\)/) } });
	expect(sent.slice(1).map((one) => (one.error as IDataObject).code)).toEqual(['not_attempted', 'not_attempted']);
	expect((await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'))).toHaveLength(1);
	expect(completed.every((one) => one.accepted === true && one.status === 'queued')).toBe(true);
	expect((await messagesOf(owner)).every((row) => row.status === 'queued' && row.attempts === 0)).toBe(true);
});

describe('an error of Meta that quotes the access token ("Malformed access token …")', () => {
	// People who may only use the credential read the results, the queue's last_error, the ledger
	// and the console's Queue tab: Meta's words stay, the token does not.
	const said = 'Malformed access token [access token]';
	/** The owner's queue rows, ledger rows and console Queue tab, as text. */
	const writtenFor = (owner: string) =>
		withDb(async (db) => {
			const queue = await db.query<{ t: string }>('select row_to_json(m)::text t from public.whatsapp_message_queue m where user_id = $1', [owner]);
			const ledger = await db.query<{ t: string }>('select row_to_json(l)::text t from public.queue_ledger l where user_id = $1', [owner]);
			const page = await db.query<{ t: string }>('select public.console_queue_page($1)::text t', [owner]);
			return [...queue.rows, ...ledger.rows, ...page.rows].map((row) => row.t).join('\n');
		});

	test('a send error (131000) and a refusal whose details quote it too (100): recorded with what Meta said, nowhere with the token', async () => {
		const { owner, leads } = await dueQueue(2);
		const [failing, refused] = leads;
		await sims.graph.control.addFault({ match: { recipient: failing.phone }, effect: { kind: 'graphError', code: 131000, message: `Malformed access token ${TOKEN}` } });
		await sims.graph.control.addFault({
			match: { recipient: refused.phone },
			effect: { kind: 'graphError', code: 100, message: `Malformed access token ${TOKEN}`, details: `The token ${TOKEN} could not be parsed.` },
		});
		const { sent } = await runChain(owner, { send: { concurrency: 1 } });

		const byPhone = new Map(sent.map((one) => [one.phone as string, one]));
		expect(byPhone.get(failing.phone)).toMatchObject({ outcome: 'failed', error: { code: '131000', message: said } });
		expect(byPhone.get(refused.phone)).toMatchObject({ outcome: 'failed', error: { code: '100', message: said, details: 'The token [access token] could not be parsed.', permanent: true } });
		expect(JSON.stringify(sent)).not.toContain(TOKEN);
		const rows = await messagesOf(owner);
		expect(rows.map((row) => (row.last_error as IDataObject).message).sort()).toEqual([
			`${said} (Message failed to send due to an unknown error.)`,
			`${said} (The token [access token] could not be parsed.)`,
		]);
		const written = await writtenFor(owner);
		expect(written).toContain(said);
		expect(written).not.toContain(TOKEN);
	});

	test('a refused token (190) that quotes it: the results say why, without it', async () => {
		const { owner } = await dueQueue(1);
		await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190, message: `Malformed access token ${TOKEN}` } });
		const { sent } = await runChain(owner);
		expect(sent).toEqual([expect.objectContaining({ outcome: 'released', error: expect.objectContaining({ code: 'invalid_token', message: `The WhatsApp access token was refused (190): ${said}` }) })]);
		expect(JSON.stringify(sent)).not.toContain(TOKEN);
		expect(await writtenFor(owner)).not.toContain(TOKEN);
	});
});

test('no answer from Meta: the message may have been delivered, so it is dead at once and never sent again; the lead is not invalid', async () => {
	const { owner, leads } = await dueQueue(1);
	await sims.graph.control.addFault({ effect: { kind: 'timeout', holdMs: 10_000 } });
	const { sent, completed } = await runChain(owner, { send: { timeoutMs: 1000 } });
	expect(sent).toEqual([expect.objectContaining({ outcome: 'failed', error: expect.objectContaining({ code: 'uncertain', permanent: true }) })]);
	expect(completed).toEqual([expect.objectContaining({ accepted: true, status: 'dead' })]);
	await sims.graph.control.clearFaults();
	expect((await runChain(owner)).claimed).toEqual([]);
	// Out of Prepare's reach (queued, its backlog item dead) until the owner decides.
	expect(await leadStatus(leads[0].leadId)).toBe('queued');
});

test('a message whose lease ran out before Send reached it and that another run claimed is not sent by the first run: it goes out once', async () => {
	const { owner } = await dueQueue(2);
	// Run A claimed ten minutes ago with a five-minute lease, and is slow: its lease ran out.
	const stale = await serviceClient({ now: new Date(Date.now() - 10 * 60_000) }).rpc('queue_claim', { p_worker: 'worker-a', p_user_id: owner, p_lease_seconds: 300 });
	expect(stale.error).toBeNull();
	const slow = stale.data as IDataObject[];
	expect(slow).toHaveLength(2);
	// The next run claims them again.
	const next = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-b' } });
	expect(next.outputs[0].map((one) => one.attempt)).toEqual([2, 2]);

	// Run A's Send reaches them now: nothing goes out, and its Complete records nothing.
	const late = await runQueue(slow.map((one) => ({ ...one, worker: 'worker-a' })), { resource: 'message', operation: 'send' }, credentials());
	expect(late.outputs[0].map((one) => [one.outcome, (one.error as IDataObject).code])).toEqual([
		['released', 'not_held'],
		['released', 'not_held'],
	]);
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	const lateComplete = await runQueue(late.outputs[0], { resource: 'message', operation: 'complete' });
	expect(lateComplete.outputs[0].map((one) => [one.accepted, one.reason])).toEqual([
		[false, 'not_held'],
		[false, 'not_held'],
	]);

	// Run B sends them: each once.
	const sentByB = await runQueue(next.outputs[0], { resource: 'message', operation: 'send' }, credentials());
	expect(sentByB.outputs[0].map((one) => one.outcome)).toEqual(['sent', 'sent']);
	await runQueue(sentByB.outputs[0], { resource: 'message', operation: 'complete' });
	const delivered = await sims.graph.control.whatsappMessages();
	expect(delivered).toHaveLength(2);
	expect(new Set(delivered.map((one) => one.to)).size).toBe(2);
	expect((await messagesOf(owner)).map((row) => [row.status, row.attempts])).toEqual([
		['sent', 2],
		['sent', 2],
	]);
});

test('a lead taken over after Claim gets nothing: its message is not sent, and Complete refuses it as cancelled', async () => {
	const { owner, leads } = await dueQueue(2);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-a' } });
	const taken = leads[0];
	const { error } = await serviceClient().rpc('queue_take_lead', { p_lead_id: taken.leadId, p_reason: 'I will call them' });
	expect(error).toBeNull();

	const send = await runQueue(claim.outputs[0], { resource: 'message', operation: 'send' }, credentials());
	const byLead = new Map(send.outputs[0].map((one) => [one.lead_id as string, one]));
	expect(byLead.get(taken.leadId)).toMatchObject({ outcome: 'released', message_id: null, error: { code: 'cancelled', permanent: false } });
	expect(byLead.get(leads[1].leadId)).toMatchObject({ outcome: 'sent' });
	expect((await sims.graph.control.whatsappMessages()).map((one) => one.to)).toEqual([leads[1].phone]);

	const completed = await runQueue(send.outputs[0], { resource: 'message', operation: 'complete' });
	const completedOf = new Map(completed.outputs[0].map((one) => [one.item_id as string, one]));
	expect(completedOf.get(byLead.get(taken.leadId)!.item_id as string)).toMatchObject({ accepted: false, reason: 'cancelled', status: 'cancelled' });
	expect(await leadStatus(taken.leadId)).toBe('human_controlled');
	expect(await leadStatus(leads[1].leadId)).toBe('contacted');
});

test('Complete is refused for a worker that does not hold the message; a report sent twice is answered as recorded; nothing is recorded again', async () => {
	const { owner } = await dueQueue(1);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-a' } });
	const [message] = claim.outputs[0];
	// The Worker Name option starts the name; the execution id and a hash of the n8n instance id follow.
	expect(message.worker).toMatch(/^worker-a-\d+-[0-9a-f]{12}$/);
	const worker = String(message.worker);
	const report = { item_id: message.item_id, outcome: 'sent', message_id: 'wamid.TEST-1' };

	const other = await runQueue([{ ...report, worker: 'worker-b' }], { resource: 'message', operation: 'complete' });
	expect(other.outputs[0]).toEqual([expect.objectContaining({ accepted: false, reason: 'not_held', status: 'claimed' })]);

	const first = await runQueue([{ ...report, worker }], { resource: 'message', operation: 'complete' });
	expect(first.outputs[0]).toEqual([expect.objectContaining({ accepted: true, status: 'sent' })]);
	const ledger = await ledgerOf(owner);
	const twice = await runQueue([{ ...report, worker }], { resource: 'message', operation: 'complete' });
	expect(twice.outputs[0]).toEqual([expect.objectContaining({ accepted: true, reason: null, status: 'sent' })]);
	// Another message id, or another worker: refused.
	const other2 = await runQueue([{ ...report, message_id: 'wamid.TEST-2', worker }, { ...report, worker: 'worker-b' }], { resource: 'message', operation: 'complete' });
	expect(other2.outputs[0]).toEqual([
		expect.objectContaining({ accepted: false, reason: 'already_completed', status: 'sent' }),
		expect.objectContaining({ accepted: false, reason: 'already_completed', status: 'sent' }),
	]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id])).toEqual([['sent', 'wamid.TEST-1']]);
	expect(await ledgerOf(owner)).toEqual(ledger);
});

test('Complete retried (Retry On Fail) after the answer to a call the database recorded was lost: the retry answers as recorded, nothing twice', async () => {
	const counter = await startRpcCounter(testStack().supabaseUrl);
	try {
		const { owner } = await dueQueue(2);
		const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-r' } });
		const [a, b] = claim.outputs[0];
		const reports = [
			{ item_id: a.item_id, worker: a.worker, outcome: 'sent', message_id: 'wamid.LOST-ANSWER' },
			{ item_id: b.item_id, worker: b.worker, outcome: 'failed', error: { code: '131000', message: 'Something went wrong' } },
		];
		counter.loseNextAnswers('/rpc/queue_complete', 1);

		const run = await runQueue(
			reports,
			{ resource: 'message', operation: 'complete' },
			{ leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey } },
			{ retryOnFail: true },
		);

		expect(run.result.error).toBeUndefined();
		expect(counter.paths.filter((path) => path.endsWith('/rpc/queue_complete'))).toHaveLength(2);
		expect(run.outputs[0]).toEqual([
			expect.objectContaining({ item_id: a.item_id, accepted: true, reason: null, status: 'sent' }),
			expect.objectContaining({ item_id: b.item_id, accepted: true, reason: null, status: 'failed', next_attempt_at: expect.any(String) }),
		]);
		const byId = new Map((await messagesOf(owner)).map((row) => [row.id, row]));
		expect([byId.get(a.item_id as string), byId.get(b.item_id as string)].map((row) => [row?.status, row?.attempts, row?.message_id])).toEqual([
			['sent', 1, 'wamid.LOST-ANSWER'],
			['failed', 1, null],
		]);
		// One ledger row per change: claimed, then sent / failed once each; the sent lead contacted once.
		const rows = await ledgerOf(owner);
		const reported = rows.filter((row) => row.queue === 'whatsapp_message_queue' && row.from_status === 'claimed').map((row) => `${row.item_id} ${row.to_status}`);
		expect(reported.sort()).toEqual([`${String(a.item_id)} sent`, `${String(b.item_id)} failed`].sort());
		expect(rows.filter((row) => row.queue === 'leads' && row.to_status === 'contacted')).toHaveLength(1);
		expect(await leadStatus(a.lead_id as string)).toBe('contacted');
	} finally {
		await counter.stop();
	}
});

// Two different reports of one message (an identical one repeated is recorded once:
// test/nodes/QueueLedger/send-once.test.ts).
test('a report the database refuses (the same message twice, reported two ways) is named by its item; with Continue On Fail it alone fails and the others are recorded', async () => {
	const { owner } = await dueQueue(2);
	const claim = await runQueue([{}], { resource: 'message', operation: 'claim', limit: 10, ownerUserId: owner, options: { worker: 'worker-a' } });
	const [first, second] = claim.outputs[0];
	const reports = [
		{ item_id: first.item_id, worker: first.worker, outcome: 'sent', message_id: 'wamid.TEST-1' },
		{ item_id: first.item_id, worker: first.worker, outcome: 'sent', message_id: 'wamid.TEST-1-AGAIN' },
		{ item_id: second.item_id, worker: second.worker, outcome: 'sent', message_id: 'wamid.TEST-2' },
	];
	const refusal = `queue_complete failed: item 1 (p_results[1]).item_id: item ${String(first.item_id)} is listed twice (also p_results[0])`;
	const stopped = await runQueue(reports, { resource: 'message', operation: 'complete' });
	expect(stopped.result.error?.message).toBe(refusal);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['claimed', 'claimed']);

	const continued = await runQueue(reports, { resource: 'message', operation: 'complete' }, supabaseCredentials(), { continueOnFail: true });
	expect(continued.outputs[0]).toEqual([
		{ error: expect.objectContaining({ code: 'invalid_input', message: refusal }) },
		expect.objectContaining({ item_index: 0, item_id: first.item_id, accepted: true, status: 'sent' }),
		expect.objectContaining({ item_index: 2, item_id: second.item_id, accepted: true, status: 'sent' }),
	]);
	expect((await messagesOf(owner)).map((row) => [row.status, row.message_id]).sort()).toEqual([['sent', 'wamid.TEST-1'], ['sent', 'wamid.TEST-2']]);
});

// An expression or an agent's $fromAI escapes the editor's bounds: the database refused such a Limit
// in its own words (an integer cast); the node now names the Limit, before any claim, and an empty
// one (what $fromAI gives for a value it was not told) is the default, 50.
test('Claim refuses a Limit that is not a whole number, naming it, before any claim; an empty Limit is 50', async () => {
	const { owner } = await dueQueue(2);
	for (const [limit, shown] of [['ten', '"ten"'], [2.5, '2.5'], [1001, '1001']]) {
		const refused = await runQueue([{}], { resource: 'message', operation: 'claim', limit, ownerUserId: owner });
		expect(refused.result.error?.message).toBe(`Limit must be a whole number from 1 to 1000 (got ${shown})`);
	}
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['queued', 'queued']);
	const empty = await runQueue([{}], { resource: 'message', operation: 'claim', limit: '', ownerUserId: owner });
	expect(empty.result.error).toBeUndefined();
	expect(empty.outputs[0]).toHaveLength(2);
});

test('bad reports are refused by the node, naming the field', async () => {
	const bad = await runQueue(
		[
			{ item_id: 'nope', worker: 'w', outcome: 'sent', message_id: 'wamid.1' },
			{ item_id: '00000000-0000-4000-8000-000000000001', worker: 'w', outcome: 'delivered' },
			{ item_id: '00000000-0000-4000-8000-000000000001', worker: 'w', outcome: 'sent' },
		],
		{ resource: 'message', operation: 'complete' },
		supabaseCredentials(),
		{ continueOnFail: true },
	);
	expect(bad.outputs[0].map((one) => (one.error as IDataObject).message)).toEqual([
		'The queue item ID "nope" is not a UUID',
		'Outcome "delivered" is not one of sent, failed, released',
		'A sent message needs its Message ID',
	]);
});
