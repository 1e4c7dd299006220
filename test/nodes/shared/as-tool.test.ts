// The nodes as an AI agent's tools, run through n8n-core's own tool path (test/harness/agent.ts): an
// agent reads only a tool's first output, so as a tool every output's items reach it there; Assign
// and Move hand no automation action out (nobody would deliver it: they wait for a workflow's Claim
// Automations); Claim Automations, and the claims of Tag Eligibility and Queue Ledger (each holds what
// it takes for a workflow to send), refuse to run as a tool.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { activities, createPipelineWorld } from '../../db/pipelines/fixtures';
import { createWorld } from '../../db/follow-up/fixtures';
import { leadsOf, messagesOf, prepareDue, queueOwner } from '../QueueLedger/support/queue';
import { testStack, withDb } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

async function asTool(tool: string, parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow(tool, parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const outboxOf = (userId: string, conversationId: string) =>
	withDb(async (db) => (await db.query<{ kind: string; status: string }>('select kind, status from public.pipeline_outbox where user_id = $1 and conversation_id = $2 order by kind', [userId, conversationId])).rows);

test('Move as a tool: the agent reads the move and how many actions wait; the actions stay pending for a workflow, Claim Automations as a tool refuses', async () => {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' }, { type: 'notify', message: 'New lead' }] });
	const contact = await world.contact();

	const { answer } = await asTool('autoAssignStage', { operation: 'move', ownerUserId: world.userId, conversationId: contact, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified }, reason: 'The agent moved it', actor: 'ai' });
	expect(JSON.parse(answer as string)).toEqual([expect.objectContaining({ conversation_id: contact, outcome: 'assigned', stage_name: 'Qualified', automations_fired: 1, automations_waiting: 2 })]);
	expect(await outboxOf(world.userId, contact)).toEqual([
		{ kind: 'notify', status: 'pending' },
		{ kind: 'webhook', status: 'pending' },
	]);

	const claim = await asTool('autoAssignStage', { operation: 'claimAutomations', ownerUserId: world.userId, limit: 50 });
	expect(claim.thrown).toMatch(/^Claim Automations cannot run as an AI agent's tool/);
	expect(await outboxOf(world.userId, contact)).toEqual([
		{ kind: 'notify', status: 'pending' },
		{ kind: 'webhook', status: 'pending' },
	]);
});

test("Add Leads as a tool: a refused lead reaches the agent with its problem and field, not as an empty answer", async () => {
	const world = await createPipelineWorld();
	const { answer } = await asTool('queueLedger', { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: world.userId, leadName: 'Ann', phone: '12' });
	expect(JSON.parse(answer as string)).toEqual([
		expect.objectContaining({ item_index: 0, problems: [expect.objectContaining({ field: 'phone' })] }),
	]);
});

test('Claim of Tag Eligibility and of Queue Ledger refuse to run as a tool, pointing at what an agent can read instead; nothing is held', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ dailyLimit: 3 });
	const ids = await world.contacts(3);
	// Due now by the real clock, which the node's claim judges by.
	await withDb((db) => db.query("update public.messenger_conversations set last_customer_message_at = now() - interval '1 hour' where id = any($1)", [ids]));
	const followUp = await asTool('tagEligibility', { operation: 'claim', ruleId: { __rl: true, mode: 'id', value: ruleId } });
	expect(followUp.thrown).toMatch(/^Claim cannot run as an AI agent's tool\n\nDetails: .*use Explain \(it claims nothing\)/);
	const held = await withDb(async (db) => (await db.query('select count(*)::int as n from public.ai_automation_contact_states where rule_id = $1 and locked_until is not null', [ruleId])).rows[0].n);
	expect(held).toBe(0);

	const owner = await queueOwner();
	await leadsOf(owner, 2);
	await prepareDue(owner);
	const queue = await asTool('queueLedger', { resource: 'message', operation: 'claim', ownerUserId: owner });
	// Pointing at what a tool can read: Export's CSV file is binary data, which a tool's answer does not carry.
	expect(queue.thrown).toMatch(/^Claim cannot run as an AI agent's tool\n\nDetails: .*use Get Metrics \(its numbers per day\) or the Leadflow Console node's Queue Page/);
	expect(queue.thrown).not.toMatch(/use Export/);
	const messages = await messagesOf(owner);
	expect(messages.map((message) => message.status)).toEqual(['queued', 'queued']);
	// The Queue Page it names reads the queue as a tool: the owner's two messages, neither held.
	const page = await asTool('leadflowConsole', { resource: 'queue', operation: 'queuePage', userId: owner, day: messages[0].day, status: '', search: '', offset: '0', limit: '50' });
	expect(page.thrown).toBeUndefined();
	const [{ rows }] = JSON.parse(page.answer as string) as Array<{ rows: { rows: Array<{ item_id: string; status: string }> } }>;
	expect(rows.rows.map((row) => [row.item_id, row.status]).sort()).toEqual(messages.map((message) => [message.id, 'queued']).sort());
});

test('Console Get Page refuses to run as a tool (its HTML is for a browser), naming the operations an agent reads instead', async () => {
	const { thrown, answer } = await asTool('leadflowConsole', { resource: 'console', operation: 'page' });
	expect(String(answer ?? '').slice(0, 80)).toBe('');
	expect(thrown).toMatch(/^Get Page cannot run as an AI agent's tool\n\nDetails: .*use Monitor Page, Contact Timeline or List Rules/);
});

test("Generate Follow-Up's Follow-Up Number given as words by a model: the error shows the value given, not NaN", async () => {
	const run = await runWorkflow(
		agentWorkflow('generateFollowUp', { recordStages: false, instructions: 'Be brief', followUpNumber: "={{ $fromAI('n', '', 'string') }}" }, { leadflowGeminiApi: { id: 'gemini', name: 'Gemini' } }, { n: 'second' }) as unknown as WorkflowJson,
		// Never reached: the number is refused before any call.
		{ credentials: { leadflowGeminiApi: { apiKeys: 'AIzaFAKEKEY123', baseUrl: 'http://127.0.0.1:9', model: 'gemini-x' } } },
	);
	expect(run.nodeOutputs.Agent[0].thrown).toMatch(/^Follow-Up Number must be a whole number of at least 1 \(got "second"\)/);
});

test("Move with Moved By left at its default: an agent's tool records the agent, a workflow a person, as before", async () => {
	const world = await createPipelineWorld();
	const [byAgent, byWorkflow] = [await world.contact(), await world.contact()];
	// No `actor`: what a node saved with Moved By left at its default holds.
	const move = (conversationId: string) => ({ operation: 'move', conversationId, stage: { __rl: true, mode: 'name', value: 'Qualified' }, pipelineId: { __rl: true, mode: 'id', value: world.pipeline.id }, reason: 'Asked for a quote' });
	const { answer } = await asTool('autoAssignStage', { ...move(byAgent), ownerUserId: world.userId });
	expect(JSON.parse(answer as string)).toEqual([expect.objectContaining({ conversation_id: byAgent, outcome: 'assigned' })]);
	const plain = await runWorkflow(
		{
			name: 'Move',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'move', name: 'Move', type: 'n8n-nodes-leadflow.autoAssignStage', typeVersion: 1, position: [200, 0], parameters: move(byWorkflow), credentials: node },
			],
			connections: { Start: { main: [[{ node: 'Move', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(plain.error).toBeUndefined();
	const moved = async (conversationId: string) => (await activities(conversationId)).filter((a) => a.type === 'MANUAL_MOVE').map((a) => ({ actor: a.actor, title: a.title }));
	expect(await moved(byAgent)).toEqual([{ actor: 'ai', title: 'Moved by an AI agent' }]);
	expect(await moved(byWorkflow)).toEqual([{ actor: 'user', title: 'Moved manually' }]);
});

test('Move by stage name of a contact in no pipeline, Pipeline left empty: the agent reads the node\'s field words, not pipeline_id', async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const { thrown } = await asTool('autoAssignStage', { operation: 'move', ownerUserId: world.userId, conversationId: contact, stage: { __rl: true, mode: 'name', value: "={{ $fromAI('stage', 'the stage name', 'string') }}" } }, { stage: 'Qualified' });
	expect(thrown).toBe(
		'item 0 (p_items[0]): Pipeline is empty and the contact is in no pipeline\n\nDetails: Choose a Pipeline to look the stage name up in (the contact is placed in it; a webhook caller sends {"pipelineId": "…"}), or give the stage\'s ID.',
	);
	expect(await activities(contact)).toEqual([]);
});

test('Assign refuses to run as a tool (it reads the items Analyze outputs), pointing at Move; nothing is placed', async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const { thrown } = await asTool('autoAssignStage', { operation: 'assign' }, { conversation_id: contact, lead_score: 80, lead_status: 'QUALIFIED', recommended_stage: 'Qualified' });
	expect(thrown).toMatch(/^Assign cannot run as an AI agent's tool\n\nDetails: .*use Move/);
	expect(await activities(contact)).toEqual([]);
});
