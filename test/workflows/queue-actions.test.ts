// workflows/queue-actions.json through n8n's engine in-process against the local stack: Take Lead
// (POST leads/:leadId/take: 200 with what was cancelled, harmless twice, 404 unknown or another
// owner's lead, 400 malformed, an unknown Taken By or a reason that is not text; a lead nobody may
// message (do_not_contact, not_interested, invalid) 200 with its status kept and its follow-ups
// stopped; an empty or blank
// X-Leadflow-Owner is refused on every call like a missing one), the export (GET leadflow/queue/export?day=…: the CSV as a download,
// headers only when empty, 400 without a day) and the metrics (GET leadflow/queue/metrics: per day
// and totals, by default the owner's last 7 local days, 400 for a bad range, naming From Day); every call 403 without
// the key, and no answer holds a stack trace.
import { parse } from 'csv-parse/sync';
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { EXPORT_COLUMNS } from '../../nodes/QueueLedger/helpers/csv';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { withDb } from '../helpers/stack';
import { ledgerOf, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-actions.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials() });
const headers = (owner: string, withKey = true) => ({ ...(withKey && { [KEY.name]: KEY.value }), 'X-Leadflow-Owner': owner });

const take = (owner: string, leadId: string, body: IDataObject = {}, withKey = true) =>
	runWorkflow(WORKFLOW, { startNode: 'Take Lead Request', webhook: { method: 'POST', path: `leads/${leadId}/take`, headers: headers(owner, withKey), body }, credentials: credentials() });
const exportCsv = (owner: string, query: Record<string, string>, withKey = true) =>
	runWorkflow(WORKFLOW, { startNode: 'Export Request', webhook: { method: 'GET', headers: headers(owner, withKey), query }, credentials: credentials() });
const metrics = (owner: string, query: Record<string, string>, withKey = true) =>
	runWorkflow(WORKFLOW, { startNode: 'Metrics Request', webhook: { method: 'GET', headers: headers(owner, withKey), query }, credentials: credentials() });

const noStackTrace = (body: unknown) => expect(JSON.stringify(body)).not.toMatch(/at \S+ \(|\.(js|ts):\d+/);

test('POST leads/:leadId/take while its message is being sent: 200 saying so in sending, the message left to its run', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const [message] = await messagesOf(owner);
	// A run claimed it and Send's begin_send let it go (at its slot, inside the sending hours).
	await withDb(async (db) => {
		const at = new Date(message.scheduled_for).toISOString();
		await db.query(`select * from public.queue_claim('run-1', 1, 300, $1, $2)`, [at, owner]);
		await db.query(`select * from public.queue_begin_send('run-1', array[$1::uuid], array[(select q.phone from public.whatsapp_message_queue q where q.id = $1::uuid)], p_lease_seconds => 300, p_now => $2)`, [message.id, at]);
	});

	const taken = await take(owner, lead.leadId);
	expect(taken.response?.statusCode).toBe(200);
	expect(taken.response?.body).toMatchObject({
		status: 'human_controlled',
		already_taken: false,
		cancelled: [],
		sending: [{ item_id: message.id, send_started_at: expect.any(String), worker: 'run-1' }],
	});
	expect((await messagesOf(owner))[0]).toMatchObject({ status: 'claimed', lease_holder: 'run-1' });
});

test('POST leads/:leadId/take: 200 with what was cancelled, harmless twice; 404 for an unknown or another owner\'s lead; 400 malformed', async () => {
	const owner = await queueOwner();
	const stranger = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	await prepareDue(owner);
	const [message] = await messagesOf(owner);

	const taken = await take(owner, lead.leadId, { reason: 'Customer called' });
	expect(taken.error).toBeUndefined();
	expect(taken.response?.statusCode).toBe(200);
	expect(taken.response?.body).toEqual({
		lead_id: lead.leadId,
		status: 'human_controlled',
		already_taken: false,
		cancelled: expect.arrayContaining([{ queue: 'whatsapp_message_queue', item_id: message.id, from_status: 'queued' }]),
		stopped_rules: 0,
		sending: [],
		status_kept: false,
		explanation: null,
	});
	expect((await messagesOf(owner))[0].status).toBe('cancelled');
	const again = await take(owner, lead.leadId);
	expect(again.response?.body).toMatchObject({ status: 'human_controlled', already_taken: true, cancelled: [] });

	const [other] = await leadsOf(stranger, 1);
	const foreign = await take(owner, other.leadId);
	expect(foreign.response?.statusCode).toBe(404);
	expect(foreign.response?.body).toMatchObject({ status: 404, error: expect.stringMatching(/does not exist for user/) });
	expect(await leadStatus(other.leadId)).toBe('new');
	const unknown = await take(owner, randomUUID());
	expect(unknown.response?.statusCode).toBe(404);
	const malformed = await take(owner, 'lead-42');
	expect(malformed.response).toMatchObject({ statusCode: 400, body: { status: 400, error: 'The lead ID "lead-42" is not a UUID' } });
	const noOwner = await runWorkflow(WORKFLOW, { startNode: 'Take Lead Request', webhook: { method: 'POST', path: `leads/${other.leadId}/take`, headers: { [KEY.name]: KEY.value }, body: {} }, credentials: credentials() });
	expect(noOwner.response).toMatchObject({ statusCode: 400, body: { field: 'X-Leadflow-Owner', error: expect.stringMatching(/X-Leadflow-Owner header is missing.*send it with the Supabase user ID/) } });
	// A malformed owner is told apart from a missing one: its own value, not "missing".
	const badOwner = await take('someone', other.leadId);
	expect(badOwner.response).toMatchObject({ statusCode: 400, body: { error: 'The owner user ID "someone" is not a UUID' } });
	expect(await leadStatus(other.leadId)).toBe('new');
	// A takenBy that is no user is named as the caller set it (Taken By), not as the database's argument.
	const strangerActor = randomUUID();
	const [third] = await leadsOf(owner, 1);
	const unknownActor = await take(owner, third.leadId, { takenBy: strangerActor });
	expect(unknownActor.response).toMatchObject({ statusCode: 400, body: { status: 400, error: `Taken By: user ${strangerActor} does not exist`, hint: expect.stringMatching(/Taken By/) } });
	expect(JSON.stringify(unknownActor.response?.body)).not.toMatch(/p_actor_id/);
	expect(await leadStatus(third.leadId)).toBe('new');
	for (const answer of [foreign, unknown, malformed, noOwner, badOwner, unknownActor]) noStackTrace(answer.response?.body);
});

test('POST leads/:leadId/take of a lead nobody may message (opted out, declined, unreachable): 200, its status kept and why; its Messenger follow-ups stopped, or nothing to stop without a conversation', async () => {
	const owner = await queueOwner();
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	const statuses = ['do_not_contact', 'not_interested', 'invalid'];
	// The opted-out one talks to the owner's Page on Messenger too.
	const conversation = await withDb(async (db) =>
		(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1049000000077', $2, 'Opted Out') returning id`, [owner, `77${Date.now()}`])).rows[0].id,
	);
	// The owner's app marks them (their messages are cancelled); the console still shows the day's rows.
	await withDb((db) =>
		db.query('update public.leads l set status = s.status, conversation_id = case when s.status = \'do_not_contact\' then $3::uuid end from unnest($1::uuid[], $2::text[]) s (id, status) where l.id = s.id', [
			leads.map((lead) => lead.leadId),
			statuses,
			conversation,
		]),
	);
	const before = await ledgerOf(owner);

	const answers = [];
	for (const lead of leads) answers.push(await take(owner, lead.leadId, { reason: 'Taken over in the Leadflow console' }));
	const kept = 'its status is kept, not made human_controlled, so giving it back can never queue it again; ';
	expect(answers.map((answer) => answer.response)).toEqual([
		{
			statusCode: 200,
			headers: expect.anything(),
			body: {
				lead_id: leads[0].leadId,
				status: 'do_not_contact',
				already_taken: false,
				cancelled: [],
				stopped_rules: 0,
				sending: [],
				status_kept: true,
				explanation: `Lead ${leads[0].leadId} is do_not_contact (opted out: never to be contacted): ${kept}its Messenger follow-ups are stopped for every rule (delete the stop to resume them).`,
			},
		},
		expect.objectContaining({
			statusCode: 200,
			body: expect.objectContaining({
				status: 'not_interested',
				status_kept: true,
				explanation: `Lead ${leads[1].leadId} is not_interested (it declined): ${kept}it has no Messenger conversation, so there are no follow-ups to stop.`,
			}),
		}),
		expect.objectContaining({ statusCode: 200, body: expect.objectContaining({ status: 'invalid', status_kept: true, explanation: expect.stringMatching(new RegExp(`^Lead ${leads[2].leadId} is invalid \\(it cannot be reached.*no follow-ups to stop\\.$`)) }) }),
	]);
	expect(await Promise.all(leads.map((lead) => leadStatus(lead.leadId)))).toEqual(statuses);
	expect(await ledgerOf(owner)).toEqual(before);
	expect(
		await withDb(async (db) => (await db.query('select conversation_id, rule_id, reason, note from public.ai_automation_stops where user_id = $1', [owner])).rows),
	).toEqual([{ conversation_id: conversation, rule_id: null, reason: 'human_takeover', note: 'Taken over in the Leadflow console' }]);
});

test('GET leadflow/queue/export?day=…: the CSV as a download; headers only for an empty day; 400 without a day or with a bad status', async () => {
	const owner = await queueOwner();
	const leads = await leadsOf(owner, 2, (index) => (index === 0 ? '=1+1' : 'Ana'));
	const prepared = await prepareDue(owner);
	const answer = await exportCsv(owner, { day: prepared.day });
	expect(answer.error).toBeUndefined();
	expect(answer.response?.statusCode).toBe(200);
	expect(answer.response?.headers).toMatchObject({
		'content-type': 'text/csv; charset=utf-8',
		'content-disposition': `attachment; filename="leadflow-queue-${prepared.day}-${prepared.day}.csv"`,
		'x-leadflow-rows': '2',
	});
	const records = parse(Buffer.from(answer.response?.body as Buffer).toString('utf8'), { bom: true }) as string[][];
	expect(records[0]).toEqual([...EXPORT_COLUMNS]);
	expect(records.slice(1).map((row) => row[EXPORT_COLUMNS.indexOf('lead_name')]).sort()).toEqual(["'=1+1", 'Ana']);
	expect(records.slice(1).map((row) => row[EXPORT_COLUMNS.indexOf('lead_id')]).sort()).toEqual(leads.map((lead) => lead.leadId).sort());

	const filtered = await exportCsv(owner, { day: prepared.day, status: 'sent' });
	expect(parse(Buffer.from(filtered.response?.body as Buffer).toString('utf8'), { bom: true })).toEqual([[...EXPORT_COLUMNS]]);

	const noDay = await exportCsv(owner, {});
	expect(noDay.response).toMatchObject({ statusCode: 400, body: { status: 400, error: 'From Day is empty', hint: expect.stringMatching(/YYYY-MM-DD/) } });
	const badStatus = await exportCsv(owner, { day: prepared.day, status: 'sent,lost' });
	expect(badStatus.response).toMatchObject({ statusCode: 400, body: { error: 'Statuses: "lost" is not a queue status' } });
	const noKey = await exportCsv(owner, { day: prepared.day }, false);
	expect(noKey.response?.statusCode).toBe(403);
	expect(noKey.executedNodes).toEqual([]);
});

test('GET leadflow/queue/metrics: per day with totals; the last 7 days by default; 400 for a bad range', async () => {
	const owner = await queueOwner();
	await leadsOf(owner, 2);
	const prepared = await prepareDue(owner);
	const answer = await metrics(owner, { from: prepared.day, to: prepared.day });
	expect(answer.response?.statusCode).toBe(200);
	expect(answer.response?.body).toEqual({
		days: [expect.objectContaining({ day: prepared.day, queued: 2, sent: 0, cancelled: 0 })],
		totals: { queued: 2, sent: 0, failed: 0, cancelled: 0, taken_over: 0 },
	});
	const week = await metrics(owner, {});
	expect((week.response?.body as { days: unknown[] }).days).toHaveLength(7);
	// The default week ends on the owner's today in their time zone, not n8n's: Kiritimati (UTC+14)
	// and Pago Pago (UTC-11) are 25 hours apart, so their todays differ by 1 or 2 days at any instant.
	const lastDay = async (zone: string) => {
		const someone = await queueOwner();
		await withDb((db) => db.query('update public.user_queue_settings set time_zone = $2 where user_id = $1', [someone, zone]));
		const answer = await metrics(someone, {});
		expect(answer.response?.statusCode).toBe(200);
		const days = (answer.response?.body as { days: Array<{ day: string }> }).days.map((one) => one.day);
		expect(days).toHaveLength(7);
		return Date.parse(days[6]);
	};
	const [east, west] = [await lastDay('Pacific/Kiritimati'), await lastDay('Pacific/Pago_Pago')];
	expect([1, 2]).toContain((east - west) / 86_400_000);
	const backwards = await metrics(owner, { from: '2026-12-05', to: '2026-12-01' });
	expect(backwards.response).toMatchObject({ statusCode: 400, body: { status: 400, error: 'To Day 2026-12-01 is before From Day 2026-12-05' } });
	// A From Day after the owner's today (To Day left empty: the database's today) is named as the caller set it.
	const future = await metrics(owner, { from: '2100-01-01' });
	expect(future.response).toMatchObject({
		statusCode: 400,
		body: { status: 400, error: expect.stringMatching(/^From Day, To Day: From Day on or before To Day, at most 366 days \(got 2100-01-01 to \d{4}-\d{2}-\d{2}\)$/), hint: expect.stringMatching(/empty To Day is the owner's today/) },
	});
	const noKey = await metrics(owner, {}, false);
	expect(noKey.response?.statusCode).toBe(403);
});

// An empty or blank X-Leadflow-Owner is no owner: Take Lead with an empty owner would take any
// owner's lead, so the webhooks refuse it as they refuse a missing header, never as "every owner".
test('an empty or blank X-Leadflow-Owner answers 400 naming the header, as a missing one: nothing is taken, exported or counted', async () => {
	const stranger = await queueOwner();
	const [lead] = await leadsOf(stranger, 1);
	await prepareDue(stranger);
	const missing = expect.stringMatching(/^The X-Leadflow-Owner header is missing or empty: send it with the Supabase user ID \(a UUID\) of the owner whose queue this is$/);
	for (const owner of ['', '   ']) {
		const taken = await take(owner, lead.leadId, { reason: 'Not my lead' });
		expect({ owner, answer: taken.response }).toMatchObject({ owner, answer: { statusCode: 400, body: { status: 400, error: missing, field: 'X-Leadflow-Owner', hint: expect.stringMatching(/X-Leadflow-Owner/) } } });
		expect((taken.response?.body as { hint: string }).hint).not.toMatch(/every owner|leave it empty/);
		for (const answer of [await exportCsv(owner, { day: '2026-12-02' }), await metrics(owner, {})]) {
			expect({ owner, answer: answer.response }).toMatchObject({ owner, answer: { statusCode: 400, body: { status: 400, error: missing } } });
		}
	}
	// Prepared, not taken over: its message is still queued.
	expect(await leadStatus(lead.leadId)).toBe('queued');
	expect((await messagesOf(stranger)).map((message) => message.status)).toEqual(['queued']);
});

test('POST leads/:leadId/take with a reason that is not text answers 400 naming Reason; nothing is taken or kept', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	for (const reason of [{ text: 'Customer called' }, ['Customer called'], 42]) {
		const refused = await take(owner, lead.leadId, { reason } as IDataObject);
		expect({ reason, answer: refused.response }).toMatchObject({
			reason,
			answer: { statusCode: 400, body: { status: 400, error: expect.stringMatching(/^Reason must be text \(got /), hint: expect.stringMatching(/as text/) } },
		});
	}
	expect(await leadStatus(lead.leadId)).toBe('new');
	expect((await ledgerOf(owner)).filter((row) => row.reason === 'human_takeover')).toEqual([]);
});

// What a call does not read is refused, never ignored: a misspelt query parameter (?date= for
// ?day=) would otherwise export or count another range than the one asked for, and a misspelt body
// field (taken_by) would take the lead without saying who took it.
test('a query parameter or body field the call does not read answers 400 naming it; nothing is taken', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const takeWith = (query: Record<string, string>, body: unknown) =>
		runWorkflow(WORKFLOW, {
			startNode: 'Take Lead Request',
			webhook: { method: 'POST', path: `leads/${lead.leadId}/take`, headers: headers(owner), query, body: body as IDataObject },
			credentials: credentials(),
		});
	const refusals = [
		{ answer: await takeWith({ reason: 'Customer called' }, {}), field: 'reason', error: /^Query parameter "reason": this webhook reads no query$/ },
		{ answer: await takeWith({}, { taken_by: owner, reason: 'Customer called' }), field: 'taken_by', error: /^Unknown field "taken_by": the body takes takenBy and reason$/ },
		{ answer: await takeWith({}, ['Customer called']), field: 'body', error: /^The body is not a JSON object$/ },
		{ answer: await exportCsv(owner, { date: '2026-12-02' }), field: 'date', error: /^Unknown query parameter "date": the export reads day, from, to and status$/ },
		{ answer: await exportCsv(owner, { day: '2026-12-02', to: '2026-12-03' }), field: 'day', error: /^Both day and from\/to are set/ },
		{ answer: await metrics(owner, { from: '2026-12-01', until: '2026-12-03' }), field: 'until', error: /^Unknown query parameter "until": the metrics read day, from and to$/ },
	];
	for (const { answer, field, error } of refusals) {
		expect({ field, answer: answer.response }).toMatchObject({ field, answer: { statusCode: 400, body: { status: 400, field, error: expect.stringMatching(error), hint: expect.stringMatching(/X-Leadflow-Owner/) } } });
		expect(answer.executedNodes).not.toEqual(expect.arrayContaining([expect.stringMatching(/^(Take Lead|Export Queue|Get Metrics)$/)]));
		noStackTrace(answer.response?.body);
	}
	expect(await leadStatus(lead.leadId)).toBe('new');
	// The calls as documented still pass the check.
	expect((await takeWith({}, { takenBy: owner, reason: 'Customer called' })).response?.statusCode).toBe(200);
	expect((await metrics(owner, { from: '2026-12-01', to: '2026-12-03' })).response?.statusCode).toBe(200);
});

// The export's file name is the workflow's, never the request's: the shipped Export Queue makes it of
// the checked days (leadflow-queue-{from}-{to}.csv), and a caller who tries to name it is refused
// before the node runs, 400 naming the query parameter. A File Name set in the workflow that the
// node refuses is the workflow's own setting: 500 "fix it in the workflow", as every shipped webhook
// answers a failed item marked `setting`. (Before, the node refused it without the marker and
// Respond With Problem mapped every invalid_input to 400: the caller was told the request was wrong,
// with no hint that the workflow was.)
test('a File Name set in the workflow that Export Queue refuses is the workflow’s 500 with the hint; a caller naming the file is a 400 naming the query parameter', async () => {
	const owner = await queueOwner();
	const prepared = await prepareDue(owner);
	const shipped = loadWorkflow(WORKFLOW);
	expect(shipped.nodes.some((node) => node.name === 'Export Queue')).toBe(true);
	const withFileName = (fileName: string) => ({
		...shipped,
		nodes: shipped.nodes.map((node) => (node.name === 'Export Queue' ? { ...node, parameters: { ...node.parameters, options: { fileName } } } : node)),
	});
	const exportWith = (fileName: string, query: Record<string, string>) =>
		runWorkflow(withFileName(fileName), { startNode: 'Export Request', webhook: { method: 'GET', headers: headers(owner), query }, credentials: credentials() });

	const refused = await exportWith('={{ "reports/" + $json.query.day + ".csv" }}', { day: prepared.day });
	expect(refused.response).toMatchObject({
		statusCode: 500,
		body: {
			status: 500,
			error: 'File Name must not contain / \\ or "',
			hint: expect.stringMatching(/^The workflow's node Export Queue refuses its own setting: fix it in the workflow \(the request is not at fault\)\. Set File Name in the node's Options to a plain file name/),
		},
	});
	noStackTrace(refused.response?.body);

	const named = await exportWith('={{ "queue-" + $json.query.day + ".csv" }}', { day: prepared.day });
	expect(named.response?.statusCode).toBe(200);
	expect(named.response?.headers).toMatchObject({ 'content-disposition': `attachment; filename="queue-${prepared.day}.csv"` });

	// The caller has no say in the name: the query parameter is refused before the export runs.
	const byCaller = await exportCsv(owner, { day: prepared.day, fileName: 'a/b.csv' });
	expect(byCaller.response).toMatchObject({ statusCode: 400, body: { status: 400, field: 'fileName', error: expect.stringMatching(/^Unknown query parameter "fileName"/) } });
	expect(byCaller.executedNodes).not.toContain('Export Queue');

	// The caller's own bad input keeps its 400, without the workflow's hint; an unknown lead its 404.
	const noDay = await exportCsv(owner, {});
	expect(noDay.response).toMatchObject({ statusCode: 400, body: { status: 400, error: 'From Day is empty', hint: expect.not.stringMatching(/fix it in the workflow/) } });
	const unknownLead = await take(owner, randomUUID());
	expect(unknownLead.response?.statusCode).toBe(404);
	expect(JSON.stringify(unknownLead.response?.body)).not.toMatch(/fix it in the workflow/);
});

test('a value a node refuses answers 400 naming the request field it came from: the lead id, takenBy, the owner header, the export\'s status and days', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const named = async (call: Promise<Awaited<ReturnType<typeof take>>>) => {
		const body = (await call).response?.body as IDataObject;
		return [body.status, body.field];
	};
	// Take Lead's Lead ID (from the path), Taken By (the body's takenBy), Owner User ID (the header).
	expect(await named(take(owner, 'lead-42'))).toEqual([400, 'leadId']);
	expect(await named(take(owner, lead.leadId, { takenBy: 'not-a-user-id' }))).toEqual([400, 'takenBy']);
	expect(await named(take('someone', lead.leadId))).toEqual([400, 'X-Leadflow-Owner']);
	// Export Queue's Statuses (?status=) and its days: ?day= when the call gave day, else ?from= / ?to=.
	expect(await named(exportCsv(owner, { day: '2026-12-02', status: 'sent,lost' }))).toEqual([400, 'status']);
	expect(await named(exportCsv(owner, {}))).toEqual([400, 'day']);
	expect(await named(exportCsv(owner, { day: '2026-13-40' }))).toEqual([400, 'day']);
	expect(await named(exportCsv(owner, { from: '2026-12-02', to: 'Friday' }))).toEqual([400, 'to']);
	expect(await named(metrics(owner, { from: 'yesterday' }))).toEqual([400, 'from']);
	// A range with one end left out names the missing end, the range's parameter, not day (review RM3 F1).
	expect(await named(exportCsv(owner, { from: '2026-12-02' }))).toEqual([400, 'to']);
	expect(await named(exportCsv(owner, { to: '2026-12-02' }))).toEqual([400, 'from']);
	expect(await leadStatus(lead.leadId)).toBe('new');
});

test('an Owner User ID set in the workflow\'s Take Lead, Export Queue or Get Metrics (typed, or an expression not reading X-Leadflow-Owner) that the node refuses is the workflow\'s 500 naming no field; read from the header it stays the caller\'s 400', async () => {
	const owner = await queueOwner();
	const [lead] = await leadsOf(owner, 1);
	const shipped = loadWorkflow(WORKFLOW);
	const withOwner = (nodeName: string, ownerUserId: string) => ({
		...shipped,
		nodes: shipped.nodes.map((node) => (node.name === nodeName ? { ...node, parameters: { ...node.parameters, ownerUserId } } : node)),
	});
	const typo = owner.slice(0, 35); // typed in the node, one character short
	const runs: Array<[string, Promise<Awaited<ReturnType<typeof take>>>]> = [
		['Take Lead', runWorkflow(withOwner('Take Lead', typo), { startNode: 'Take Lead Request', webhook: { method: 'POST', path: `leads/${lead.leadId}/take`, headers: headers(owner), body: {} }, credentials: credentials() })],
		['Export Queue', runWorkflow(withOwner('Export Queue', typo), { startNode: 'Export Request', webhook: { method: 'GET', headers: headers(owner), query: { day: '2026-12-02' } }, credentials: credentials() })],
		['Get Metrics', runWorkflow(withOwner('Get Metrics', `={{ '${typo}' }}`), { startNode: 'Metrics Request', webhook: { method: 'GET', headers: headers(owner), query: {} }, credentials: credentials() })],
		// Review RM5 F1: the shipped expression with only its header read swapped for a fixed owner keeps the
		// words '(no X-Leadflow-Owner header)'; the header's name in the text made it the caller's 400. The rule
		// is now the header itself: a UUID there that the node refused means the node did not get it as sent.
		['Take Lead', runWorkflow(withOwner('Take Lead', `={{ String('${typo}').trim() || '(no X-Leadflow-Owner header)' }}`), { startNode: 'Take Lead Request', webhook: { method: 'POST', path: `leads/${lead.leadId}/take`, headers: headers(owner), body: {} }, credentials: credentials() })],
	];
	for (const [nodeName, run] of runs) {
		const { response } = await run;
		expect({ nodeName, statusCode: response?.statusCode, body: response?.body }).toEqual({
			nodeName,
			statusCode: 500,
			body: {
				status: 500,
				error: `The owner user ID "${typo}" is not a UUID`,
				hint: expect.stringMatching(new RegExp(`^The workflow's node ${nodeName} refuses its own setting: fix it in the workflow \\(the request is not at fault\\)\\. `)),
			},
		});
	}
	expect(await leadStatus(lead.leadId)).toBe('new');
	// The shipped expressions read the header: a bad header is the caller's 400 naming it.
	const byHeader = await take(typo, lead.leadId);
	expect(byHeader.response).toMatchObject({ statusCode: 400, body: { status: 400, field: 'X-Leadflow-Owner' } });
});
