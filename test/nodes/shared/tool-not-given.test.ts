// A model's word for a value it does not know: as an AI agent's tool, an optional text field given
// "null" or "undefined" (trimmed, any case) is not given (nodes/shared/tool-text.ts), so it is never
// used as the value: Generate Follow-Up's model, contact name and language, Record Objective's
// Event Key, Move's reason and Mover ID, the Console's filters, Add Leads' optional fields, Take Lead's
// reason and Taken By. In a workflow the text is used as written: a person may be named Null.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type GeminiRequestBody, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { activities, createPipelineWorld } from '../../db/pipelines/fixtures';
import { createWorld } from '../../db/follow-up/fixtures';
import { seedLaunch, ukMobiles } from '../../helpers/campaign';
import { leadsOf, queueOwner } from '../QueueLedger/support/queue';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { isNotGivenWord } from '../../../nodes/shared/tool-text';

const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;
const supabase = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const SUPABASE_NODE = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

async function asTool(tool: string, parameters: IDataObject, args: IDataObject): Promise<IDataObject> {
	const run = await runWorkflow(agentWorkflow(tool, parameters, SUPABASE_NODE, args) as unknown as WorkflowJson, { credentials: supabase() });
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

test('the words: null and undefined, trimmed, in any case; nothing else', () => {
	expect(['null', ' NULL ', 'Null', 'undefined', '\tUndefined\n'].map(isNotGivenWord)).toEqual([true, true, true, true, true]);
	expect(['', 'nil', 'none', 'Nullah', 'null null', 'n/a'].map(isNotGivenWord)).toEqual([false, false, false, false, false, false]);
	expect([null, undefined, 0].map(isNotGivenWord)).toEqual([false, false, false]);
});

test('Generate Follow-Up as a tool: a model, contact name and language given as "null" are not given; in a workflow a contact named Null is greeted by name', async () => {
	const gemini = { leadflowGeminiApi: { apiKeys: `test-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' } };
	const messages = JSON.stringify([{ direction: 'inbound', text: 'How much is premium?', sent_at: '2026-11-20T10:00:00Z' }]);
	await sims.gemini.control.clearRequests();
	const run = await runWorkflow(
		agentWorkflow(
			'generateFollowUp',
			{ recordStages: false, instructions: 'Remind of the trial', contactName: ai('name'), model: ai('model'), language: ai('language'), messages, options: { retryDelayMs: 10 } },
			{ leadflowGeminiApi: { id: 'gemini', name: 'Gemini' } },
			{ name: 'null', model: ' NULL ', language: 'undefined' },
		) as unknown as WorkflowJson,
		{ credentials: gemini },
	);
	expect(run.error).toBeUndefined();
	const [answer] = JSON.parse(String(run.nodeOutputs.Agent[0].answer)) as Array<{ followUp?: { model: string } }>;
	expect(answer.followUp?.model).toBe('gemini-3-flash');
	const calls = (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));
	expect(calls.map((request) => request.path)).toEqual([expect.stringMatching(/\/models\/gemini-3-flash:generateContent$/)]);
	const prompt = JSON.stringify(calls[0].body as GeminiRequestBody);
	expect(prompt).toContain('Greet the contact without a name');
	expect(prompt).toContain('Write in the language the contact used.');
	expect(prompt).not.toMatch(/null|undefined/i);

	// The same values in a workflow: the text as written.
	await sims.gemini.control.clearRequests();
	const plain = await runWorkflow(
		{
			name: 'Generate',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'generate',
					name: 'Generate',
					type: 'n8n-nodes-leadflow.generateFollowUp',
					typeVersion: 1,
					position: [200, 0],
					parameters: { recordStages: false, instructions: 'Remind of the trial', contactName: 'Null', language: 'null', messages, options: { retryDelayMs: 10 } },
					credentials: { leadflowGeminiApi: { id: 'gemini', name: 'Gemini' } },
				},
			],
			connections: { Start: { main: [[{ node: 'Generate', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: gemini },
	);
	expect(plain.error).toBeUndefined();
	const [workflowCall] = (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));
	expect(JSON.stringify(workflowCall.body)).toContain('Contact name: Null');
	expect(JSON.stringify(workflowCall.body)).toContain('Write in null.');
});

test('Record Objective as a tool: an Event Key and an Occurred At given as "null" are not given, so two reports of an objective both count', async () => {
	const owner = await createTestUser('campaign-tool');
	const launch = seedLaunch();
	await asTool('campaignSessionCreate', { operation: 'create', ownerUserId: owner, launchRequestSource: 'json', launchRequest: "={{ $fromAI('launch_request', '', 'json') }}" }, { launch_request: launch });
	const session = launch.tasks[0].session;
	const record = { operation: 'recordObjective', ownerUserId: owner, sessionId: ai('session'), objective: 'rejected', value: ai('value'), source: 'manual', options: { eventKey: ai('key'), occurredAt: ai('when') } };
	const first = await asTool('campaignSessionCreate', record, { session, value: 'true', key: 'null', when: 'null' });
	expect(JSON.parse(String(first.answer))).toEqual([expect.objectContaining({ recorded: true, status: 'rejected' })]);
	// The correction: under the key "null" it was refused as the key's reuse with another value.
	const second = await asTool('campaignSessionCreate', record, { session, value: 'false', key: 'Null', when: 'undefined' });
	expect(JSON.parse(String(second.answer))).toEqual([expect.objectContaining({ recorded: true, status: 'pending', objectives: { rejected: false } })]);
	const { rows } = await withDb((db) =>
		db.query('select e.value, e.event_key from public.session_objective_events e join public.session_info s on s.id = e.session_info_id where s.user_id = $1 and s.session_id = $2 order by e.created_at', [owner, session]),
	);
	expect(rows).toEqual([
		{ value: true, event_key: null },
		{ value: false, event_key: null },
	]);
});

test('Move as a tool: a reason and a Mover ID given as "null" are none; the history keeps neither', async () => {
	const world = await createPipelineWorld();
	const contact = await world.contact();
	const { answer } = await asTool(
		'autoAssignStage',
		{ operation: 'move', ownerUserId: world.userId, conversationId: contact, stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Qualified }, reason: ai('reason'), actorId: ai('mover') },
		{ reason: 'null', mover: ' undefined ' },
	);
	expect(JSON.parse(String(answer))).toEqual([expect.objectContaining({ conversation_id: contact, outcome: 'assigned' })]);
	const moves = (await activities(contact)).filter((activity) => activity.type === 'MANUAL_MOVE');
	expect(moves.map((activity) => ({ actor_id: activity.actor_id, description: activity.description }))).toEqual([{ actor_id: null, description: null }]);
});

test('Console Monitor Page as a tool: a search and a reason given as "null" filter nothing', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ dailyLimit: 10 });
	await world.contacts(3);
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId, search: ai('search'), reason: ai('reason') };
	const page = async (args: IDataObject) => {
		const out = await asTool('leadflowConsole', monitor, args);
		expect(out.thrown).toBeUndefined();
		return (JSON.parse(String(out.answer)) as Array<{ contacts: { total: number } }>)[0].contacts.total;
	};
	expect(await page({ search: '', reason: '' })).toBe(3);
	expect(await page({ search: 'NULL', reason: 'null' })).toBe(3);
});

test('Add Leads as a tool: a name, conversation and score given as "null" are not given (no lead named "null"); in a workflow a lead may be named Null', async () => {
	const owner = await queueOwner();
	const [asAgent, inWorkflow] = ukMobiles(2, 7300);
	const params = { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, leadName: ai('name'), phone: ai('phone'), conversationId: ai('conversation'), leadScore: ai('score'), defaultCountry: 'GB' };
	const { answer } = await asTool('queueLedger', params, { name: ' Null ', phone: asAgent, conversation: 'null', score: 'undefined' });
	expect(JSON.parse(String(answer))).toEqual([expect.objectContaining({ outcome: 'created', name: null, phone: asAgent })]);
	const plain = await runWorkflow(
		{
			name: 'Add Leads',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'add', name: 'Add Leads', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { ...params, leadName: 'Null', phone: inWorkflow, conversationId: '', leadScore: '' }, credentials: SUPABASE_NODE },
			],
			connections: { Start: { main: [[{ node: 'Add Leads', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: supabase() },
	);
	expect(plain.error).toBeUndefined();
	const { rows } = await withDb((db) => db.query('select name, phone, conversation_id, lead_score from public.leads where user_id = $1 order by phone', [owner]));
	expect(rows).toEqual(
		[
			{ name: null, phone: asAgent, conversation_id: null, lead_score: null },
			{ name: 'Null', phone: inWorkflow, conversation_id: null, lead_score: null },
		].sort((a, b) => a.phone.localeCompare(b.phone)),
	);
});

test('Take Lead as a tool: a reason and a Taken By given as "null" or "undefined" are none (the ledger keeps no reason "null", no Taken By refused as not a UUID), on both agent paths; in a workflow the reason "null" is kept as written and a Taken By "null" is refused', async () => {
	const owner = await queueOwner();
	const [first, second, third, inWorkflow, refused] = await leadsOf(owner, 5);
	const takeLead = { resource: 'lead', operation: 'takeLead', ownerUserId: owner, leadId: ai('lead'), reason: ai('reason'), actorId: ai('taker') };
	// Before, a Taken By "null" was refused: 'The Taken By user ID "null" is not a UUID'.
	for (const [lead, reason, taker] of [
		[first.leadId, 'null', 'null'],
		[second.leadId, ' Undefined ', ' NULL '],
	]) {
		const { answer, thrown } = await asTool('queueLedger', takeLead, { lead, reason, taker });
		expect({ thrown, answer: typeof answer === 'string' ? (JSON.parse(answer) as unknown) : answer }).toEqual({ thrown: undefined, answer: [expect.objectContaining({ lead_id: lead, status: 'human_controlled' })] });
	}
	// The AI Agent 3.x path (the engine runs the tool).
	const engine = await runWorkflow(engineAgentWorkflow('queueLedger', takeLead, SUPABASE_NODE, { lead: third.leadId, reason: 'undefined', taker: 'null' }) as unknown as WorkflowJson, { credentials: supabase() });
	expect(engine.error).toBeUndefined();
	expect(JSON.parse(String(engine.nodeOutputs.Agent[0].observation))).toEqual([expect.objectContaining({ lead_id: third.leadId, status: 'human_controlled' })]);
	const plainWorkflow = (parameters: IDataObject) =>
		runWorkflow(
			{
				name: 'Take Lead',
				nodes: [
					{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
					{ id: 'take', name: 'Take Lead', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters: { ...takeLead, ...parameters }, credentials: SUPABASE_NODE },
				],
				connections: { Start: { main: [[{ node: 'Take Lead', type: 'main', index: 0 }]] } },
				settings: { executionOrder: 'v1' },
			} as unknown as WorkflowJson,
			{ credentials: supabase() },
		);
	const plain = await plainWorkflow({ leadId: inWorkflow.leadId, reason: 'null', actorId: '' });
	expect(plain.error).toBeUndefined();
	// In a workflow a Taken By "null" is what the workflow mapped: refused as not a UUID, as before.
	const notUuid = await plainWorkflow({ leadId: refused.leadId, reason: '', actorId: 'null' });
	expect(notUuid.error?.message).toBe('The Taken By user ID "null" is not a UUID');
	const { rows } = await withDb((db) =>
		db.query(
			`select g.item_id, g.detail ->> 'note' as note, l.taken_over_by from public.queue_ledger g join public.leads l on l.id = g.item_id
			  where g.user_id = $1 and g.queue = 'leads' and g.reason = 'human_takeover' order by g.id`,
			[owner],
		),
	);
	expect(rows).toEqual([
		{ item_id: first.leadId, note: null, taken_over_by: null },
		{ item_id: second.leadId, note: null, taken_over_by: null },
		{ item_id: third.leadId, note: null, taken_over_by: null },
		{ item_id: inWorkflow.leadId, note: 'null', taken_over_by: null },
	]);
});
