// Delivering automations' webhook / notify actions through n8n's engine against the local stack:
// at least once with "Confirm With Complete Automations" (claimed for the lease, reported after the
// delivery, handed out again when a crashed execution never reported), retries and failures
// reported back, and Claim Automations sweeping one owner's waiting actions, never another's.
import type { IDataObject } from 'n8n-workflow';
import { createPipelineWorld, type PipelineWorld } from '../../db/pipelines/fixtures';
import { testStack, withDb } from '../../helpers/stack';
import { startRpcCounter } from '../FacebookSend/support/rpc-counter';
import { runStage, supabaseCredentials } from './support/workflow';

const analysed = (conversationId: string, score: number): IDataObject => ({
	conversation_id: conversationId,
	lead_score: score,
	lead_status: 'CONTACTED',
	confidence: 80,
	reasoning: 'Engaged.',
	model: 'gemini-3-flash',
	fallback: false,
});

/** An owner whose contacts entering the pipeline fire a webhook and a notify action. */
async function worldWithActions(): Promise<PipelineWorld> {
	const world = await createPipelineWorld();
	await world.automation({
		trigger_type: 'ENTERED_PIPELINE',
		actions: [
			{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' },
			{ type: 'notify', message: 'A new lead entered the pipeline' },
		],
	});
	return world;
}

const outbox = (ids: string[]) =>
	withDb(async (db) =>
		(
			await db.query<{ id: string; kind: string; status: string; attempts: number; last_error: string | null; claimed_by: string | null }>(
				'select id, kind, status, attempts, last_error, claimed_by from public.pipeline_outbox where id = any ($1) order by kind',
				[ids],
			)
		).rows,
	);

const assignConfirming = (entries: IDataObject[]) =>
	runStage(entries, { operation: 'assign', handOutAutomations: true, automationDelivery: 'confirm', automationLeaseSeconds: 120 }, supabaseCredentials());
const claimAutomations = (owner: string, extra: IDataObject = {}) =>
	runStage([{}], { operation: 'claimAutomations', ownerUserId: owner, limit: 100, ...extra }, supabaseCredentials());
const completeAutomations = (reports: IDataObject[], parameters: IDataObject = {}, settings: { continueOnFail?: boolean } = {}) =>
	runStage(reports, { operation: 'completeAutomations', ...parameters }, supabaseCredentials(), settings);

it('confirm delivery: the actions stay claimed until Complete Automations reports them delivered, then are never handed out again', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);

	const assigned = await assignConfirming([analysed(contact, 50)]);
	expect(assigned.result.error).toBeUndefined();
	expect(assigned.automations.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
	const holder = assigned.automations[0].execution_id as string;
	// n8n-<node id>-<random>-<execution id>-<instance hash> (nodes/shared/execution-claim.ts): execution
	// ids repeat across n8n instances on one Supabase.
	expect(holder).toMatch(/^n8n-[\w-]+-[0-9a-f]{12}-\d+-[0-9a-f]{12}$/);
	expect(assigned.automations.every((item) => item.execution_id === holder && typeof item.lease_expires_at === 'string')).toBe(true);
	const ids = assigned.automations.map((item) => item.outbox_id as string);
	expect((await outbox(ids)).map((row) => [row.status, row.claimed_by])).toEqual([['claimed', holder], ['claimed', holder]]);

	// The delivery step ran (the items pass through it); its output feeds Complete Automations.
	const completed = await completeAutomations(assigned.automations);
	expect(completed.result.error).toBeUndefined();
	expect(completed.automations.map((item) => [item.outbox_id, item.outcome]).sort()).toEqual(ids.map((id) => [id, 'delivered']).sort());
	expect((await outbox(ids)).map((row) => row.status)).toEqual(['delivered', 'delivered']);
	expect((await claimAutomations(world.userId)).automations).toEqual([]);
});

it('a crashed execution\'s actions are handed out again once its lease ends; its late report is refused', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const crashed = await assignConfirming([analysed(contact, 50)]);
	const ids = crashed.automations.map((item) => item.outbox_id as string);
	expect(ids).toHaveLength(2);

	// Within the lease, a sweep does not take them.
	expect((await claimAutomations(world.userId)).automations).toEqual([]);
	// The execution died without a report and its lease ran out.
	await withDb((db) => db.query(`update public.pipeline_outbox set available_at = now() - interval '1 second' where id = any ($1)`, [ids]));

	const swept = await claimAutomations(world.userId);
	expect(swept.result.error).toBeUndefined();
	expect(swept.automations.map((item) => [item.outbox_id, item.attempt]).sort()).toEqual(ids.map((id) => [id, 2]).sort());
	expect((await outbox(ids)).map((row) => row.status)).toEqual(['delivered', 'delivered']);

	const late = await completeAutomations(crashed.automations);
	expect(late.automations.map((item) => item.outcome)).toEqual(['lease_lost', 'lease_lost']);
});

it('a failure reported to retry comes back after the delay; one failed for good keeps its error and never comes back', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const assigned = await assignConfirming([analysed(contact, 50)]);
	const webhook = assigned.automations.find((item) => item.kind === 'webhook')!;
	const notify = assigned.automations.find((item) => item.kind === 'notify')!;

	const retry = await completeAutomations([webhook], { outcome: 'retry', error: 'The CRM answered 503', retryAfterSeconds: 0 });
	expect(retry.automations).toEqual([{ outbox_id: webhook.outbox_id, outcome: 'retrying', reported: 'retry' }]);
	const failed = await completeAutomations([notify], { outcome: 'failed', error: 'No channel configured' });
	expect(failed.automations).toEqual([{ outbox_id: notify.outbox_id, outcome: 'failed', reported: 'failed' }]);
	expect((await outbox([webhook.outbox_id as string, notify.outbox_id as string])).map((row) => [row.kind, row.status, row.last_error])).toEqual([
		['notify', 'failed', 'No channel configured'],
		['webhook', 'pending', 'The CRM answered 503'],
	]);

	const again = await claimAutomations(world.userId);
	expect(again.automations.map((item) => [item.outbox_id, item.attempt])).toEqual([[webhook.outbox_id, 2]]);
});

// A delivery step set to continue on fail (an HTTP Request) puts its error on the item as an
// object: Error = {{ $json.error }} keeps its message (and description), never "[object Object]";
// an object without them is kept as a short JSON. `reported` is the outcome chosen (retry), not
// the failed the database is told with a delay.
it('Error mapped from an error object keeps its message; reported says the outcome chosen', async () => {
	const world = await createPipelineWorld();
	await world.automation({
		trigger_type: 'ENTERED_PIPELINE',
		actions: [
			{ type: 'webhook', url: 'https://crm.example.test/leads' },
			{ type: 'webhook', url: 'https://crm.example.test/audit' },
			{ type: 'notify', message: 'A new lead' },
		],
	});
	const [contact] = await world.contacts(1);
	const assigned = await assignConfirming([analysed(contact, 50)]);
	const byAction = (kind: string, url?: string) => assigned.automations.find((item) => item.kind === kind && (item.action as IDataObject).url === url)!;
	const [leads, audit, notify] = [byAction('webhook', 'https://crm.example.test/leads'), byAction('webhook', 'https://crm.example.test/audit'), byAction('notify')];
	const failedDelivery = (item: IDataObject, error: unknown): IDataObject => ({ ...item, error: error as IDataObject });

	const completed = await completeAutomations(
		[
			failedDelivery(leads, { message: '503 - Service Unavailable', name: 'AxiosError', status: 503 }),
			failedDelivery(audit, { message: 'The service was not able to process your request', description: 'Upstream timed out', httpCode: '502' }),
			failedDelivery(notify, { code: 'ECONNRESET', status: 0 }),
		],
		{ outcome: 'retry', error: '={{ $json.error }}', retryAfterSeconds: 0 },
	);
	expect(completed.result.error).toBeUndefined();
	expect(completed.automations).toEqual([leads, audit, notify].map((item) => ({ outbox_id: item.outbox_id, outcome: 'retrying', reported: 'retry' })));
	const rows = await withDb(async (db) =>
		(await db.query<{ id: string; status: string; last_error: string }>('select id, status, last_error from public.pipeline_outbox where id = any ($1)', [[leads, audit, notify].map((item) => item.outbox_id)])).rows,
	);
	const byId = new Map(rows.map((row) => [row.id, [row.status, row.last_error]]));
	expect([leads, audit, notify].map((item) => byId.get(item.outbox_id as string))).toEqual([
		['pending', '503 - Service Unavailable'],
		['pending', 'The service was not able to process your request: Upstream timed out'],
		['pending', '{"code":"ECONNRESET","status":0}'],
	]);
});

// An error object's message longer than 2,000 characters is cut to 1,999 and "…". Before, it was cut
// by UTF-16 units: an emoji across the cut left half of it, the text was refused as not valid
// Unicode, the whole run failed (no item's report recorded, each action still claimed, sent again
// after its lease); and 1,500 emoji (3,000 units) were cut although they are 1,500 characters.
it('an error object\'s long message is cut by characters, never inside an emoji: every report of the run is recorded', async () => {
	const world = await createPipelineWorld();
	await world.automation({
		trigger_type: 'ENTERED_PIPELINE',
		actions: [
			{ type: 'webhook', url: 'https://crm.example.test/leads' },
			{ type: 'webhook', url: 'https://crm.example.test/audit' },
			{ type: 'notify', message: 'A new lead' },
		],
	});
	const [contact] = await world.contacts(1);
	const assigned = await assignConfirming([analysed(contact, 50)]);
	const byAction = (kind: string, url?: string) => assigned.automations.find((item) => item.kind === kind && (item.action as IDataObject).url === url)!;
	const [leads, audit, notify] = [byAction('webhook', 'https://crm.example.test/leads'), byAction('webhook', 'https://crm.example.test/audit'), byAction('notify')];
	// The emoji's surrogate pair at UTF-16 units 1,998 and 1,999: a cut at 1,999 units split it.
	const acrossTheCut = `${'x'.repeat(1998)}😀${'y'.repeat(200)}`;
	const emojiOnly = '😀'.repeat(1500);
	const completed = await completeAutomations(
		[
			{ ...leads, error: { message: acrossTheCut, status: 503 } },
			{ ...audit, error: { message: emojiOnly } },
			{ ...notify, error: { message: 'Service Unavailable' } },
		],
		{ outcome: 'retry', error: '={{ $json.error }}', retryAfterSeconds: 0 },
	);
	expect(completed.result.error).toBeUndefined();
	expect(completed.automations).toEqual([leads, audit, notify].map((item) => ({ outbox_id: item.outbox_id, outcome: 'retrying', reported: 'retry' })));
	const rows = await withDb(async (db) =>
		(await db.query<{ id: string; status: string; last_error: string }>('select id, status, last_error from public.pipeline_outbox where id = any ($1)', [[leads, audit, notify].map((item) => item.outbox_id)])).rows,
	);
	const byId = new Map(rows.map((row) => [row.id, [row.status, row.last_error]]));
	expect([leads, audit, notify].map((item) => byId.get(item.outbox_id as string))).toEqual([
		['pending', `${'x'.repeat(1998)}😀…`],
		['pending', emojiOnly],
		['pending', 'Service Unavailable'],
	]);
});

// n8n's Retry On Fail runs Complete Automations again when the call's answer was lost after the
// database committed it: the repeat is answered as the first time, an item like any other on the
// Automations output, never a failed item or lease_lost.
it('Complete Automations run again with the same reports answers as the first time; another report of a completed action is already_completed', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const assigned = await assignConfirming([analysed(contact, 50)]);
	const webhook = assigned.automations.find((item) => item.kind === 'webhook')!;
	const notify = assigned.automations.find((item) => item.kind === 'notify')!;
	const ids = [webhook.outbox_id as string, notify.outbox_id as string];

	const first = await completeAutomations(assigned.automations);
	const again = await completeAutomations(assigned.automations);
	expect(again.result.error).toBeUndefined();
	expect(again.automations).toEqual(first.automations);
	expect(again.automations.map((item) => [item.outbox_id, item.outcome, item.reported]).sort()).toEqual(ids.map((id) => [id, 'delivered', 'delivered']).sort());
	expect((await outbox(ids)).map((row) => row.status)).toEqual(['delivered', 'delivered']);

	const otherwise = await completeAutomations([webhook], { outcome: 'failed', error: 'The CRM answered 500' }, { continueOnFail: true });
	expect(otherwise.automations).toEqual([{ outbox_id: webhook.outbox_id, outcome: 'already_completed', reported: 'failed' }]);
	expect((await outbox(ids)).map((row) => [row.status, row.last_error])).toEqual([
		['delivered', null],
		['delivered', null],
	]);
});

// An agent's $fromAI (or an expression) gives '' for a delay it was not told: that is the default
// 300 s, not 0, which would hand the action out again at once to be retried in a loop. A word is
// refused naming Retry After, nothing reported.
it('an empty Retry After means the default 300 s; one that is not a number is refused, nothing reported', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const assigned = await assignConfirming([analysed(contact, 50)]);
	const webhook = assigned.automations.find((item) => item.kind === 'webhook')!;
	const notify = assigned.automations.find((item) => item.kind === 'notify')!;

	const word = await completeAutomations([notify], { outcome: 'retry', error: 'Down', retryAfterSeconds: 'soon' }, { continueOnFail: true });
	expect(word.automations).toEqual([
		{ error: expect.objectContaining({ code: 'invalid_input', message: 'Retry After must be from 0 to 604,800 seconds (got "soon")' }) },
	]);
	expect((await outbox([notify.outbox_id as string])).map((row) => row.status)).toEqual(['claimed']);

	const empty = await completeAutomations([webhook], { outcome: 'retry', error: 'The CRM answered 503', retryAfterSeconds: '' });
	expect(empty.automations).toEqual([{ outbox_id: webhook.outbox_id, outcome: 'retrying', reported: 'retry' }]);
	const delay = await withDb(async (db) =>
		(await db.query<{ seconds: number }>('select extract(epoch from available_at - now())::float8 as seconds from public.pipeline_outbox where id = $1', [webhook.outbox_id])).rows[0].seconds,
	);
	expect(delay).toBeGreaterThan(290);
	expect(delay).toBeLessThanOrEqual(300);
});

it('Claim Automations refuses a Limit that is not a whole number, naming it, before handing anything out; an empty Limit is 50', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const run = await runStage([analysed(contact, 50)], { operation: 'assign', handOutAutomations: false }, supabaseCredentials());
	expect(run.automations).toEqual([]);
	for (const [limit, shown] of [['ten', '"ten"'], [2.5, '2.5'], [0, '0']]) {
		const refused = await claimAutomations(world.userId, { limit });
		expect(refused.result.error?.message).toBe(`Limit must be a whole number from 1 to 1000 (got ${shown})`);
	}
	const left = await withDb(async (db) => (await db.query<{ status: string }>('select status from public.pipeline_outbox where conversation_id = $1', [contact])).rows);
	expect(left.map((row) => row.status)).toEqual(['pending', 'pending']);
	expect((await claimAutomations(world.userId, { limit: '' })).automations).toHaveLength(2);
});

it('Claim Automations hands out the actions of changes made without handing them out, of its owner only', async () => {
	const [mine, theirs] = [await worldWithActions(), await worldWithActions()];
	const [a] = await mine.contacts(1);
	const [b] = await theirs.contacts(1);
	for (const contact of [a, b]) {
		const run = await runStage([analysed(contact, 50)], { operation: 'assign', handOutAutomations: false }, supabaseCredentials());
		expect(run.automations).toEqual([]);
	}

	const swept = await claimAutomations(mine.userId);
	expect(swept.automations.map((item) => [(item.contact as IDataObject).conversation_id, item.kind]).sort()).toEqual([[a, 'notify'], [a, 'webhook']]);
	const theirsLeft = await withDb(async (db) =>
		(await db.query<{ status: string }>('select status from public.pipeline_outbox where conversation_id = $1', [b])).rows.map((row) => row.status),
	);
	expect(theirsLeft).toEqual(['pending', 'pending']);
	expect((await claimAutomations(theirs.userId)).automations).toHaveLength(2);
});

it('each handed-out action names its owner (user_id) and who made the change and why, so a sweep of every owner can route it', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	const placed = await runStage([analysed(contact, 50)], { operation: 'assign', handOutAutomations: false }, supabaseCredentials());
	expect(placed.automations).toEqual([]);
	const swept = await claimAutomations(world.userId);
	expect(swept.automations).toHaveLength(2);
	for (const item of swept.automations) {
		expect(item).toMatchObject({ user_id: world.userId, change: { actor: 'ai', actor_id: 'gemini-3-flash', reason: 'Engaged.' } });
		expect(typeof item.outbox_id).toBe('string');
	}
});

it('Move and Assign hand out only the actions their own changes queued: another run\'s waiting actions stay for Claim Automations', async () => {
	const world = await worldWithActions();
	await world.automation({
		name: 'qualified',
		trigger_type: 'STAGE_CHANGED',
		trigger_conditions: { to_stage_id: world.pipeline.stages.Qualified },
		actions: [{ type: 'notify', message: 'Qualified' }],
	});
	const [contact] = await world.contacts(1);
	// Another run placed the contact and left its two actions waiting (Hand Out Automations off).
	const placed = await runStage([analysed(contact, 30)], { operation: 'assign', handOutAutomations: false }, supabaseCredentials());
	expect(placed.contacts).toEqual([expect.objectContaining({ outcome: 'assigned', stage_name: 'Contacted', automations_fired: 1 })]);
	expect(placed.contacts[0]).not.toHaveProperty('outbox_ids');

	// A move that fires nothing hands out nothing.
	const toProposal = await runStage([{ conversation_id: contact }], { operation: 'move', stage: { __rl: true, mode: 'name', value: 'Proposal' } }, supabaseCredentials());
	expect(toProposal.result.error).toBeUndefined();
	expect(toProposal.contacts).toEqual([expect.objectContaining({ outcome: 'moved', stage_name: 'Proposal', automations_fired: 0 })]);
	expect(toProposal.automations).toEqual([]);

	// A move that fires its own action hands out that one only.
	const toQualified = await runStage([{ conversation_id: contact }], { operation: 'move', stage: { __rl: true, mode: 'name', value: 'Qualified' } }, supabaseCredentials());
	expect(toQualified.automations.map((item) => [item.kind, (item.automation as IDataObject).name])).toEqual([['notify', 'qualified']]);
	// So does an Assign of another analysis (a score of 30: back to Contacted under UPDATE_EXISTING fires nothing; another
	// reasoning than the first's, which the place holds: the very same analysis again would be kept, already_applied).
	await world.settings({ mode: 'UPDATE_EXISTING' });
	const reassigned = await runStage([{ ...analysed(contact, 30), reasoning: 'Cooled down.' }], { operation: 'assign', handOutAutomations: true }, supabaseCredentials());
	expect(reassigned.contacts).toEqual([expect.objectContaining({ outcome: 'moved', stage_name: 'Contacted', automations_fired: 0 })]);
	expect(reassigned.automations).toEqual([]);

	// The other run's actions are still waiting, for its sweep.
	const swept = await claimAutomations(world.userId);
	expect(swept.automations.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
});

it('more than 1,000 items: a later call refused stops the node saying which items were written, their actions left for Claim Automations', async () => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead entered the pipeline' }] });
	const contacts = await world.contacts(1000);
	const unknown = '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f';
	const run = await runStage([...contacts.map((id) => analysed(id, 30)), analysed(unknown, 30)], { operation: 'assign', handOutAutomations: true }, supabaseCredentials());
	expect(run.result.error?.message).toContain(`item 1000 (p_items[0]).conversation_id: conversation ${unknown} does not exist`);
	expect(run.result.error?.description).toContain(
		'Items 0–999 of the input (1000) were written by the run\'s other calls and stay written; the 1000 webhook / notify actions they fired were not handed out: the Claim Automations operation hands them out.',
	);
	const placed = await withDb(async (db) => (await db.query<{ n: number }>('select count(*)::int as n from public.pipeline_contacts where user_id = $1', [world.userId])).rows[0].n);
	expect(placed).toBe(1000);
	expect((await claimAutomations(world.userId, { limit: 1000 })).automations).toHaveLength(1000);
});

it('2,500 items: three calls, two in flight at once and never more; the output in the input\'s order, every contact placed', async () => {
	const world = await createPipelineWorld();
	const contacts = await world.contacts(2500);
	const counter = await startRpcCounter(testStack().supabaseUrl);
	try {
		const run = await runStage(contacts.map((id) => analysed(id, 30)), { operation: 'assign', handOutAutomations: false }, {
			leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
		});
		expect(run.result.error).toBeUndefined();
		expect(counter.paths.filter((path) => path.endsWith('/rpc/pipeline_assign'))).toHaveLength(3);
		expect(counter.peakInFlight('/rpc/pipeline_assign')).toBe(2);
		expect(run.contacts.map((item) => item.item_index)).toEqual(contacts.map((_, index) => index));
		expect(run.contacts.map((item) => item.conversation_id)).toEqual(contacts);
		expect(new Set(run.contacts.map((item) => item.outcome))).toEqual(new Set(['assigned']));
	} finally {
		await counter.stop();
	}
	const placed = await withDb(async (db) => (await db.query<{ n: number }>('select count(*)::int as n from public.pipeline_contacts where user_id = $1', [world.userId])).rows[0].n);
	expect(placed).toBe(2500);
});

it('the first call refused while the second is in flight: the second\'s items are written and named in the error, the refused call\'s are not', async () => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead entered the pipeline' }] });
	const contacts = await world.contacts(1999);
	const unknown = '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f';
	const entries = [...contacts.slice(0, 5), unknown, ...contacts.slice(5)].map((id) => analysed(id, 30));
	const run = await runStage(entries, { operation: 'assign', handOutAutomations: true }, supabaseCredentials());
	expect(run.result.error?.message).toContain(`item 5 (p_items[5]).conversation_id: conversation ${unknown} does not exist`);
	expect(run.result.error?.description).toContain(
		'Items 1000–1999 of the input (1000) were written by the run\'s other calls and stay written; the 1000 webhook / notify actions they fired were not handed out: the Claim Automations operation hands them out.',
	);
	const placed = await withDb(async (db) =>
		(await db.query<{ conversation_id: string }>('select conversation_id from public.pipeline_contacts where user_id = $1', [world.userId])).rows.map((row) => row.conversation_id),
	);
	expect(placed.sort()).toEqual(contacts.slice(999).sort());
	expect((await claimAutomations(world.userId, { limit: 1000 })).automations).toHaveLength(1000);
});

it('more than 1,000 actions in one run (Mark Delivered When Handed Out): every one leaves on the output, once, and is delivered', async () => {
	// 600 contacts entering the pipeline, two actions each: 1,200 outbox items from one Assign call,
	// more than the Data API answers rows for in one report.
	const world = await worldWithActions();
	const contacts = await world.contacts(600);
	const run = await runStage(contacts.map((id) => analysed(id, 30)), { operation: 'assign', handOutAutomations: true }, supabaseCredentials());
	expect(run.result.error).toBeUndefined();
	expect(run.contacts).toHaveLength(600);
	const handedOut = run.automations.map((item) => String(item.outbox_id));
	expect(handedOut).toHaveLength(1200);
	expect(new Set(handedOut).size).toBe(1200);
	const byStatus = await withDb(async (db) =>
		(
			await db.query<{ status: string; n: number; handed: number }>(
				`select status, count(*)::int as n, count(*) filter (where id = any ($2::uuid[]))::int as handed
				   from public.pipeline_outbox where user_id = $1 group by status`,
				[world.userId, handedOut],
			)
		).rows,
	);
	expect(byStatus).toEqual([{ status: 'delivered', n: 1200, handed: 1200 }]);
	// Nothing is left for a sweep: it was all handed out here.
	expect((await claimAutomations(world.userId, { limit: 1000 })).automations).toEqual([]);
});

it('more than 1,000 actions, the second report lost on the way: the first 1,000 leave on the output, the rest wait for Claim Automations', async () => {
	const world = await worldWithActions();
	const contacts = await world.contacts(600);
	// The first delivery report goes through; the second is answered 503 by a gateway in between.
	const counter = await startRpcCounter(testStack().supabaseUrl);
	try {
		counter.failNext('/rpc/pipeline_complete_outbox', 1, { after: 1 });
		const run = await runStage(contacts.map((id) => analysed(id, 30)), { operation: 'assign', handOutAutomations: true }, {
			leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
		});
		// The node does not fail (that would lose the 1,000 already delivered): they are on the output.
		expect(run.result.error).toBeUndefined();
		const handedOut = run.automations.map((item) => String(item.outbox_id));
		expect(handedOut).toHaveLength(1000);
		const byStatus = await withDb(async (db) =>
			(
				await db.query<{ status: string; n: number; handed: number }>(
					`select status, count(*)::int as n, count(*) filter (where id = any ($2::uuid[]))::int as handed
					   from public.pipeline_outbox where user_id = $1 group by status order by status`,
					[world.userId, handedOut],
				)
			).rows,
		);
		// The other 200: claimed by this run, whose report never arrived; handed out again once the lease ends.
		expect(byStatus).toEqual([
			{ status: 'claimed', n: 200, handed: 0 },
			{ status: 'delivered', n: 1000, handed: 1000 },
		]);
	} finally {
		await counter.stop();
	}
});

it('Complete Automations refuses a report without a valid outbox item ID or claim holder, naming the field', async () => {
	const notAnId = await completeAutomations([{ outbox_id: 'outbox-7', execution_id: 'n8n-1-x' }]);
	expect(notAnId.result.error?.message).toBe('The outbox item ID "outbox-7" is not a UUID');

	const noHolder = await completeAutomations([{ outbox_id: '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f' }], {}, { continueOnFail: true });
	expect(noHolder.result.error).toBeUndefined();
	expect(noHolder.automations).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'Claim Holder is empty' }) }]);

	const unknown = await completeAutomations([{ outbox_id: '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f', execution_id: 'n8n-1-x' }]);
	expect(unknown.automations).toEqual([{ outbox_id: '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f', outcome: 'not_found', reported: 'delivered' }]);
});
