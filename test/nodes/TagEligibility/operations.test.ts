// TagEligibility's operations through n8n's engine, on seed001()'s data: explain and timeline
// (per-contact reasons, one output item per contact paired with the input item; a rule that does not
// exist, or a contact the rule never took, fails as not_found rather than answering no items), claim
// (the contacts, and on its Summary output why fewer than asked were claimed; with a Page ID, only
// that Page's contacts), and bad input reported per item (or as an error item with "Continue On Fail").
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IDataObject } from 'n8n-workflow';
import { configuredOutputs } from '../../../nodes/TagEligibility/helpers/outputs';
import { APPLY_MIGRATIONS } from '../../../nodes/shared/supabase';
import { addContacts, addRule, createTags } from '../../../scripts/demo/seed';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { testStack, uniquePageId, useStackOfItsOwn, withDb } from '../../helpers/stack';
import { dueContacts, newOwner, seed001, type Seed001 } from '../../workflows/support/seeds';

function tagEligibilityWorkflow(parameters: IDataObject, continueOnFail = false): WorkflowJson {
	return {
		name: 'TagEligibility read operations',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'eligibility',
				name: 'Eligibility',
				type: 'n8n-nodes-leadflow.tagEligibility',
				typeVersion: 1,
				position: [200, 0],
				parameters,
				credentials: { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } },
				...(continueOnFail && { onError: 'continueRegularOutput' }),
			},
		],
		connections: { Start: { main: [[{ node: 'Eligibility', type: 'main', index: 0 }]] } },
	} as unknown as WorkflowJson;
}

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

let seed: Seed001;

beforeAll(async () => {
	seed = await seed001();
});

test('explain: every tagged contact with its reason, paired with the input item', async () => {
	const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', ruleId: seed.ruleId, limit: 100 }), { credentials: credentials() });

	expect(result.error).toBeUndefined();
	const rows = result.nodeOutputs.Eligibility as Array<{ sender_id: string; due: boolean; reason: string | null }>;
	expect(rows).toHaveLength(15);
	const reasonOf = new Map(rows.map((row) => [row.sender_id, row.reason]));
	for (const psid of seed.duePsids) expect(reasonOf.get(psid)).toBeNull();
	for (const [reason, psids] of Object.entries(seed.notDue)) for (const psid of psids) expect(reasonOf.get(psid)).toBe(reason);
	const items = result.run!.data.resultData.runData.Eligibility[0].data!.main[0]!;
	expect(items.every((item) => (item.pairedItem as { item: number }).item === 0)).toBe(true);
});

test('explain refuses a Limit over 1,000 (one row per contact; the Data API answers up to 1,000 a call), naming the Limit, before any call', async () => {
	for (const [limit, shown] of [[1001, '1001'], [0, '0'], [2.5, '2.5'], ['ten', '"ten"']]) {
		const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', ruleId: seed.ruleId, limit }), { credentials: credentials() });
		expect(result.error?.message).toBe(`Limit must be a whole number from 1 to 1000 (got ${shown})`);
	}
	const atMost = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', ruleId: seed.ruleId, limit: 1000 }), { credentials: credentials() });
	expect(atMost.error).toBeUndefined();
	expect(atMost.nodeOutputs.Eligibility).toHaveLength(15);
	// Empty (what an agent's $fromAI gives for a value it was not told) is the default, 50.
	const empty = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', ruleId: seed.ruleId, limit: '' }), { credentials: credentials() });
	expect(empty.error).toBeUndefined();
	expect(empty.nodeOutputs.Eligibility).toHaveLength(15);
});

test('explain with "only due": just the 10 due contacts', async () => {
	const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', ruleId: seed.ruleId, limit: 100, onlyDue: true }), {
		credentials: credentials(),
	});
	const rows = result.nodeOutputs.Eligibility as Array<{ sender_id: string; due: boolean }>;
	expect(rows.map((row) => row.sender_id).sort()).toEqual([...seed.duePsids].sort());
});

// Explain with no rule reads every enabled rule of every owner: on the run's shared stack it would
// see other test files' rules and contacts (and this file's seed001, whose 10 contacts are due), so
// what it answers could not be told exactly. So this test has a stack of its own, started and
// stopped here: its two rules are the only ones.
describe('explain with no rule, on a stack of its own', () => {
	useStackOfItsOwn();

	test('explain with "only due" and no rule: the due contacts of a rule whose id sorts after one with more not-due contacts than the limit, and no others', async () => {
		// Every enabled rule's contacts are explained, and the rows went rule by rule: with the rule
		// whose id sorts first holding 60 contacts not due (more than the limit of 50), the node got
		// those 50, dropped them as not due, and answered nothing while another rule's 10 were due.
		const owner = await newOwner('explain-two-rules');
		const [first, second] = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8001-000000000002'];
		const duePsids = await withDb(async (db) => {
			const tags = await createTags(db, owner, ['Cold', 'Warm']);
			await addContacts(db, owner, { label: 'Quiet', count: 60, tagIds: [tags.Cold], lastMessageMinutesAgo: 30 * 60 });
			const due = await addContacts(db, owner, { label: 'Lead', count: 10, tagIds: [tags.Warm], lastMessageMinutesAgo: 30 });
			await db.query(
				`insert into public.ai_automation_rules (id, user_id, name, page_id, include_tag_ids, instructions)
				 values ($1, $3, 'Cold leads', $4, array[$5::uuid], 'Follow up.'), ($2, $3, 'Warm leads', $4, array[$6::uuid], 'Follow up.')`,
				[first, second, owner.userId, owner.pageId, tags.Cold, tags.Warm],
			);
			return due.psids;
		});

		const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'explain', onlyDue: true }), { credentials: credentials() });

		expect(result.error).toBeUndefined();
		const rows = result.nodeOutputs.Eligibility as Array<{ sender_id: string; rule_id: string; due: boolean }>;
		expect(rows.every((row) => row.due && row.rule_id === second)).toBe(true);
		expect(rows.map((row) => row.sender_id).sort()).toEqual([...duePsids].sort());
	});
});

describe('a rule that does not exist, and a contact a rule never took', () => {
	// Before, Explain and Timeline answered no items for both, exactly as for a rule with nothing to
	// show: a person saw "No output data", an AI agent "[]".
	const run = (parameters: IDataObject, continueOnFail = false) => runWorkflow(tagEligibilityWorkflow(parameters, continueOnFail), { credentials: credentials() });
	const noRule = (ruleId: string) => ({ code: 'not_found', message: `There is no automation rule with ID ${ruleId}`, description: expect.stringContaining('ai_automation_rules') });

	test('explain and timeline of a rule that does not exist fail as Snapshot does: not_found, naming the rule ID', async () => {
		const ruleId = randomUUID();
		const [contact] = await withDb(async (db) => (await addContacts(db, seed.owner, { label: 'Asked about', count: 1, tagIds: [], lastMessageMinutesAgo: 30 })).conversationIds);
		for (const parameters of [
			{ operation: 'snapshot', ruleId, contactLimit: 10 },
			{ operation: 'explain', ruleId, limit: 10 },
			{ operation: 'explain', ruleId, limit: 10, onlyDue: true },
			{ operation: 'timeline', ruleId, conversationId: contact },
		]) {
			const stopped = await run(parameters);
			expect([parameters, stopped.error?.message]).toEqual([parameters, `There is no automation rule with ID ${ruleId}`]);
			const failed = await run(parameters, true);
			expect([parameters, failed.nodeOutputs.Eligibility]).toEqual([parameters, [{ error: noRule(ruleId) }]]);
		}
	});

	test('explain of a rule that exists with no contact (none tagged, or none due) still answers no items', async () => {
		const owner = await newOwner('explain-empty-rule');
		const ruleId = await withDb(async (db) => addRule(db, owner, { name: 'Nobody tagged', includeTagIds: [(await createTags(db, owner, ['Unused']))['Unused']] }));
		for (const parameters of [{ operation: 'explain', ruleId, limit: 10 }, { operation: 'explain', ruleId, limit: 10, onlyDue: true }]) {
			const result = await run(parameters);
			expect([parameters, result.error, result.nodeOutputs.Eligibility]).toEqual([parameters, undefined, []]);
		}
	});

	test('timeline of a contact the rule never took (tagged, not claimed yet): not_found naming the contact and the rule', async () => {
		const [{ conversation_id: contact }] = (await run({ operation: 'explain', ruleId: seed.ruleId, limit: 1 })).nodeOutputs.Eligibility as Array<{ conversation_id: string }>;
		const message = `Contact ${contact} has no stage under rule ${seed.ruleId}: no claim of the rule has taken it`;

		expect((await run({ operation: 'timeline', ruleId: seed.ruleId, conversationId: contact })).error?.message).toBe(message);
		expect((await run({ operation: 'timeline', ruleId: seed.ruleId, conversationId: contact }, true)).nodeOutputs.Eligibility).toEqual([
			{ error: { code: 'not_found', message, description: expect.stringContaining('Explain') } },
		]);
	});

	test('timeline of a contact a claim took: its stage events', async () => {
		const { ruleId } = await dueContacts(1, 50, 'timeline-claimed');
		const claimed = await run({ operation: 'claim', ruleId, limit: 1 });
		const [{ conversation_id: contact }] = claimed.nodeOutputs.Eligibility as Array<{ conversation_id: string }>;

		const result = await run({ operation: 'timeline', ruleId, conversationId: contact });
		expect(result.error).toBeUndefined();
		const events = result.nodeOutputs.Eligibility as Array<{ conversation_id: string; rule_id: string }>;
		expect(events.length).toBeGreaterThan(0);
		expect(events.every((event) => event.conversation_id === contact && event.rule_id === ruleId)).toBe(true);
	});
});

test('a rule ID that is not a UUID stops the node with a message naming the field', async () => {
	const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'snapshot', ruleId: 'rule-42', contactLimit: 10 }), { credentials: credentials() });
	expect(result.error?.message).toMatch(/rule ID/i);
});

test('with Continue On Fail, the failing item becomes an error item and the run goes on', async () => {
	const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'snapshot', ruleId: 'rule-42', contactLimit: 10 }, true), {
		credentials: credentials(),
	});
	expect(result.error).toBeUndefined();
	// The package's one continue-on-fail item (nodes/shared/per-item.ts): only `error`, naming the field.
	expect(result.nodeOutputs.Eligibility).toEqual([
		{ error: { code: 'invalid_input', message: expect.stringMatching(/rule ID/i), description: expect.stringMatching(/rule/i), field: 'ruleId' } },
	]);
});

test('claim: the contacts on the first output, and on Summary one item saying why fewer than asked were claimed', async () => {
	const own = await seed001();
	const outputsOf = (result: Awaited<ReturnType<typeof runWorkflow>>) => result.run!.data.resultData.runData.Eligibility[0].data!.main;

	const first = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: own.ruleId, limit: 3 }), { credentials: credentials() });
	expect(first.error).toBeUndefined();
	const [contacts, summaries] = outputsOf(first);
	expect(contacts!.map((item) => item.json.recipient_id).every((psid) => own.duePsids.includes(psid as string))).toBe(true);
	expect(contacts).toHaveLength(3);
	// Each item carries its rule's settings (the claim's answer has them once per rule).
	for (const item of contacts!) {
		expect(item.json.rule).toEqual(
			expect.objectContaining({ id: own.ruleId, instructions: expect.any(String), context_message_count: expect.any(Number), max_follow_ups: expect.any(Number) }),
		);
	}
	expect(summaries!.map((item) => item.json)).toEqual([
		{ requested: 3, pageId: null, claimed: 3, reason: null, notClaimed: {}, rules: [expect.objectContaining({ ruleId: own.ruleId, status: 'filled', claimed: 3 })] },
	]);
	expect([...contacts!, ...summaries!].every((item) => (item.pairedItem as Array<{ item: number }>)[0].item === 0)).toBe(true);

	// Another execution: the 7 left, and the 3 the first holds counted with the 5 not due.
	const second = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: own.ruleId, limit: 100 }), { credentials: credentials() });
	const [more, secondSummaries] = outputsOf(second);
	expect(more).toHaveLength(7);
	expect(secondSummaries![0].json).toMatchObject({
		requested: 100,
		claimed: 7,
		reason: 'no_more_due',
		notClaimed: { in_progress: 3, outside_window: 2, excluded_tag: 1, stopped: 1, inactive: 1 },
	});
});

test('claim with a Page ID: only that Page\'s contacts under a rule for every Page, the Summary naming the Page; the other Page\'s are left for its own claim', async () => {
	// One owner, two Pages, one rule for every Page (page_id null, as the console offers).
	const owner = await newOwner('claim-page');
	const otherPage = { ...owner, pageId: uniquePageId() };
	const world = await withDb(async (db) => {
		const tags = await createTags(db, owner, ['AI follow-up']);
		const tagIds = [tags['AI follow-up']];
		const onA = await addContacts(db, owner, { label: 'Page A lead', count: 3, tagIds, lastMessageMinutesAgo: 30, spreadMinutes: 60 });
		const onB = await addContacts(db, otherPage, { label: 'Page B lead', count: 2, tagIds, lastMessageMinutesAgo: 30, spreadMinutes: 60 });
		const ruleId = await addRule(db, owner, { name: 'Every Page', includeTagIds: tagIds });
		await db.query('update public.ai_automation_rules set page_id = null where id = $1', [ruleId]);
		return { ruleId, psidsA: onA.psids, psidsB: onB.psids };
	});
	const outputsOf = (result: Awaited<ReturnType<typeof runWorkflow>>) => result.run!.data.resultData.runData.Eligibility[0].data!.main;

	const forA = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: world.ruleId, pageId: owner.pageId, limit: 100 }), { credentials: credentials() });
	expect(forA.error).toBeUndefined();
	const [contactsA, summariesA] = outputsOf(forA);
	expect(contactsA!.map((item) => item.json.recipient_id).sort()).toEqual([...world.psidsA].sort());
	expect(contactsA!.every((item) => item.json.page_id === owner.pageId)).toBe(true);
	expect(summariesA!.map((item) => item.json)).toEqual([
		{ requested: 100, pageId: owner.pageId, claimed: 3, reason: 'no_more_due', notClaimed: {}, rules: [expect.objectContaining({ ruleId: world.ruleId, claimed: 3 })] },
	]);

	// The copy of the workflow that sends as Page B: B's two, still due.
	const forB = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: world.ruleId, pageId: otherPage.pageId, limit: 100 }), { credentials: credentials() });
	const [contactsB, summariesB] = outputsOf(forB);
	expect(contactsB!.map((item) => item.json.recipient_id).sort()).toEqual([...world.psidsB].sort());
	expect(summariesB![0].json).toMatchObject({ pageId: otherPage.pageId, claimed: 2, notClaimed: {} });
});

test('a Page ID that is not a Facebook Page ID stops the Claim with a message naming the field, before any claim', async () => {
	const result = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: seed.ruleId, pageId: 'my-page', limit: 1 }), { credentials: credentials() });
	expect(result.error?.message).toBe('The Page ID is not a Facebook Page ID: it must be 1 to 32 digits');
	const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where rule_id = $1', [seed.ruleId]));
	expect(states.rowCount).toBe(0);
});

// The database refuses a rule of another Page naming its own argument ("automation rule … sends as
// Page …, not as p_page_id …") and marks it in its DETAIL (migration …2260), which the node reads
// (not the message's words). The node says it in its own words, naming the rule and its Page ID, as
// the item's refusal (field ruleId, no `setting`): a Claim's Page ID stays its credential's Page, so
// it is the rule asked for that is to change (shipped: Trigger Now's 400 naming ruleId).
test('claim with a Page ID other than the rule\'s Page is refused naming the rule, its Page and the Page ID, as the rule\'s refusal, before any claim', async () => {
	const own = await dueContacts(2, 50, 'claim-other-page');
	const otherPage = uniquePageId();
	const message = `The rule ${own.ruleId} sends as Page ${own.owner.pageId}, not as Page ${otherPage} (this Claim's Page ID)`;
	const description = `Claim it where the Page ID is ${own.owner.pageId}: in the copy of the workflow whose Facebook credential is that Page's (a Claim's Page ID stays its own credential's Page). Here, claim a rule that sends as Page ${otherPage} or as every Page.`;
	const parameters = { operation: 'claim', ruleId: own.ruleId, pageId: otherPage, limit: 10 };

	const stopped = await runWorkflow(tagEligibilityWorkflow(parameters), { credentials: credentials() });
	expect([stopped.error?.message, stopped.error?.description]).toEqual([message, description]);
	const failed = await runWorkflow(tagEligibilityWorkflow(parameters, true), { credentials: credentials() });
	// Its failed item names the Rule (field: ruleId), which the webhook reads to answer 400 naming ruleId.
	// Its reason too, which the webhook reads to answer the description as the hint, whoever gave the rule.
	expect(failed.nodeOutputs.Eligibility).toEqual([{ error: { code: 'invalid_input', message, description, field: 'ruleId', reason: 'rule_of_another_page' } }]);
	const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where rule_id = $1', [own.ruleId]));
	expect(states.rowCount).toBe(0);

	// The rule's own Page claims as before.
	const ownPage = await runWorkflow(tagEligibilityWorkflow({ ...parameters, pageId: own.owner.pageId }), { credentials: credentials() });
	expect(ownPage.error).toBeUndefined();
	expect(ownPage.nodeOutputs.Eligibility).toHaveLength(2);
});

// On a database without migration …2260 the refusal has no DETAIL: the node recognised it by the
// mark only, so it was the database's bare 22023 ("automation_claim_explained failed: automation rule
// … sends as Page …, not as p_page_id …", no field), which Trigger Now answered 500. It is recognised
// by its words as before, and says to apply the migrations (docs/supabase.md, "Updating"). The
// function is put back as …1870 defined it, so this test has a stack of its own.
describe('claim on a database without migration …2260, on a stack of its own', () => {
	useStackOfItsOwn();

	test('a rule of another Page is still the rule\'s refusal (field ruleId), saying to apply the migrations', async () => {
		const older = readFileSync('supabase/migrations/20261201001870_follow_up_claim_faster.sql', 'utf8');
		const start = older.indexOf('create or replace function public.automation_claim_explained(');
		const body = older.indexOf('\nas $$', start);
		const end = older.indexOf('\n$$;', body) + '\n$$;'.length;
		expect([start, body].every((at) => at > 0) && end > body).toBe(true);
		await withDb((db) => db.query(older.slice(start, end)));
		const own = await dueContacts(2, 50, 'claim-other-page-older');
		const otherPage = uniquePageId();
		const parameters = { operation: 'claim', ruleId: own.ruleId, pageId: otherPage, limit: 10 };
		const failed = await runWorkflow(tagEligibilityWorkflow(parameters, true), { credentials: credentials() });
		expect(failed.nodeOutputs.Eligibility).toEqual([
			{
				error: {
					code: 'invalid_input',
					message: `The rule ${own.ruleId} sends as Page ${own.owner.pageId}, not as Page ${otherPage} (this Claim's Page ID)`,
					description: `Claim it where the Page ID is ${own.owner.pageId}: in the copy of the workflow whose Facebook credential is that Page's (a Claim's Page ID stays its own credential's Page). Here, claim a rule that sends as Page ${otherPage} or as every Page. This Supabase project's migrations are also older than the Leadflow package: ${APPLY_MIGRATIONS}.`,
					field: 'ruleId',
					reason: 'rule_of_another_page',
				},
			},
		]);
		const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where rule_id = $1', [own.ruleId]));
		expect(states.rowCount).toBe(0);
	});
});

// As an AI agent's tool, a refused ID is answered with what a model can do: give the ID. Not "pick
// it from the list" or an expression (the editor's), nor "leave the field empty to process every
// enabled rule" (Explain with no rule reads every owner's rules).
test('as an AI agent\'s tool, a rule or contact ID that is not a UUID is refused with advice the model can follow; in the editor, the advice for a person', async () => {
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('tagEligibility', parameters, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0].thrown;
	};
	const ruleFromAI = { __rl: true, mode: 'id', value: "={{ $fromAI('rule_id', 'the follow-up rule', 'string') }}" };
	const ruleAdvice = 'Give the rule\'s ID: a UUID, the rule_id Explain answers with each contact.';
	for (const parameters of [
		{ operation: 'explain', ruleId: ruleFromAI, limit: 10 },
		{ operation: 'snapshot', ruleId: ruleFromAI, contactLimit: 10 },
		{ operation: 'requeue', ruleId: ruleFromAI, conversationId: { __rl: true, mode: 'id', value: randomUUID() } },
	]) {
		expect([parameters.operation, await asTool(parameters, { rule_id: 'Cold leads' })]).toEqual([parameters.operation, `The rule ID "Cold leads" is not a UUID\n\nDetails: ${ruleAdvice}`]);
	}
	const timeline = { operation: 'timeline', ruleId: seed.ruleId, conversationId: { __rl: true, mode: 'id', value: "={{ $fromAI('contact', 'the contact', 'string') }}" } };
	expect(await asTool(timeline, { contact: 'Maria Santos' })).toBe(
		'The conversation ID "Maria Santos" is not a UUID\n\nDetails: Give the contact\'s conversation_id: a UUID (Explain lists each contact with its conversation_id and reason).',
	);

	// In the editor: the list, the table, an expression, and for Explain the empty field.
	const inWorkflow = async (parameters: IDataObject) => (await runWorkflow(tagEligibilityWorkflow(parameters), { credentials: credentials() })).error?.description;
	expect(await inWorkflow({ operation: 'explain', ruleId: 'Cold leads', limit: 10 })).toBe(
		'Pick the rule from the list, use the id column of the ai_automation_rules table, or leave the field empty to process every enabled rule.',
	);
	expect(await inWorkflow({ operation: 'timeline', ruleId: seed.ruleId, conversationId: 'Maria Santos' })).toBe(
		'Pick it from the list, or use the conversation ID from a previous Leadflow node, e.g. {{ $json.conversation_id }}.',
	);
});

// An expression or an agent's $fromAI escapes the editor's bounds: a Limit that is not a whole number
// from 1 to 10,000 is refused naming it, before any claim; an empty one (what $fromAI gives for a
// value it was not told) is the default, 50.
test('claim refuses a Limit that is not a whole number, naming it, before any claim; an empty Limit claims up to 50', async () => {
	const own = await seed001();
	for (const [limit, shown] of [['ten', '"ten"'], [2.5, '2.5'], [0, '0'], [10_001, '10001']]) {
		const refused = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: own.ruleId, limit }), { credentials: credentials() });
		expect(refused.error?.message).toBe(`Limit must be a whole number from 1 to 10000 (got ${shown})`);
	}
	const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where rule_id = $1', [own.ruleId]));
	expect(states.rowCount).toBe(0);

	const empty = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: own.ruleId, limit: '' }), { credentials: credentials() });
	expect(empty.error).toBeUndefined();
	expect(empty.nodeOutputs.Eligibility).toHaveLength(own.duePsids.length);
});

// Lease (Seconds) likewise: checked by the node, so its refusal names it (the database's would name
// p_lease_seconds, which the trigger webhook's answer pinned on the request's ruleId).
test('claim refuses a Lease (Seconds) that is not a whole number from 5 to 86,400, naming it, before any claim', async () => {
	const own = await seed001();
	for (const [leaseSeconds, shown] of [[3, '3'], [86_401, '86401'], ['soon', '"soon"']]) {
		const refused = await runWorkflow(tagEligibilityWorkflow({ operation: 'claim', ruleId: own.ruleId, limit: 1, leaseSeconds }), { credentials: credentials() });
		expect(refused.error?.message).toBe(`Lease (Seconds) must be a whole number from 5 to 86400 (got ${shown})`);
	}
	const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where rule_id = $1', [own.ruleId]));
	expect(states.rowCount).toBe(0);
});

test('the read operations have one output, Claim two (Contacts, Summary)', () => {
	expect(configuredOutputs({ operation: 'claim' }).map((output) => output.displayName)).toEqual(['Contacts', 'Summary']);
	expect(configuredOutputs({ operation: 'explain' }).map((output) => output.displayName)).toEqual(['Contacts']);
});

test('Snapshot: Contacts per List from an expression (or an agent) is checked by the node, naming it; empty is the default', async () => {
	const run = (contactLimit: string | number) => runWorkflow(tagEligibilityWorkflow({ operation: 'snapshot', ruleId: seed.ruleId, contactLimit }), { credentials: credentials() });
	for (const given of ['ten', '-3', '2.5']) {
		const result = await run(`={{ ${JSON.stringify(given)} }}`);
		// Not "automation_snapshot failed: invalid input syntax for type integer", nor a list cut to nothing.
		expect([given, result.error?.message]).toEqual([given, `Contacts per List must be a whole number from 0 to 2147483647 (got ${JSON.stringify(given)})`]);
		expect(result.error?.description).toMatch(/leave it empty for 200/);
	}
	const eligibleOf = async (contactLimit: string | number) => {
		const result = await run(contactLimit);
		expect(result.error).toBeUndefined();
		return (result.nodeOutputs.Eligibility[0] as { eligibleContacts: unknown[] }).eligibleContacts.length;
	};
	// Empty (what $fromAI gives for a value the model left out): 200, more than seed001's contacts.
	const all = await eligibleOf('={{ "" }}');
	expect(all).toBeGreaterThan(1);
	expect(await eligibleOf('={{ "1" }}')).toBe(1);
	expect(await eligibleOf(200)).toBe(all);
	// A workflow saved before the node checked it, with a large number for "every contact", still runs.
	expect(await eligibleOf(1_000_000)).toBe(all);
});
