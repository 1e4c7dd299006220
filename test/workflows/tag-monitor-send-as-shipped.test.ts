// workflows/tag-monitor-send.json as users run it: the JSON as shipped, on its Schedule Trigger (the
// path an import runs every 5 minutes) and on Trigger Now with no rule in the body, with nothing set
// but what the README's quick start has users set: the credentials (here the stack and the
// simulators) and, for several Pages, one copy per Page credential with Claim Due Contacts' Page ID
// set to it. Every other workflow test pins the claim's rule; a defect of the unpinned path (every
// enabled rule) went unseen by all of them once. The claim reaches every rule and Page of the
// database, so this file has a stack of its own. Everything is seeded relative to the database's
// clock, the rules active all day in UTC and their daily limits far above what is due, so no
// assertion depends on the date or the machine's time zone.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../harness';
import { loadWorkflow } from '../harness/workflow-file';
import { useStackOfItsOwn, withDb } from '../helpers/stack';
import { addContacts, addRule, createTags, type Owner } from '../../scripts/demo/seed';
import { graphSends, pipelineCredentials, WEBHOOK_KEY, type RunSummary } from './support/pipeline';
import { newOwner } from './support/seeds';

useStackOfItsOwn();

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.gemini.control.reset();
});

const SHIPPED = 'workflows/tag-monitor-send.json';

/** The Page credential of one owner: a token of its own, so each send names the credential it went out with. */
function credentialsOf(owner: Owner): TestCredentials {
	const credentials = pipelineCredentials(sims, owner.pageId);
	return { ...credentials, leadflowFacebookPageApi: { ...credentials.leadflowFacebookPageApi, accessToken: `token-of-${owner.pageId}` } };
}

/** README, Using it, step 4: a copy per Page credential, its Claim Due Contacts set to that Page ID. Nothing else changed. */
function copyForPage(pageId: string): WorkflowJson {
	const shipped = loadWorkflow(SHIPPED);
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => (node.name === 'Claim Due Contacts' ? { ...node, parameters: { ...node.parameters, pageId } } : node)),
	};
}

interface World {
	owner: Owner;
	/** Rule id → the PSIDs due under it now (those it made due). */
	due: Map<string, string[]>;
	/** A switched-off rule and the PSIDs that would be due under it. */
	paused: { ruleId: string; psids: string[] };
	/** Tagged for an enabled rule, not due (outside the 24 h window). */
	notDue: string[];
}

/** An owner with a Page connected (messenger_pages), two enabled rules on tags of their own, one paused rule. */
async function ownerWithRules(label: string, counts: { first: number; second: number }): Promise<World> {
	const owner = await newOwner(label);
	return await withDb(async (db) => {
		await db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [owner.pageId, owner.userId]);
		const tags = await createTags(db, owner, ['Course', 'Webinar', 'Old list']);
		const course = await addContacts(db, owner, { label: `${label} course`, count: counts.first, tagIds: [tags.Course], lastMessageMinutesAgo: 15, spreadMinutes: 300 });
		const stale = await addContacts(db, owner, { label: `${label} stale`, count: 2, tagIds: [tags.Course], lastMessageMinutesAgo: 30 * 60 });
		const webinar = await addContacts(db, owner, { label: `${label} webinar`, count: counts.second, tagIds: [tags.Webinar], lastMessageMinutesAgo: 45, spreadMinutes: 600 });
		const old = await addContacts(db, owner, { label: `${label} old list`, count: 3, tagIds: [tags['Old list']], lastMessageMinutesAgo: 20 });
		const first = await addRule(db, owner, { name: `${label}: course`, includeTagIds: [tags.Course], dailyLimit: 500 });
		const second = await addRule(db, owner, { name: `${label}: webinar`, includeTagIds: [tags.Webinar], dailyLimit: 500 });
		const paused = await addRule(db, owner, { name: `${label}: old list (paused)`, includeTagIds: [tags['Old list']], dailyLimit: 500, enabled: false });
		return {
			owner,
			due: new Map([
				[first, course.psids],
				[second, webinar.psids],
			]),
			paused: { ruleId: paused, psids: old.psids },
			notDue: stale.psids,
		};
	});
}

/** More contacts due now under each of `world`'s rules (the paused one's too). */
async function moreDue(world: World, label: string, count: number): Promise<World> {
	return await withDb(async (db) => {
		const { rows } = await db.query<{ id: string; include_tag_ids: string[] }>('select id, include_tag_ids from public.ai_automation_rules where user_id = $1', [world.owner.userId]);
		const tagsOf = new Map(rows.map((row) => [row.id, row.include_tag_ids]));
		const due = new Map<string, string[]>();
		for (const ruleId of world.due.keys()) due.set(ruleId, (await addContacts(db, world.owner, { label: `${label} ${ruleId.slice(0, 4)}`, count, tagIds: tagsOf.get(ruleId)!, lastMessageMinutesAgo: 5, spreadMinutes: 60 })).psids);
		const paused = await addContacts(db, world.owner, { label: `${label} paused`, count, tagIds: tagsOf.get(world.paused.ruleId)!, lastMessageMinutesAgo: 5 });
		return { ...world, due, paused: { ruleId: world.paused.ruleId, psids: paused.psids } };
	});
}

interface ContactRow {
	rule_id: string;
	psid: string;
	stage: string;
	locked_by: string | null;
	/** Guard rows of the (rule, contact) that recorded a send, and of every status. */
	sends: number;
	attempts: number;
}

/** Every contact state of these owners' rules, with its duplicate guard rows. */
async function statesOf(owners: Owner[]): Promise<ContactRow[]> {
	const { rows } = await withDb((db) =>
		db.query<ContactRow>(
			`select s.rule_id, c.sender_id as psid, s.current_stage as stage, s.locked_by,
			        (select count(*) filter (where e.status = 'sent')::int from public.ai_automation_executions e
			          where e.rule_id = s.rule_id and e.conversation_id = s.conversation_id) as sends,
			        (select count(*)::int from public.ai_automation_executions e
			          where e.rule_id = s.rule_id and e.conversation_id = s.conversation_id) as attempts
			   from public.ai_automation_contact_states s
			   join public.ai_automation_rules r on r.id = s.rule_id
			   join public.messenger_conversations c on c.id = s.conversation_id
			  where r.user_id = any($1::uuid[])
			  order by 1, 2`,
			[owners.map((owner) => owner.userId)],
		),
	);
	return rows;
}

/** What the Graph simulator received: recipient → the tokens (so the Page credentials) it was sent with, once per send. */
async function sendsByRecipient(): Promise<Map<string, string[]>> {
	const sends = new Map<string, string[]>();
	for (const send of await graphSends(sims)) {
		expect(send.status).toBe(200);
		const recipient = String(send.recipient);
		sends.set(recipient, [...(sends.get(recipient) ?? []), String(send.key)]);
	}
	return sends;
}

const expectedSends = (worlds: World[]) =>
	new Map(worlds.flatMap((world) => [...world.due.values()].flat().map((psid) => [psid, [`token-of-${world.owner.pageId}`]] as const)));

/** The contacts each rule sent (stage sent, one guard row), by rule: what the database says happened. */
function sentByRule(rows: ContactRow[]): Map<string, string[]> {
	const sent = new Map<string, string[]>();
	for (const row of rows.filter((each) => each.stage === 'sent' && each.sends === 1 && each.attempts === 1)) sent.set(row.rule_id, [...(sent.get(row.rule_id) ?? []), row.psid].sort());
	return sent;
}

const sortedDue = (worlds: World[]) => new Map(worlds.flatMap((world) => [...world.due].map(([ruleId, psids]) => [ruleId, [...psids].sort()] as const)));

/** The scheduled run's summary (Summarise Run's one item). */
function scheduledSummary(result: RunResult): RunSummary & IDataObject {
	expect(result.error).toBeUndefined();
	expect(result.mode).toBe('trigger');
	expect(result.status).toBe('success');
	expect(result.nodeOutputs['Summarise Run']).toHaveLength(1);
	return result.nodeOutputs['Summarise Run'][0] as unknown as RunSummary & IDataObject;
}

/** Each rule's line of the summary, by id: what the claim said it took. */
const claimedByRule = (summary: RunSummary) => new Map(summary.rules.map((rule) => [rule.ruleId, rule.claimed]));

function trigger(workflow: WorkflowJson | string, credentials: TestCredentials, body: IDataObject | undefined): Promise<RunResult> {
	return runWorkflow(workflow, {
		startNode: 'Trigger Now',
		webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, ...(body !== undefined && { body }) },
		credentials,
	});
}

test('one Page, the workflow exactly as shipped: its schedule sends every due contact of both enabled rules once, by its rule, nothing of the paused rule; a second run sends nothing; Trigger Now with {} and with no body does the same for new contacts', async () => {
	const world = await ownerWithRules('solo', { first: 40, second: 25 });
	const credentials = credentialsOf(world.owner);

	const first = await runWorkflow(SHIPPED, { trigger: 'schedule', credentials });

	const summary = scheduledSummary(first);
	// Every batch handed to a sub-execution of the same workflow, each ended well: the schedule's
	// batches of 50, then the rest (not one batch, not one per contact).
	expect(first.subExecutions.map((sub) => (sub.run?.data.resultData.runData['Facebook Send']?.[0]?.data?.main ?? []).reduce((n, branch) => n + (branch?.length ?? 0), 0))).toEqual([50, 15]);
	expect(first.subExecutions.map((sub) => ({ waited: sub.waited, status: sub.run?.status, error: sub.error }))).toEqual(
		first.subExecutions.map(() => ({ waited: false, status: 'success', error: undefined })),
	);
	expect(await sendsByRecipient()).toEqual(expectedSends([world]));
	const states = await statesOf([world.owner]);
	// Sent by the rule that made each due: one state and one send per (rule, contact); no state of the paused rule.
	expect(sentByRule(states)).toEqual(sortedDue([world]));
	expect(states.filter((row) => row.stage !== 'sent')).toEqual([]);
	expect(states.filter((row) => row.rule_id === world.paused.ruleId)).toEqual([]);
	// The summary counts what the database holds: each rule's claim, the run's dispatched contacts.
	expect(summary).toMatchObject({ ruleId: null, requested: 1000, claimed: 65, claimReason: 'no_more_due', dispatched: 65, sent: 0, skipped: 0, failed: 0, failedByReason: {} });
	expect(claimedByRule(summary)).toEqual(new Map([...world.due].map(([ruleId, psids]) => [ruleId, psids.length])));
	expect(summary.rules.map((rule) => rule.status)).toEqual(['no_more_due', 'no_more_due']);
	expect(summary.notClaimedByReason).toEqual({ outside_window: world.notDue.length });

	// The next scheduled run: nothing new is claimed or sent.
	await sims.graph.control.reset();
	const second = scheduledSummary(await runWorkflow(SHIPPED, { trigger: 'schedule', credentials }));
	expect(second).toMatchObject({ claimed: 0, dispatched: 0, failed: 0, notClaimedByReason: { interval_not_elapsed: 65, outside_window: world.notDue.length } });
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf([world.owner])).toEqual(states);

	// Trigger Now with no rule in the body ({}: every enabled rule): new contacts due under each rule,
	// the paused one's too. The webhook waits for its batch and answers what was sent.
	await sims.graph.control.reset();
	const later = await moreDue(world, 'solo later', 3);
	const now = await trigger(SHIPPED, credentials, {});
	expect(now.response?.statusCode).toBe(200);
	const answer = now.response?.body as RunSummary;
	expect(answer).toMatchObject({ ruleId: null, claimed: 6, sent: 6, skipped: 0, failed: 0, dispatched: 0, notClaimedByReason: { interval_not_elapsed: 65, outside_window: world.notDue.length } });
	expect(claimedByRule(answer)).toEqual(new Map([...later.due].map(([ruleId, psids]) => [ruleId, psids.length])));
	expect(await sendsByRecipient()).toEqual(expectedSends([later]));
	const afterNow = await statesOf([world.owner]);
	expect(sentByRule(afterNow)).toEqual(new Map([...world.due].map(([ruleId, psids]) => [ruleId, [...psids, ...later.due.get(ruleId)!].sort()])));
	expect(afterNow.filter((row) => row.stage !== 'sent' || row.rule_id === world.paused.ruleId)).toEqual([]);

	// No body at all is every enabled rule too: nothing left to send.
	await sims.graph.control.reset();
	const again = await trigger(SHIPPED, credentials, undefined);
	expect(again.response?.statusCode).toBe(200);
	expect(again.response?.body).toMatchObject({ ruleId: null, claimed: 0, sent: 0, notClaimedByReason: { interval_not_elapsed: 71 } });
	expect(await graphSends(sims)).toEqual([]);
});

test('several owners, a copy per Page credential (README step 4): each copy\'s schedule sends its Page\'s due contacts once, by their rule, with its own credential; the paused rule and the Page with no credential are left alone; the next runs, scheduled or {}, send nothing', async () => {
	const two = await ownerWithRules('two rules', { first: 35, second: 20 });
	const other = await ownerWithRules('other owner', { first: 5, second: 3 });
	// An owner whose Page has no credential in n8n (no copy of the workflow for it): never claimed.
	const noToken = await ownerWithRules('no token', { first: 4, second: 2 });
	const copies = [two, other].map((world) => ({ world, workflow: copyForPage(world.owner.pageId), credentials: credentialsOf(world.owner) }));

	const runs = [];
	for (const { workflow, credentials } of copies) runs.push(await runWorkflow(workflow, { trigger: 'schedule', credentials }));

	expect(await sendsByRecipient()).toEqual(expectedSends([two, other]));
	const states = await statesOf([two.owner, other.owner, noToken.owner]);
	expect(sentByRule(states)).toEqual(sortedDue([two, other]));
	expect(states.filter((row) => row.stage !== 'sent')).toEqual([]);
	for (const world of [two, other, noToken]) expect(states.filter((row) => row.rule_id === world.paused.ruleId)).toEqual([]);
	expect(states.filter((row) => [...noToken.due.keys()].includes(row.rule_id))).toEqual([]);
	// Each copy's summary: its own Page's two enabled rules, what the database holds for them.
	for (const [index, { world }] of copies.entries()) {
		const summary = scheduledSummary(runs[index]);
		const total = [...world.due.values()].reduce((sum, psids) => sum + psids.length, 0);
		expect(summary).toMatchObject({ claimed: total, claimReason: 'no_more_due', dispatched: total, failed: 0, notClaimedByReason: { outside_window: world.notDue.length } });
		expect(claimedByRule(summary)).toEqual(new Map([...world.due].map(([ruleId, psids]) => [ruleId, psids.length])));
		expect(runs[index].subExecutions.every((sub) => sub.run?.status === 'success')).toBe(true);
	}

	// The next run of each copy, scheduled and then by Trigger Now with {}: nothing new.
	await sims.graph.control.reset();
	for (const { world, workflow, credentials } of copies) {
		const total = [...world.due.values()].reduce((sum, psids) => sum + psids.length, 0);
		const scheduled = scheduledSummary(await runWorkflow(workflow, { trigger: 'schedule', credentials }));
		expect(scheduled).toMatchObject({ claimed: 0, dispatched: 0, notClaimedByReason: { interval_not_elapsed: total, outside_window: world.notDue.length } });
		const now = await trigger(workflow, credentials, {});
		expect(now.response?.statusCode).toBe(200);
		expect(now.response?.body).toMatchObject({ ruleId: null, claimed: 0, sent: 0, failed: 0, notClaimedByReason: { interval_not_elapsed: total } });
	}
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf([two.owner, other.owner, noToken.owner])).toEqual(states);
});

test('one owner with two Pages, a copy per Page, and a rule for every Page (no Page of its own): each copy sends that rule\'s contacts of its own Page, with its own credential, once', async () => {
	const owner = await newOwner('two pages');
	const second: Owner = { userId: owner.userId, pageId: `${BigInt(owner.pageId) + 1n}` };
	const seeded = await withDb(async (db) => {
		await db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $3), ($2, $3)', [owner.pageId, second.pageId, owner.userId]);
		const tags = await createTags(db, owner, ['Any Page', 'First Page only']);
		const anyOnFirst = await addContacts(db, owner, { label: 'any first', count: 30, tagIds: [tags['Any Page']], lastMessageMinutesAgo: 10, spreadMinutes: 300 });
		const anyOnSecond = await addContacts(db, second, { label: 'any second', count: 25, tagIds: [tags['Any Page']], lastMessageMinutesAgo: 10, spreadMinutes: 300 });
		const firstOnly = await addContacts(db, owner, { label: 'first only', count: 4, tagIds: [tags['First Page only']], lastMessageMinutesAgo: 10 });
		const everyPage = await addRule(db, owner, { name: 'Every Page', includeTagIds: [tags['Any Page']], dailyLimit: 500 });
		await db.query('update public.ai_automation_rules set page_id = null where id = $1', [everyPage]);
		const firstPage = await addRule(db, owner, { name: 'First Page', includeTagIds: [tags['First Page only']], dailyLimit: 500 });
		return { everyPage, firstPage, anyOnFirst: anyOnFirst.psids, anyOnSecond: anyOnSecond.psids, firstOnly: firstOnly.psids };
	});
	const copies = [
		{ page: owner, due: new Map([[seeded.everyPage, seeded.anyOnFirst], [seeded.firstPage, seeded.firstOnly]]) },
		{ page: second, due: new Map([[seeded.everyPage, seeded.anyOnSecond]]) },
	];

	for (const { page, due } of copies) {
		const summary = scheduledSummary(await runWorkflow(copyForPage(page.pageId), { trigger: 'schedule', credentials: credentialsOf(page) }));
		const total = [...due.values()].reduce((sum, psids) => sum + psids.length, 0);
		expect(summary).toMatchObject({ claimed: total, claimReason: 'no_more_due', dispatched: total, failed: 0 });
		expect(claimedByRule(summary)).toEqual(new Map([...due].map(([ruleId, psids]) => [ruleId, psids.length])));
	}

	expect(await sendsByRecipient()).toEqual(
		new Map([
			...[...seeded.anyOnFirst, ...seeded.firstOnly].map((psid) => [psid, [`token-of-${owner.pageId}`]] as const),
			...seeded.anyOnSecond.map((psid) => [psid, [`token-of-${second.pageId}`]] as const),
		]),
	);
	const states = await statesOf([owner]);
	expect(states.filter((row) => row.stage !== 'sent')).toEqual([]);
	expect(sentByRule(states)).toEqual(
		new Map([
			[seeded.everyPage, [...seeded.anyOnFirst, ...seeded.anyOnSecond].sort()],
			[seeded.firstPage, [...seeded.firstOnly].sort()],
		]),
	);
});

test('as shipped (Page ID empty) while the enabled rules send as several Pages: the schedule claims nothing, asks the model nothing, sends nothing and fails the run naming Page ID; Trigger Now answers 500, fix it in the workflow; the copy set to its Page sends (review RF4 1)', async () => {
	// By now this file's database holds the earlier tests' owners and Pages (their due contacts sent);
	// these two owners add their own, each due now.
	const a = await ownerWithRules('page A', { first: 3, second: 0 });
	const b = await ownerWithRules('page B', { first: 4, second: 0 });
	const credentials = credentialsOf(a.owner);
	await sims.gemini.control.clearRequests();

	const scheduled = await runWorkflow(SHIPPED, { trigger: 'schedule', credentials });
	expect(scheduled.status).toBe('error');
	expect(scheduled.error).toMatchObject({
		node: 'Fail The Scheduled Run',
		message: expect.stringMatching(/^Page ID is empty, but the rules this Claim goes through send as \d+ Pages \([0-9, ]+\): nothing was claimed$/),
		description: expect.stringContaining("Set the Page ID of Claim Due Contacts to the Page ID of this workflow's Facebook credential"),
	});
	expect(scheduled.error?.message).toContain(a.owner.pageId);
	expect(scheduled.error?.message).toContain(b.owner.pageId);
	expect(scheduled.error?.description).toContain('README, Using it, step 4');
	expect(scheduled.executedNodes).not.toContain('Generate Follow-Up');
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf([a.owner, b.owner])).toEqual([]);

	// Trigger Now with {}: the workflow's setting, not the request, is at fault (500, no field).
	const now = await trigger(SHIPPED, credentials, {});
	expect(now.response?.statusCode).toBe(500);
	expect(now.response?.body).toEqual({
		status: 500,
		error: scheduled.error?.message,
		field: null,
		hint: `The workflow's node Claim Due Contacts refuses its own setting: fix it in the workflow (the request is not at fault). ${scheduled.error?.description}`,
	});
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await graphSends(sims)).toEqual([]);
	expect(await statesOf([a.owner, b.owner])).toEqual([]);

	// The copy set to its Page (README step 4) sends its own Page's contacts, with its own credential.
	const copy = scheduledSummary(await runWorkflow(copyForPage(a.owner.pageId), { trigger: 'schedule', credentials }));
	expect(copy).toMatchObject({ claimed: 3, dispatched: 3, failed: 0 });
	expect(await sendsByRecipient()).toEqual(expectedSends([a]));
	expect(await statesOf([b.owner])).toEqual([]);
});
