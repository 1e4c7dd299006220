// TagEligibility's Requeue through n8n's engine: a rule's failed contacts due again. Every failed
// contact of the rule (one call), or the contact each item names (the items of one rule share a
// call, each answer paired with the items that asked for it); sends that may have arrived stay
// unless Uncertain Sends says they were checked; a contact ID that is not a UUID is refused naming it.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { createWorld, NOW } from '../../db/follow-up/fixtures';
import { beginSend, claim, generate, recordSend } from '../../db/follow-up/stage-helpers';
import { agentWorkflow } from '../../harness/agent';

const service = serviceClient({ now: NOW });
const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

function requeueWorkflow(items: IDataObject[], parameters: IDataObject): WorkflowJson {
	return {
		name: 'Requeue failed contacts',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'entries', name: 'Entries', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ entries: items }), options: {} } },
			{ id: 'items', name: 'Items', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [300, 0], parameters: { fieldToSplitOut: 'entries', options: {} } },
			{
				id: 'requeue',
				name: 'Requeue',
				type: 'n8n-nodes-leadflow.tagEligibility',
				typeVersion: 1,
				position: [400, 0],
				parameters: { operation: 'requeue', ...parameters },
				credentials: { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } },
			},
		],
		connections: {
			Start: { main: [[{ node: 'Entries', type: 'main', index: 0 }]] },
			Entries: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'Requeue', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

/** Two failed contacts of one rule: one Facebook refused for good, one whose send may have arrived. */
async function failedWorld() {
	const world = await createWorld();
	const ruleId = await world.rule();
	const [first, second] = await world.contacts(2);
	const claimed = await claim(service, ruleId, 'exec-1', 2);
	const ids = claimed.map((contact) => contact.state_id);
	await generate(service, 'exec-1', ids);
	await beginSend(service, 'exec-1', ids, NOW, 30);
	const refused = claimed.find((contact) => contact.conversation_id === first)!;
	await recordSend(service, 'exec-1', [{ state_id: refused.state_id, outcome: 'failed', error_code: '10', error_message: 'Permission denied' }], plus(0.1));
	// The other's sender died: the next claim reaps it into send_uncertain.
	expect(await claim(service, ruleId, 'exec-reaper', 10, plus(5))).toEqual([]);
	return { ruleId, refused: first, uncertain: second, userId: world.userId };
}

const rule = (ruleId: string) => ({ __rl: true, mode: 'id', value: ruleId });

test('every failed contact of the rule: the refused one requeued, the uncertain one left; then that one, checked, requeued', async () => {
	const { ruleId, refused, uncertain } = await failedWorld();
	const all = await runWorkflow(requeueWorkflow([{}], { ruleId: rule(ruleId) }), { credentials: credentials() });
	expect(all.error).toBeUndefined();
	const outcomes = (all.nodeOutputs.Requeue as IDataObject[]).map((row) => [row.conversation_id, row.outcome, row.error_code, row.released_guard, row.rule_id]);
	expect(outcomes.sort()).toEqual(
		[
			[refused, 'requeued', '10', true, ruleId],
			[uncertain, 'uncertain_left', 'send_uncertain', false, ruleId],
		].sort(),
	);

	const checked = await runWorkflow(
		requeueWorkflow([{ id: uncertain }, { id: 'not-a-contact' }], { ruleId: rule(ruleId), conversationId: { __rl: true, mode: 'id', value: '={{ $json.id }}' }, uncertain: 'requeue' }),
		{ credentials: credentials() },
	);
	expect(checked.error?.message).toBe('The conversation ID "not-a-contact" is not a UUID');
	const one = await runWorkflow(
		requeueWorkflow([{ id: uncertain }, { id: uncertain }], { ruleId: rule(ruleId), conversationId: { __rl: true, mode: 'id', value: '={{ $json.id }}' }, uncertain: 'requeue' }),
		{ credentials: credentials() },
	);
	expect(one.error).toBeUndefined();
	expect(one.nodeOutputs.Requeue).toEqual([expect.objectContaining({ conversation_id: uncertain, outcome: 'requeued', released_guard: true })]);
	const paired = one.run!.data.resultData.runData.Requeue[0].data!.main[0]![0].pairedItem;
	expect(paired).toEqual([{ item: 0 }, { item: 1 }]);
});

test('as an AI agent\'s tool, an empty Contact (the model named none) requeues nothing unless Every Failed Contact of the Rule is on', async () => {
	const { ruleId, refused, userId } = await failedWorld();
	const requeuedAt = async (conversationId: string) =>
		(await withDb((db) => db.query<{ at: string | null }>("select stage_detail->>'requeued_at' as at from public.ai_automation_contact_states where rule_id = $1 and conversation_id = $2", [ruleId, conversationId]))).rows[0].at;
	const contact = { __rl: true, mode: 'id', value: "={{ $fromAI('contact', 'the failed contact to requeue', 'string') }}" };
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('tagEligibility', { operation: 'requeue', ruleId: rule(ruleId), conversationId: contact, ownerUserId: userId, ...parameters }, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0];
	};

	const empty = await asTool({}, { contact: '' });
	expect(empty.thrown).toMatch(/^Contact is empty: as an AI agent's tool, Requeue requeues one named contact\n\nDetails: Give the conversation_id/);
	expect(await requeuedAt(refused)).toBeNull();

	const everyFailed = await asTool({ everyFailedContact: true }, { contact: '' });
	expect(JSON.parse(everyFailed.answer as string)).toEqual(expect.arrayContaining([expect.objectContaining({ conversation_id: refused, outcome: 'requeued' })]));
	expect(await requeuedAt(refused)).not.toBeNull();
});

// A model's refused Contact is told to name one contact, never to leave the field empty: the tool
// refuses an empty Contact, and with Every Failed Contact of the Rule on an empty one requeues the
// whole rule. Before, "Maria Santos" was answered "…or leave the field empty for every failed contact
// of the rule", and the model's next call, with it empty, was refused in turn.
test('as an AI agent\'s tool, a Contact that is not a conversation ID is refused with advice the model can follow: name the contact, not leave it empty', async () => {
	const { ruleId, refused } = await failedWorld();
	const requeuedAt = async (conversationId: string) =>
		(await withDb((db) => db.query<{ at: string | null }>("select stage_detail->>'requeued_at' as at from public.ai_automation_contact_states where rule_id = $1 and conversation_id = $2", [ruleId, conversationId]))).rows[0].at;
	const contact = { __rl: true, mode: 'id', value: "={{ $fromAI('contact', 'the conversation_id of the failed contact', 'string') }}" };
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('tagEligibility', { operation: 'requeue', ruleId: rule(ruleId), conversationId: contact, ...parameters }, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0].thrown as string;
	};
	const advice = 'Give the conversation_id of the failed contact to requeue: a UUID (Explain lists each contact with its conversation_id and reason).';

	for (const parameters of [{}, { everyFailedContact: true }]) {
		const thrown = await asTool(parameters, { contact: 'Maria Santos' });
		expect([parameters, thrown]).toEqual([parameters, `The conversation ID "Maria Santos" is not a UUID\n\nDetails: ${advice}`]);
	}
	// Left empty, the same advice: nothing the tool's settings decide, which a model cannot change.
	expect(await asTool({}, { contact: '' })).toBe(`Contact is empty: as an AI agent's tool, Requeue requeues one named contact\n\nDetails: ${advice}`);
	expect(await requeuedAt(refused)).toBeNull();

	// In a workflow a person reads it: there an empty Contact is every failed contact of the rule.
	const inWorkflow = await runWorkflow(requeueWorkflow([{ id: 'Maria Santos' }], { ruleId: rule(ruleId), conversationId: { __rl: true, mode: 'id', value: '={{ $json.id }}' } }), { credentials: credentials() });
	expect(inWorkflow.error?.message).toBe('The conversation ID "Maria Santos" is not a UUID');
	expect(inWorkflow.error?.description).toBe('Use the contact\'s conversation_id (from Explain, the monitor or a claim), or leave the field empty for every failed contact of the rule.');
});

test('with Continue On Fail, a refused Contact or Uncertain Sends fails its item alone, naming its parameter (field)', async () => {
	const ruleId = await (await createWorld()).rule();
	const workflow = requeueWorkflow([{ id: 'Maria Santos', uncertain: 'leave' }, { id: '', uncertain: 'maybe' }], {
		ruleId: rule(ruleId),
		conversationId: { __rl: true, mode: 'id', value: '={{ $json.id }}' },
		uncertain: '={{ $json.uncertain }}',
	});
	workflow.nodes[3] = { ...workflow.nodes[3], onError: 'continueRegularOutput' };
	const run = await runWorkflow(workflow, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs.Requeue).toEqual([
		{ error: { code: 'invalid_input', message: 'The conversation ID "Maria Santos" is not a UUID', description: expect.stringMatching(/conversation_id/), field: 'conversationId' } },
		{ error: { code: 'invalid_input', message: 'Uncertain Sends must be leave or requeue (got "maybe")', description: expect.stringMatching(/^leave: /), field: 'uncertain' } },
	]);
});

test("the console's Requeue as an AI agent's tool: Conversation IDs left at its default (no contact named) requeues nothing; named ones are requeued", async () => {
	const { ruleId, refused, userId } = await failedWorld();
	const requeuedAt = async (conversationId: string) =>
		(await withDb((db) => db.query<{ at: string | null }>("select stage_detail->>'requeued_at' as at from public.ai_automation_contact_states where rule_id = $1 and conversation_id = $2", [ruleId, conversationId]))).rows[0].at;
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(
			agentWorkflow('leadflowConsole', { resource: 'console', operation: 'requeue', ruleId: "={{ $fromAI('rule_id', 'the rule', 'string') }}", userId, ...parameters }, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson,
			{ credentials: credentials() },
		);
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0];
	};

	// The tool as added to an agent: Conversation IDs keeps its default, which finds no body in a tool's item.
	const none = await asTool({}, { rule_id: ruleId });
	// The model cannot give a field at its default: the advice is the builder's (review RMM1 F2).
	expect(none.thrown).toMatch(/^Conversation IDs is empty: as an AI agent's tool, Requeue Failed requeues the contacts it names\n\nDetails: Conversation IDs \(conversationIds\) is set in this tool's settings, not given by the model: let the model give the contacts with \{\{ \$fromAI\('conversationIds'/);
	expect(await requeuedAt(refused)).toBeNull();

	const named = await asTool({ conversationIds: "={{ $fromAI('conversation_ids', 'the failed contacts to requeue', 'json') }}" }, { rule_id: ruleId, conversation_ids: [refused] });
	expect(JSON.parse(named.answer as string)).toEqual([expect.objectContaining({ counts: expect.objectContaining({ requeued: 1 }) })]);
	expect(await requeuedAt(refused)).not.toBeNull();
});

// As an AI agent's tool Requeue and Timeline act within one owner (docs/nodes.md, "One owner per
// tool"): before 6 December 2026 they took any owner's rule whose ID the model gave. Owner User ID
// must be given (refused naming the field otherwise, nothing requeued), and another owner's rule is
// answered as one that does not exist; in a workflow an empty Owner User ID is any owner's, as before.
test("Tag Eligibility's Requeue and Timeline as tools act within the owner: another owner's rule is one that does not exist; with no owner refused", async () => {
	const mine = await failedWorld();
	const theirs = await failedWorld();
	const requeuedAt = async (ruleId: string, conversationId: string) =>
		(await withDb((db) => db.query<{ at: string | null }>("select stage_detail->>'requeued_at' as at from public.ai_automation_contact_states where rule_id = $1 and conversation_id = $2", [ruleId, conversationId]))).rows[0].at;
	const byAI = (key: string) => ({ __rl: true, mode: 'id', value: `={{ $fromAI('${key}', '', 'string') }}` });
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('tagEligibility', parameters, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0];
	};
	const builder = (purpose: string, without: string) =>
		`Owner User ID (ownerUserId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner ${purpose} (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('ownerUserId', 'the user ID of the owner ${purpose}') }}. This tool ${without} without it.`;

	const requeue = { operation: 'requeue', ruleId: byAI('rule'), conversationId: byAI('contact'), ownerUserId: mine.userId };
	const other = await asTool(requeue, { rule: theirs.ruleId, contact: theirs.refused });
	const unknown = await asTool(requeue, { rule: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f', contact: theirs.refused });
	expect(other.thrown).toBe(String(unknown.thrown).replace('7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f', theirs.ruleId));
	expect(other.thrown).toMatch(/does not exist/);
	expect((await asTool({ ...requeue, ownerUserId: '' }, { rule: theirs.ruleId, contact: theirs.refused })).thrown).toBe(
		`Requeue as an AI agent's tool needs the user ID of the owner whose failed contacts to requeue (Owner User ID, ownerUserId), and none was given\n\nDetails: ${builder('whose failed contacts to requeue', 'requeues nothing')}`,
	);
	expect(await requeuedAt(theirs.ruleId, theirs.refused)).toBeNull();
	expect(JSON.parse((await asTool(requeue, { rule: mine.ruleId, contact: mine.refused })).answer as string)).toEqual([expect.objectContaining({ outcome: 'requeued' })]);

	const timeline = { operation: 'timeline', ruleId: byAI('rule'), conversationId: byAI('contact'), ownerUserId: "={{ $fromAI('owner', '', 'string') }}" };
	const hidden = await asTool(timeline, { owner: mine.userId, rule: theirs.ruleId, contact: theirs.refused });
	expect(hidden.thrown).toBe(`There is no automation rule with ID ${theirs.ruleId}\n\nDetails: Check the rule ID against the ai_automation_rules table of this Supabase project.`);
	expect((await asTool(timeline, { owner: 'null', rule: theirs.ruleId, contact: theirs.refused })).thrown).toBe(
		"Timeline as an AI agent's tool needs the user ID of the owner whose contact's history to read (owner), and none was given\n\nDetails: Give the user ID of the owner whose contact's history to read as owner: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool reads no history without it.",
	);
	expect(JSON.parse((await asTool(timeline, { owner: theirs.userId, rule: theirs.ruleId, contact: theirs.refused })).answer as string).length).toBeGreaterThan(0);

	// In a workflow an empty Owner User ID is any owner's rule, as before.
	const all = await runWorkflow(requeueWorkflow([{}], { ruleId: rule(theirs.ruleId) }), { credentials: credentials() });
	expect(all.error).toBeUndefined();
	expect(await requeuedAt(theirs.ruleId, theirs.refused)).not.toBeNull();
});

// Explain and Snapshot as tools likewise (migration …2672): with no rule, Explain judges only the
// owner's rules; another owner's rule is one that does not exist; with no owner refused.
test("Tag Eligibility's Explain and Snapshot as tools act within the owner: another owner's rule is one that does not exist, Explain with no rule only the owner's; with no owner refused", async () => {
	const mine = await failedWorld();
	const theirs = await failedWorld();
	const byAI = (key: string) => ({ __rl: true, mode: 'id', value: `={{ $fromAI('${key}', '', 'string') }}` });
	const asTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('tagEligibility', parameters, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent[0];
	};
	const NOBODY = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
	const notFound = (ruleId: string) => `There is no automation rule with ID ${ruleId}\n\nDetails: Check the rule ID against the ai_automation_rules table of this Supabase project.`;

	const explain = { operation: 'explain', ruleId: byAI('rule'), ownerUserId: mine.userId, limit: 1000 };
	expect((await asTool(explain, { rule: theirs.ruleId })).thrown).toBe(notFound(theirs.ruleId));
	expect((await asTool(explain, { rule: NOBODY })).thrown).toBe(notFound(NOBODY));
	const every = JSON.parse((await asTool(explain, { rule: '' })).answer as string) as Array<{ rule_id: string }>;
	expect(every.length).toBeGreaterThan(0);
	expect([...new Set(every.map((row) => row.rule_id))]).toEqual([mine.ruleId]);
	expect((await asTool({ ...explain, ownerUserId: '' }, { rule: '' })).thrown).toMatch(/^Explain as an AI agent's tool needs the user ID of the owner whose rules to judge \(Owner User ID, ownerUserId\), and none was given\n\nDetails: Owner User ID \(ownerUserId\) is set in this tool's settings/);

	const snapshot = { operation: 'snapshot', ruleId: byAI('rule'), ownerUserId: mine.userId };
	expect((await asTool(snapshot, { rule: theirs.ruleId })).thrown).toBe(notFound(theirs.ruleId));
	expect(JSON.parse((await asTool(snapshot, { rule: mine.ruleId })).answer as string)[0].rule.id).toBe(mine.ruleId);
	expect((await asTool({ ...snapshot, ownerUserId: 'undefined' }, { rule: mine.ruleId })).thrown).toMatch(/^Snapshot as an AI agent's tool needs the user ID of the owner whose rule to read /);
});
