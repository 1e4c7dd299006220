// Every Leadflow Console operation that reads or changes an owner's data, as an AI agent's tool, acts
// within one owner (docs/nodes.md, "One owner per tool"). Before 6 December 2026 List Rules with an
// empty Owner ID listed every owner's rules, and Save Rule, Delete Rule, Contact Timeline and
// Requeue Failed took any owner's rule whose ID the model gave (the node runs with the service role). Now, as
// a tool, Owner ID (userId) must be given (refused naming the field otherwise, nothing read or
// written) and the database keeps the call to that owner: another owner's rule answers as one that
// does not exist. In a workflow an empty Owner ID is as before (any owner's); a given one scopes it.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { createWorld, NOW } from '../../db/follow-up/fixtures';
import { beginSend, claim, generate, recordSend } from '../../db/follow-up/stage-helpers';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { createPipelineWorld } from '../../db/pipelines/fixtures';

const service = serviceClient({ now: NOW });
const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;
const NOBODY = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';

async function asTool(parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}
const answerOf = (out: IDataObject): IDataObject => {
	expect(out.thrown).toBeUndefined();
	return (JSON.parse(out.answer as string) as IDataObject[])[0];
};

async function inWorkflow(parameters: IDataObject) {
	return await runWorkflow(
		{
			name: 'Console',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'console', name: 'Console', type: 'n8n-nodes-leadflow.leadflowConsole', typeVersion: 1, position: [200, 0], parameters, credentials: node },
			],
			connections: { Start: { main: [[{ node: 'Console', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
}

const ruleName = async (ruleId: string) =>
	(await withDb((db) => db.query<{ name: string }>('select name from public.ai_automation_rules where id = $1', [ruleId]))).rows[0]?.name;
const requeuedAt = async (ruleId: string, conversationId: string) =>
	(await withDb((db) => db.query<{ at: string | null }>("select stage_detail->>'requeued_at' as at from public.ai_automation_contact_states where rule_id = $1 and conversation_id = $2", [ruleId, conversationId]))).rows[0].at;

/** An owner with a rule and one contact the rule's send failed for (so it has stage events and may be requeued). */
async function ownerWithFailed() {
	const world = await createWorld();
	const ruleId = await world.rule();
	const [contact] = await world.contacts(1);
	const execution = `exec-${ruleId.slice(0, 8)}`;
	const [claimed] = await claim(service, ruleId, execution, 1);
	await generate(service, execution, [claimed.state_id]);
	await beginSend(service, execution, [claimed.state_id], NOW, 30);
	await recordSend(service, execution, [{ state_id: claimed.state_id, outcome: 'failed', error_code: '10', error_message: 'Permission denied' }], new Date(NOW.getTime() + 6_000));
	return { userId: world.userId, ruleId, contact };
}

const BUILDER = (purpose: string, without: string) =>
	`Owner ID (userId) is set in this tool's settings, not given by the model: set it there to the user ID of the owner ${purpose} (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('userId', 'the user ID of the owner ${purpose.replace(/'/g, "\\'")}') }}. This tool ${without} without it.`;
const AGENT = (purpose: string, without: string, field: string) =>
	`Give the user ID of the owner ${purpose} as ${field}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool ${without} without it.`;
const refused = (operation: string, field: string, purpose: string) => `${operation} as an AI agent's tool needs the user ID of the owner ${purpose} (${field}), and none was given`;

test("List Rules as a tool lists only the owner's rules; with no owner it is refused naming the field, on both agent paths", async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	const myRule = await mine.rule();
	await theirs.rule();
	const list = answerOf(await asTool({ resource: 'console', operation: 'rules', userId: mine.userId }));
	expect({ rules: (list.rules as Array<{ id: string }>).map((rule) => rule.id), owners: list.owners }).toEqual({ rules: [myRule], owners: [mine.userId] });

	const words = ['whose rules to list', 'lists no rule'] as const;
	// The field at its default ({{ $json.query?.userId }}), or emptied: the builder's to set.
	for (const parameters of [{ resource: 'console', operation: 'rules' }, { resource: 'console', operation: 'rules', userId: '' }]) {
		expect((await asTool(parameters)).thrown).toBe(`${refused('List Rules', 'Owner ID, userId', words[0])}\n\nDetails: ${BUILDER(...words)}`);
		const engine = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, {}) as unknown as WorkflowJson, { credentials: credentials() });
		expect((JSON.parse(engine.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0].error).toBe(`${refused('List Rules', 'Owner ID, userId', words[0])}\n\nDetails: ${BUILDER(...words)}`);
	}
	for (const owner of ['', 'null', ' Undefined ']) {
		expect((await asTool({ resource: 'console', operation: 'rules', userId: ai('owner') }, { owner })).thrown).toBe(`${refused('List Rules', 'owner', words[0])}\n\nDetails: ${AGENT(...words, 'owner')}`);
	}
	expect((await asTool({ resource: 'console', operation: 'rules', userId: ai('owner') }, { owner: 'Maria' })).thrown).toBe(`The owner ID "Maria" is not a UUID\n\nDetails: ${AGENT(...words, 'owner')}`);

	// In a workflow (the console's Rules tab) an empty Owner ID is every owner's, as before.
	const every = await inWorkflow({ resource: 'console', operation: 'rules', userId: '' });
	expect((every.nodeOutputs.Console[0].rules as Array<{ id: string }>).map((rule) => rule.id)).toContain(myRule);
	expect((every.nodeOutputs.Console[0].owners as string[])).toEqual(expect.arrayContaining([mine.userId, theirs.userId]));
});

test("Save Rule as a tool changes only the owner's rule: another owner's is not found, nothing written; with no owner refused", async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	const myRule = await mine.rule({ name: 'Mine' });
	const theirRule = await theirs.rule({ name: 'Theirs' });
	const tool = { resource: 'console', operation: 'ruleWrite', ruleId: ai('rule'), userId: mine.userId, settings: '={{ { "name": "Renamed" } }}' };

	const other = answerOf(await asTool(tool, { rule: theirRule }));
	expect(other).toEqual({ saved: false, not_found: true, error: expect.objectContaining({ field: null, message: `there is no automation rule with id ${theirRule} for owner ${mine.userId}` }) });
	const nobody = answerOf(await asTool(tool, { rule: NOBODY }));
	expect((nobody.error as IDataObject).message).toBe(`there is no automation rule with id ${NOBODY} for owner ${mine.userId}`);
	expect(await ruleName(theirRule)).toBe('Theirs');
	expect(answerOf(await asTool(tool, { rule: myRule }))).toEqual(expect.objectContaining({ saved: true }));
	expect(await ruleName(myRule)).toBe('Renamed');

	const bare = { ...tool, userId: '' };
	expect((await asTool(bare, { rule: theirRule })).thrown).toBe(`${refused('Save Rule', 'Owner ID, userId', 'whose rule to create or change')}\n\nDetails: ${BUILDER('whose rule to create or change', 'writes no rule')}`);
	expect(await ruleName(theirRule)).toBe('Theirs');

	// In a workflow: an empty Owner ID changes any owner's rule (the console sends none with a rule ID); a given one scopes it.
	const scoped = await inWorkflow({ resource: 'console', operation: 'ruleWrite', ruleId: theirRule, userId: mine.userId, settings: '{"name": "Scoped"}' });
	expect(scoped.nodeOutputs.Console[0]).toEqual(expect.objectContaining({ saved: false, not_found: true }));
	expect(await ruleName(theirRule)).toBe('Theirs');
	const any = await inWorkflow({ resource: 'console', operation: 'ruleWrite', ruleId: theirRule, userId: '', settings: '{"name": "By the console"}' });
	expect(any.nodeOutputs.Console[0]).toEqual(expect.objectContaining({ saved: true }));
	expect(await ruleName(theirRule)).toBe('By the console');
});

test("Delete Rule as a tool deletes only the owner's rule: another owner's answers as none, and stays; with no owner refused", async () => {
	const mine = await createWorld();
	const theirs = await createWorld();
	const myRule = await mine.rule({ name: 'Mine' });
	const theirRule = await theirs.rule({ name: 'Theirs' });
	const tool = { resource: 'console', operation: 'ruleDelete', ruleId: ai('rule'), userId: mine.userId };

	expect(answerOf(await asTool(tool, { rule: theirRule }))).toEqual({ deleted: false, id: theirRule });
	expect(answerOf(await asTool(tool, { rule: NOBODY }))).toEqual({ deleted: false, id: NOBODY });
	expect(await ruleName(theirRule)).toBe('Theirs');
	expect((await asTool({ ...tool, userId: ai('owner') }, { rule: theirRule, owner: 'null' })).thrown).toBe(
		`${refused('Delete Rule', 'owner', 'whose rule to delete')}\n\nDetails: ${AGENT('whose rule to delete', 'deletes no rule', 'owner')}`,
	);
	expect((await asTool({ resource: 'console', operation: 'ruleDelete', ruleId: ai('rule') }, { rule: theirRule })).thrown).toBe(
		`${refused('Delete Rule', 'Owner ID, userId', 'whose rule to delete')}\n\nDetails: ${BUILDER('whose rule to delete', 'deletes no rule')}`,
	);
	expect(await ruleName(theirRule)).toBe('Theirs');
	expect(answerOf(await asTool(tool, { rule: myRule }))).toEqual({ deleted: true, id: myRule });

	// In a workflow: with an owner, scoped; empty (the console's Delete), any owner's rule.
	expect((await inWorkflow({ resource: 'console', operation: 'ruleDelete', ruleId: theirRule, userId: mine.userId })).nodeOutputs.Console[0]).toEqual({ deleted: false, id: theirRule });
	expect((await inWorkflow({ resource: 'console', operation: 'ruleDelete', ruleId: theirRule })).nodeOutputs.Console[0]).toEqual({ deleted: true, id: theirRule });
});

test("Contact Timeline and Requeue Failed as tools: another owner's rule reads and requeues nothing, in the words of an unknown rule; the owner's own work; with no owner refused", async () => {
	const mine = await ownerWithFailed();
	const theirs = await ownerWithFailed();
	const timeline = { resource: 'console', operation: 'timeline', ruleId: ai('rule'), conversationId: ai('contact'), userId: mine.userId };

	const own = answerOf(await asTool(timeline, { rule: mine.ruleId, contact: mine.contact }));
	expect((own.events as unknown[]).length).toBeGreaterThan(0);
	expect(answerOf(await asTool(timeline, { rule: theirs.ruleId, contact: theirs.contact }))).toEqual({ events: [] });
	expect((await asTool({ ...timeline, userId: '' }, { rule: theirs.ruleId, contact: theirs.contact })).thrown).toBe(
		`${refused('Contact Timeline', 'Owner ID, userId', "whose contact's history to read")}\n\nDetails: ${BUILDER("whose contact's history to read", 'reads no history')}`,
	);
	// In a workflow (the console's timeline) an empty Owner ID reads any owner's, as before.
	const workflow = await inWorkflow({ resource: 'console', operation: 'timeline', ruleId: theirs.ruleId, conversationId: theirs.contact });
	expect((workflow.nodeOutputs.Console[0].events as unknown[]).length).toBeGreaterThan(0);

	const requeue = { resource: 'console', operation: 'requeue', ruleId: ai('rule'), conversationIds: "={{ $fromAI('contacts', '', 'json') }}", userId: mine.userId };
	const other = await asTool(requeue, { rule: theirs.ruleId, contacts: [theirs.contact] });
	const unknown = await asTool(requeue, { rule: NOBODY, contacts: [theirs.contact] });
	expect(other.thrown).toBe(`automation_requeue failed: automation rule ${theirs.ruleId} does not exist\n\nDetails: Check the rule id (ai_automation_rules.id).`);
	expect(other.thrown).toBe(String(unknown.thrown).replace(NOBODY, theirs.ruleId));
	expect(await requeuedAt(theirs.ruleId, theirs.contact)).toBeNull();
	expect((await asTool({ ...requeue, userId: '' }, { rule: theirs.ruleId, contacts: [theirs.contact] })).thrown).toBe(
		`${refused('Requeue Failed', 'Owner ID, userId', 'whose failed contacts to requeue')}\n\nDetails: ${BUILDER('whose failed contacts to requeue', 'requeues nothing')}`,
	);
	expect(await requeuedAt(theirs.ruleId, theirs.contact)).toBeNull();
	expect(answerOf(await asTool(requeue, { rule: mine.ruleId, contacts: [mine.contact] }))).toEqual(expect.objectContaining({ counts: expect.objectContaining({ requeued: 1 }) }));
	expect(await requeuedAt(mine.ruleId, mine.contact)).not.toBeNull();
});

test("Preview Prompt as a tool reads only the owner's rule: another owner's is not found, none of its contacts or messages said; with no owner refused", async () => {
	const mine = await ownerWithFailed();
	const theirs = await ownerWithFailed();
	const tool = { resource: 'console', operation: 'rulePrompt', ruleId: ai('rule'), userId: mine.userId, settings: '={{ {} }}', conversationId: '' };

	const other = answerOf(await asTool(tool, { rule: theirs.ruleId }));
	expect(other).toEqual({ saved: false, not_found: true, error: expect.objectContaining({ message: `there is no automation rule with id ${theirs.ruleId} for owner ${mine.userId}` }) });
	expect(JSON.stringify(other)).not.toContain(theirs.contact);
	expect(answerOf(await asTool(tool, { rule: mine.ruleId }))).toEqual(expect.objectContaining({ tagged: 1, rule: expect.objectContaining({ id: mine.ruleId }) }));
	expect((await asTool({ ...tool, userId: '' }, { rule: theirs.ruleId })).thrown).toBe(
		`${refused('Preview Prompt', 'Owner ID, userId', "whose rule's prompt to read")}\n\nDetails: ${BUILDER("whose rule's prompt to read", 'reads no prompt')}`,
	);
	// In a workflow (the Rules form's preview, which sends no owner for a saved rule) any owner's rule, as before.
	const workflow = await inWorkflow({ resource: 'console', operation: 'rulePrompt', ruleId: theirs.ruleId, userId: '', settings: '{}', conversationId: '' });
	expect(workflow.nodeOutputs.Console[0]).toEqual(expect.objectContaining({ tagged: 1 }));
});

test("Read Board as a tool lists only the owner's pipelines and reads no board of another owner (not found, as an unknown one); with no owner refused", async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const tool = { resource: 'console', operation: 'pipelineBoard', pipelineId: ai('pipeline'), userId: mine.userId, limit: '20', offset: '0', stageId: '', offsets: '', search: '', known: '' };
	const ids = (answer: IDataObject) => (answer.pipelines as Array<{ id: string }>).map((pipeline) => pipeline.id);

	const list = answerOf(await asTool(tool, { pipeline: '' }));
	expect(ids(list)).toEqual([mine.pipeline.id]);
	const own = answerOf(await asTool(tool, { pipeline: mine.pipeline.id }));
	expect((own.pipeline as { id: string }).id).toBe(mine.pipeline.id);
	const other = answerOf(await asTool(tool, { pipeline: theirs.pipeline.id }));
	const unknown = answerOf(await asTool(tool, { pipeline: NOBODY }));
	expect({ ...other, generatedAt: null }).toEqual({ ...unknown, generatedAt: null, error: String(unknown.error).replace(NOBODY, theirs.pipeline.id) });
	expect(other).toEqual(expect.objectContaining({ not_found: true, pipelines: [expect.objectContaining({ id: mine.pipeline.id })] }));
	expect((await asTool({ ...tool, userId: '' }, { pipeline: theirs.pipeline.id })).thrown).toBe(
		`${refused('Read Board', 'Owner ID, userId', 'whose pipelines to read')}\n\nDetails: ${BUILDER('whose pipelines to read', 'reads no board')}`,
	);
	// In a workflow (the console's Pipeline tab) an empty Owner ID reads every owner's, as before.
	const workflow = await inWorkflow({ ...tool, pipelineId: theirs.pipeline.id, userId: '' });
	expect((workflow.nodeOutputs.Console[0].pipeline as { id: string }).id).toBe(theirs.pipeline.id);
	expect(ids(workflow.nodeOutputs.Console[0])).toEqual(expect.arrayContaining([mine.pipeline.id, theirs.pipeline.id]));
});
