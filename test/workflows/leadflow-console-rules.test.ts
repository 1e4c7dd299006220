// The Rules endpoints of workflows/leadflow-console.json through n8n's engine in-process against the
// local stack: the rules with their tags by name; a rule saved through the endpoint is the row
// written; the preview is the database's judgement and writes nothing; an invalid rule is a 400
// naming the field with the database's message and plain-words advice, nothing written; delete;
// the prompt preview for one real contact equals what GenerateFollowUp then sends the Gemini
// simulator for that contact; 403 without the key; a body with a column beside settings, or without
// settings, is a 400 naming it before anything runs; bad input a node checks is a 400 with its hint.
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { addContacts, addRule, createTags } from '../../scripts/demo/seed';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { createWorld, type World } from '../db/follow-up/fixtures';
import { pipelineCredentials, triggerNow } from './support/pipeline';
import { newOwner } from './support/seeds';

const WORKFLOW = 'workflows/leadflow-console.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;

let sims: RunningSimulators;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

const withKey = { [KEY.name]: KEY.value };
const post = (startNode: string, body: unknown, headers: Record<string, string> = withKey) =>
	runWorkflow(WORKFLOW, { startNode, webhook: { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body }, credentials });
const get = (query: Record<string, string | string[]>, headers: Record<string, string> = withKey) =>
	runWorkflow(WORKFLOW, { startNode: 'Rules Request', webhook: { method: 'GET', headers, query }, credentials });

const rulesOf = (userId: string) =>
	withDb(async (db) => (await db.query('select * from public.ai_automation_rules where user_id = $1 order by name', [userId])).rows);

const settings = (world: World) => ({
	name: 'Console form rule',
	include_tag_ids: [world.tags['AI Lead'], world.tags.Hot],
	tag_match: 'all',
	exclude_tag_ids: [world.tags['Do Not Contact']],
	active_hours_start: '08:30:00',
	active_hours_end: '20:00:00',
	time_zone: 'America/New_York',
	active_days: [1, 3, 5],
	daily_limit: 25,
	max_follow_ups: 4,
	min_hours_between_follow_ups: 2,
	stop_on_reply: true,
	instructions: 'Remind them of the quote, briefly.',
});

test('a rule saved through the endpoint equals the row written; the list shows it with its tags by name', async () => {
	const world = await createWorld();
	const saved = await post('Save Rule Request', { userId: world.userId, settings: settings(world) });
	expect(saved.error).toBeUndefined();
	expect(saved.response?.statusCode).toBe(200);
	const body = saved.response?.body as { saved: boolean; rule: Record<string, unknown> };
	expect(body.saved).toBe(true);
	const [row] = await rulesOf(world.userId);
	expect(body.rule).toEqual({ ...row, min_hours_between_follow_ups: 2, created_at: expect.any(String), updated_at: expect.any(String) });
	expect(new Date(body.rule.created_at as string).getTime()).toBe(row.created_at.getTime());
	expect(row).toMatchObject({ ...settings(world), min_hours_between_follow_ups: '2.00' });

	const listed = await get({ userId: world.userId });
	expect(listed.response?.statusCode).toBe(200);
	const list = listed.response?.body as { rules: { id: string; include_tags: unknown; exclude_tags: unknown }[]; tags: { name: string }[] };
	expect(list.rules.map((rule) => rule.id)).toEqual([row.id]);
	expect(list.rules[0].include_tags).toEqual([
		{ id: world.tags['AI Lead'], name: 'AI Lead' },
		{ id: world.tags.Hot, name: 'Hot' },
	]);
	expect(list.tags.map((tag) => tag.name)).toEqual(['AI Lead', 'Do Not Contact', 'Hot']);

	const toggled = await post('Save Rule Request', { ruleId: row.id, settings: { enabled: false } });
	expect(toggled.response?.statusCode).toBe(200);
	expect((await rulesOf(world.userId))[0]).toMatchObject({ enabled: false, daily_limit: 25 });

	const deleted = await post('Delete Rule Request', { ruleId: row.id });
	expect(deleted.response?.statusCode).toBe(200);
	expect(deleted.response?.body).toEqual({ deleted: true, id: row.id });
	expect(await rulesOf(world.userId)).toEqual([]);
	const again = await post('Delete Rule Request', { ruleId: row.id });
	expect(again.response?.statusCode).toBe(404);
});

test.each([
	[{ daily_limit: 0 }, 'daily_limit', /daily_limit_check/],
	[{ time_zone: 'Nowhere/Town' }, 'time_zone', /time zone "Nowhere\/Town" is not known/],
	[{ include_tag_ids: [] }, 'include_tag_ids', /at least one tag/],
	[{ max_follow_ups: 'three' }, 'max_follow_ups', /invalid input syntax for type integer/],
])('an invalid rule %j is a 400 naming %s, nothing written', async (change, field, message) => {
	const world = await createWorld();
	const result = await post('Save Rule Request', { userId: world.userId, settings: { ...settings(world), ...change } });
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toMatchObject({ saved: false, error: { field, message: expect.stringMatching(message) } });
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('the preview answers the database\'s judgement of unsaved settings and writes nothing', async () => {
	const world = await createWorld();
	await world.contacts(2, { name: 'Both Tags', tags: ['AI Lead', 'Hot'] });
	await world.contacts(1, { name: 'Late', tags: ['AI Lead', 'Hot'], lastMessageHoursAgo: 30 });
	await world.contacts(1, { name: 'One Tag', tags: ['AI Lead'] });
	const open = { ...settings(world), active_hours_start: '00:00:00', active_hours_end: '00:00:00', active_days: [1, 2, 3, 4, 5, 6, 7] };
	const preview = await post('Explain Rule Request', { userId: world.userId, settings: open });
	expect(preview.response?.statusCode).toBe(200);
	expect(preview.response?.statusCode).toBe(200);
	const body = preview.response?.body as { saved: boolean; explain: { tagged: number; due: number; by_reason: Record<string, number> } };
	expect(body.saved).toBe(false);
	// tag_match all: the contact with one of the two tags is not the rule's.
	expect(body.explain.tagged).toBe(3);
	expect(await rulesOf(world.userId)).toEqual([]);

	// The workflow judges at the database's clock: saved with the same settings, automation_explain at
	// that clock counts the same.
	const saved = await post('Save Rule Request', { userId: world.userId, settings: open });
	const ruleId = (saved.response?.body as { rule: { id: string } }).rule.id;
	const { data: rows, error } = await serviceClient().rpc('automation_explain', { p_rule_id: ruleId });
	expect(error).toBeNull();
	const byReason: Record<string, number> = {};
	for (const row of rows as { reason: string | null }[]) if (row.reason) byReason[row.reason] = (byReason[row.reason] ?? 0) + 1;
	expect(body.explain).toEqual({ tagged: rows.length, due: rows.filter((row: { due: boolean }) => row.due).length, by_reason: byReason });
	await withDb((db) => db.query('delete from public.ai_automation_rules where id = $1', [ruleId]));
	const refused = await post('Explain Rule Request', { userId: world.userId, settings: { ...open, active_days: [9] } });
	expect(refused.response?.statusCode).toBe(400);
	expect(refused.response?.body).toMatchObject({ error: { field: 'active_days' } });
});

test('bad input the node checks is a 400 naming it, with what to do, on every Rules endpoint', async () => {
	const ruleIdHint = 'Use the rule ID from the rules list (GET …/api/rules).';
	for (const startNode of ['Save Rule Request', 'Explain Rule Request']) {
		const bad = await post(startNode, { ruleId: 'rule-1', settings: {} });
		expect({ startNode, status: bad.response?.statusCode, body: bad.response?.body }).toEqual({
			startNode,
			status: 400,
			body: { status: 400, error: expect.stringMatching(/rule ID "rule-1" is not a UUID/), field: 'ruleId', hint: ruleIdHint },
		});
	}
	const notObject = await post('Save Rule Request', { userId: randomUUID(), settings: [1] });
	expect(notObject.response?.statusCode).toBe(400);
	expect(notObject.response?.body).toEqual({ status: 400, error: expect.stringMatching(/settings must be a JSON object/), hint: 'Send e.g. {"name": "Follow-up", "daily_limit": 50}.' });
	const badDelete = await post('Delete Rule Request', { ruleId: 'rule-1' });
	expect(badDelete.response?.statusCode).toBe(400);
	expect(badDelete.response?.body).toEqual({ status: 400, error: expect.stringMatching(/rule ID "rule-1" is not a UUID/), field: 'ruleId', hint: ruleIdHint });
	const badList = await get({ userId: 'owner-1' });
	expect(badList.response?.statusCode).toBe(400);
	expect(badList.response?.body).toEqual({ status: 400, error: 'The owner ID "owner-1" is not a UUID', field: 'userId', hint: 'Use the owner ID from the rules list (GET …/api/rules).' });
});

test('without the key, or with a wrong one, n8n refuses (403) and nothing runs', async () => {
	const world = await createWorld();
	for (const headers of [{}, { [KEY.name]: 'guess' }]) {
		const list = await get({}, headers);
		expect(list.response?.statusCode).toBe(403);
		expect(list.executedNodes).toEqual([]);
		for (const node of ['Save Rule Request', 'Explain Rule Request', 'Delete Rule Request', 'Rule Prompt Request']) {
			const result = await post(node, { userId: world.userId, settings: settings(world) }, headers);
			expect(result.response?.statusCode).toBe(403);
			expect(result.executedNodes).toEqual([]);
		}
	}
	expect(await rulesOf(world.userId)).toEqual([]);
});

interface PromptAnswer {
	tagged: number;
	contacts: { conversation_id: string; sender_name: string | null; due: boolean; reason: string | null }[];
	contact: { conversation_id: string; sender_name: string; follow_up_number: number; messages: { direction: string; text: string }[] } | null;
	rule: { instructions: string; language: string | null; model: string | null; context_message_count: number };
	prompt: { systemInstruction: string; userText: string; model: string | null; followUpNumber: number } | null;
}

test('the prompt preview for a real contact is what GenerateFollowUp sends Gemini for that contact once the settings are saved', async () => {
	const owner = await newOwner('console-prompt');
	const { ruleId, first, second } = await withDb(async (db) => {
		const tags = await createTags(db, owner, ['Course lead']);
		// Two due contacts: "Ann" wrote first (two hours ago), so the claim's order puts her first.
		const ann = await addContacts(db, owner, { label: 'Ann', count: 1, tagIds: [tags['Course lead']], lastMessageMinutesAgo: 120 });
		const bob = await addContacts(db, owner, { label: 'Bob', count: 1, tagIds: [tags['Course lead']], lastMessageMinutesAgo: 30 });
		// Ann's conversation goes on: the Page answered, she asked again (times from the database's clock).
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 values ($1, $2, 'outbound', 'It is 300 euros, with a payment plan.', now() - interval '110 minutes'),
			        ($1, $2, 'inbound', 'Is there a discount for   students?', now() - interval '100 minutes')`,
			[owner.userId, ann.conversationIds[0]],
		);
		const id = await addRule(db, owner, { name: 'Course follow-up', includeTagIds: [tags['Course lead']] });
		return { ruleId: id, first: ann.conversationIds[0], second: bob.conversationIds[0] };
	});
	const unsaved = { instructions: 'Offer the early-bird price, in two sentences.', language: 'French', context_message_count: 2 };
	const before = await withDb(async (db) => (await db.query('select * from public.ai_automation_rules where id = $1', [ruleId])).rows[0]);

	const previewed = await post('Rule Prompt Request', { ruleId, settings: unsaved });
	expect(previewed.error).toBeUndefined();
	expect(previewed.response?.statusCode).toBe(200);
	const preview = previewed.response?.body as PromptAnswer;
	expect(preview.tagged).toBe(2);
	expect(preview.contacts.map((contact) => [contact.conversation_id, contact.due])).toEqual([[first, true], [second, true]]);
	expect(preview.contact).toMatchObject({ conversation_id: first, sender_name: 'Ann 1', follow_up_number: 1 });
	// context_message_count 2 of Ann's three messages: the last two.
	expect(preview.contact?.messages.map((message) => message.direction)).toEqual(['outbound', 'inbound']);
	expect(preview.rule).toMatchObject(unsaved);
	expect(preview.prompt?.systemInstruction).toContain('Offer the early-bird price');
	expect(preview.prompt?.systemInstruction).toContain('Write in French.');
	expect(preview.prompt?.userText).toContain('Contact name: Ann 1');
	// A preview: nothing saved.
	const after = await withDb(async (db) => (await db.query('select * from public.ai_automation_rules where id = $1', [ruleId])).rows[0]);
	expect(after).toEqual(before);

	// Another contact on request.
	const other = await post('Rule Prompt Request', { ruleId, settings: unsaved, conversationId: second });
	expect((other.response?.body as PromptAnswer).prompt?.userText).toContain('Contact name: Bob 1');

	// Saved, then run for real: the follow-up workflow claims both and GenerateFollowUp asks the simulator.
	const saved = await post('Save Rule Request', { ruleId, settings: unsaved });
	expect(saved.response?.statusCode).toBe(200);
	await sims.gemini.control.clearRequests();
	const { result } = await triggerNow(pipelineCredentials(sims, owner.pageId), { ruleId });
	expect(result.response?.statusCode).toBe(200);
	const requests = await sims.gemini.control.requests();
	type Body = { systemInstruction?: { parts: { text: string }[] }; contents: { parts: { text: string }[] }[] };
	const sent = requests
		.map((request) => request.body as Body)
		.find((body) => body.contents[0].parts[0].text.startsWith('Contact name: Ann 1\n'));
	expect(sent).toBeDefined();
	expect(sent?.systemInstruction?.parts.map((part) => part.text).join('')).toBe(preview.prompt?.systemInstruction);
	expect(sent?.contents.map((content) => content.parts.map((part) => part.text).join(''))).toEqual([preview.prompt?.userText]);

	// The next preview for Ann is her second follow-up.
	const next = await post('Rule Prompt Request', { ruleId, settings: {}, conversationId: first });
	expect((next.response?.body as PromptAnswer).contact?.follow_up_number).toBe(2);
	expect((next.response?.body as PromptAnswer).prompt?.userText).toContain('This is the 2nd follow-up (1 sent before without a reply).');
});

test.each([
	[{ context_message_count: 101 }, 'context_message_count', /context_message_count_check/, /from 0 to 100/],
	[{ language: ' ' }, 'language', /language_check/, /from 1 to 50 characters/],
	[{ model: '' }, 'model', /model_check/, /credential's default/],
	[{ page_id: 'my page' }, 'page_id', /page_id_check/, /Facebook Pages/],
	[{ resume_after_takeover_hours: 0.1 }, 'resume_after_takeover_hours', /resume_after_takeover_hours_check/, /from 0.25 to 8,760/],
	[{ daily_limit: 0 }, 'daily_limit', /daily_limit_check/, /from 1 to 1,000,000/],
])('a refused setting %j is a 400 naming %s with advice in plain words, on save and on the prompt preview, nothing written', async (change, field, message, advice) => {
	const world = await createWorld();
	for (const node of ['Save Rule Request', 'Rule Prompt Request']) {
		const result = await post(node, { userId: world.userId, settings: { ...settings(world), ...change } });
		expect(result.response?.statusCode).toBe(400);
		expect(result.response?.body).toMatchObject({ saved: false, error: { field, message: expect.stringMatching(message), advice: expect.stringMatching(advice) } });
	}
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('a Page another owner connected is a 400 naming page_id with its own advice: pick a Page of this owner, or Every Page; nothing written', async () => {
	const world = await createWorld();
	const other = await createWorld();
	await withDb((db) => db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [other.pageId, other.userId]));
	for (const node of ['Save Rule Request', 'Rule Prompt Request']) {
		const result = await post(node, { userId: world.userId, settings: { ...settings(world), page_id: other.pageId } });
		expect(result.response?.statusCode).toBe(400);
		expect(result.response?.body).toMatchObject({
			saved: false,
			error: {
				field: 'page_id',
				message: `Page ${other.pageId} is connected to another owner, not to this rule's owner ${world.userId}`,
				advice: 'This Page is connected to another owner, so the rule cannot send as it: pick one of this owner\'s own Facebook Pages, or "Every Page" (leave it empty) to follow up on every Page of the owner.',
			},
		});
	}
	expect(await rulesOf(world.userId)).toEqual([]);
});

test('the new fields saved through the endpoint are the row written', async () => {
	const world = await createWorld();
	const fields = { page_id: world.pageId, model: 'gemini-2.5-flash', language: 'Spanish', context_message_count: 25, resume_after_takeover_hours: 12.5 };
	const saved = await post('Save Rule Request', { userId: world.userId, settings: { ...settings(world), ...fields } });
	expect(saved.response?.statusCode).toBe(200);
	const [row] = await rulesOf(world.userId);
	expect(row).toMatchObject({ ...fields, resume_after_takeover_hours: '12.50' });
	const list = (await get({ userId: world.userId })).response?.body as { pages: { page_id: string; user_id: string }[] };
	expect(list.pages).toEqual([{ page_id: world.pageId, name: null, user_id: world.userId }]);
});

test('the prompt preview refuses a contact that is not the rule\'s, and bad input the node checks, naming them', async () => {
	const world = await createWorld();
	const [tagged] = await world.contacts(1, { name: 'Tagged', tags: ['AI Lead'] });
	const [untagged] = await world.contacts(1, { name: 'Untagged', tags: ['Hot'] });
	const base = { userId: world.userId, settings: { ...settings(world), tag_match: 'any', include_tag_ids: [world.tags['AI Lead']], exclude_tag_ids: [] } };
	const ok = await post('Rule Prompt Request', { ...base, conversationId: tagged });
	expect(ok.response?.statusCode).toBe(200);
	expect((ok.response?.body as PromptAnswer).contact?.sender_name).toBe('Tagged');
	const refused = await post('Rule Prompt Request', { ...base, conversationId: untagged });
	expect(refused.response?.statusCode).toBe(400);
	expect(refused.response?.body).toMatchObject({ error: { field: 'conversation_id', message: expect.stringMatching(/does not carry this rule's tags/), advice: expect.stringMatching(/tagged contacts/) } });
	const bad = await post('Rule Prompt Request', { ...base, conversationId: 'contact-1' });
	expect(bad.response?.statusCode).toBe(400);
	expect(bad.response?.body).toEqual({ status: 400, error: expect.stringMatching(/conversation ID "contact-1" is not a UUID/), field: 'conversationId', hint: expect.stringMatching(/^Use the conversation id of one of the rule's tagged contacts, as the monitor lists them/) });
	expect(await rulesOf(world.userId)).toEqual([]);
});

test("the rule's messages of history decides how much conversation the AI reads: 30 of 35 messages, in the preview and in what is sent", async () => {
	const owner = await newOwner('console-history');
	const { ruleId, conversationId } = await withDb(async (db) => {
		const tags = await createTags(db, owner, ['Long talk']);
		const dee = await addContacts(db, owner, { label: 'Dee', count: 1, tagIds: [tags['Long talk']], lastMessageMinutesAgo: 300 });
		// 34 more messages, one a minute, the last 5 minutes ago (times from the database's clock).
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, $2, case when n % 2 = 0 then 'outbound' else 'inbound' end, 'Message number ' || n, now() - (40 - n) * interval '1 minute'
			   from generate_series(1, 34) n`,
			[owner.userId, dee.conversationIds[0]],
		);
		const id = await addRule(db, owner, { name: 'Long history', includeTagIds: [tags['Long talk']] });
		return { ruleId: id, conversationId: dee.conversationIds[0] };
	});
	const saved = await post('Save Rule Request', { ruleId, settings: { context_message_count: 30 } });
	expect(saved.response?.statusCode).toBe(200);

	const preview = (await post('Rule Prompt Request', { ruleId, settings: {}, conversationId })).response?.body as PromptAnswer;
	expect(preview.contact?.messages).toHaveLength(30);
	// The oldest of the 30 is message 5; 1 to 4 (and Dee's first) are left out.
	expect(preview.prompt?.userText).toContain('Message number 5');
	expect(preview.prompt?.userText).not.toContain('Message number 4\n');

	await sims.gemini.control.clearRequests();
	const { result } = await triggerNow(pipelineCredentials(sims, owner.pageId), { ruleId });
	expect(result.response?.statusCode).toBe(200);
	type Body = { contents: { parts: { text: string }[] }[] };
	const sent = (await sims.gemini.control.requests())
		.map((request) => request.body as Body)
		.find((body) => body.contents[0].parts[0].text.startsWith('Contact name: Dee 1\n'));
	expect(sent?.contents[0].parts.map((part) => part.text).join('')).toBe(preview.prompt?.userText);
});

test('save, explain and the prompt preview refuse a body whose settings are not inside settings (400 naming the stray key or settings), nothing written; settings {} on purpose still saves', async () => {
	const world = await createWorld();
	const saved = await post('Save Rule Request', { userId: world.userId, settings: settings(world) });
	const ruleId = (saved.response?.body as { rule: { id: string } }).rule.id;
	const [before] = await rulesOf(world.userId);
	const hint = expect.stringMatching(/inside settings.*"settings": \{"enabled": false\}/);

	for (const startNode of ['Save Rule Request', 'Explain Rule Request', 'Rule Prompt Request']) {
		const stray = await post(startNode, { ruleId, enabled: false });
		expect({ startNode, status: stray.response?.statusCode }).toEqual({ startNode, status: 400 });
		expect(stray.response?.body).toEqual({ status: 400, error: expect.stringMatching(/^Unknown field "enabled": the body takes ruleId, userId(,| and) settings.*\(a rule.s columns go inside settings\)/), field: 'enabled', hint });
		expect(stray.response?.headers?.['cache-control']).toBe('no-store');
		for (const body of [{ ruleId }, { ruleId, settings: null }]) {
			const missing = await post(startNode, body);
			expect({ startNode, body, status: missing.response?.statusCode }).toEqual({ startNode, body, status: 400 });
			expect(missing.response?.body).toEqual({ status: 400, error: expect.stringMatching(/^settings is missing/), field: 'settings', hint });
		}
		const both = await post(startNode, { ruleId, settings: { enabled: false }, daily_limit: 1 });
		expect(both.response?.body).toMatchObject({ status: 400, field: 'daily_limit' });
		expect(both.executedNodes.filter((name) => ['Save Rule', 'Explain Rule', 'Preview Rule Prompt'].includes(name))).toEqual([]);
	}
	expect(await rulesOf(world.userId)).toEqual([before]);

	const empty = await post('Save Rule Request', { ruleId, settings: {} });
	expect(empty.response?.statusCode).toBe(200);
	expect(empty.response?.body).toMatchObject({ saved: true, rule: { id: ruleId, enabled: true } });
	const off = await post('Save Rule Request', { ruleId, settings: { enabled: false } });
	expect(off.response?.statusCode).toBe(200);
	expect((await rulesOf(world.userId))[0]).toMatchObject({ id: ruleId, enabled: false });
});

test('an ID that is not text (a list, an object, a number) is a 400 naming it on save, delete, the prompt preview and the list: nothing created, changed or deleted', async () => {
	const world = await createWorld();
	const saved = await post('Save Rule Request', { userId: world.userId, settings: settings(world) });
	const ruleId = (saved.response?.body as { rule: { id: string } }).rule.id;
	const [before] = await rulesOf(world.userId);
	const refused = (field: string, got: string) => ({
		status: 400,
		error: expect.stringMatching(new RegExp(`\\(${field}\\) must be one UUID as text, and got ${got}$`)),
		field,
		hint: expect.stringMatching(new RegExp(`^Send ${field} once, as one UUID in text \\(\\?${field}=<id> in a query, "${field}": "<id>" in a JSON body\\), not a list`)),
	});
	// [] read as "no rule" CREATED a rule (with the owner) instead of changing one; ["<id>"] read as the id.
	for (const [startNode, body, field, got] of [
		['Save Rule Request', { ruleId: [], userId: world.userId, settings: { ...settings(world), name: 'Renamed' } }, 'ruleId', 'an array of 0'],
		['Save Rule Request', { ruleId: [ruleId], settings: { enabled: false } }, 'ruleId', 'an array of 1'],
		['Save Rule Request', { ruleId: { id: ruleId }, settings: { enabled: false } }, 'ruleId', 'an object'],
		['Save Rule Request', { ruleId: 7, settings: { enabled: false } }, 'ruleId', '7'],
		['Save Rule Request', { userId: [world.userId], settings: settings(world) }, 'userId', 'an array of 1'],
		['Explain Rule Request', { ruleId: [ruleId], settings: {} }, 'ruleId', 'an array of 1'],
		['Delete Rule Request', { ruleId: [ruleId] }, 'ruleId', 'an array of 1'],
		['Rule Prompt Request', { ruleId: [ruleId], settings: {} }, 'ruleId', 'an array of 1'],
		['Rule Prompt Request', { ruleId, settings: {}, conversationId: [randomUUID()] }, 'conversationId', 'an array of 1'],
	] as const) {
		const result = await post(startNode, body);
		expect({ startNode, body, status: result.response?.statusCode, answer: result.response?.body }).toEqual({ startNode, body, status: 400, answer: refused(field, got) });
	}
	expect(await rulesOf(world.userId)).toEqual([before]);
	const listed = await get({ userId: [world.userId] });
	expect(listed.response?.body).toEqual(refused('userId', 'an array of 1'));
});
