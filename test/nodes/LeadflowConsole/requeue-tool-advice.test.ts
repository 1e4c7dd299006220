// The console's Requeue Failed as an AI agent's tool: its refusals of Conversation IDs and of an
// empty Rule ID speak to whoever fills the field (docs/nodes.md, As an AI agent's tool): the model by
// its $fromAI key, the workflow's builder when the field is set in the tool's settings. Review RMM1
// F2: the model was told to "leave it out for every failed contact of the rule", which the tool
// itself refuses (an empty Conversation IDs), and never the key it fills the field by. The webhook's
// and a workflow's words are unchanged (requeue-ids-field.test.ts,
// test/workflows/leadflow-console-requeue.test.ts); an empty Rule ID now names its field there too.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

/** What the model reads of the tool's refusal: its message and, after "Details: ", the advice. */
async function toolRefusal(parameters: IDataObject, args: IDataObject): Promise<{ message: string; advice: string }> {
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', { resource: 'followUp', operation: 'requeue', uncertain: 'leave', ...parameters }, node, args) as unknown as WorkflowJson, {
		credentials: credentials(),
	});
	expect(run.error).toBeUndefined();
	// A thrown error reaches the model as the tool's one item {error: message + "\n\nDetails: " + advice}.
	const [{ error }] = JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error: string }>;
	const [message, advice = ''] = error.split('\n\nDetails: ');
	return { message, advice };
}

const BY_MODEL = "={{ $fromAI('contacts', 'the conversation ids to requeue', 'json') }}";
const GIVE_LIST = 'Give contacts as a list of 1 to 1000 failed contacts\' conversation_id (Monitor Page lists them), e.g. ["5f1d2c3b-…"].';
const WHOLE_RULE = "To requeue every failed contact of a rule, use the console's Requeue failed button or Tag Eligibility's Requeue with Every Failed Contact of the Rule turned on.";
const SET_IN_SETTINGS =
	"Conversation IDs (conversationIds) is set in this tool's settings, not given by the model: let the model give the contacts with {{ $fromAI('conversationIds', 'the conversation_id of each failed contact to requeue, as a list', 'json') }}, or set it there to a list of 1 to 1000 conversation IDs.";

test('given by the model: each refusal of Conversation IDs names its $fromAI key and never says to leave it out', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Requeue tool advice' });
	const parameters = { ruleId, userId: world.userId, conversationIds: BY_MODEL };
	const cases: Array<[unknown, string, string]> = [
		[['contact-1'], 'contacts[0] "contact-1" is not a conversation ID (a UUID)', GIVE_LIST],
		[[], 'contacts must hold 1 to 1000 conversation IDs (got 0)', GIVE_LIST],
		[Array.from({ length: 1001 }, () => randomUUID()), 'contacts must hold 1 to 1000 conversation IDs (got 1001)', 'Give at most 1000 in contacts a call, and call the tool again for the rest.'],
		['abc', 'contacts must be a list of conversation IDs', GIVE_LIST],
	];
	for (const [contacts, message, advice] of cases) {
		const refusal = await toolRefusal(parameters, { contacts } as IDataObject);
		expect({ contacts: JSON.stringify(contacts).slice(0, 30), ...refusal }).toEqual({ contacts: JSON.stringify(contacts).slice(0, 30), message, advice });
	}
	// Left out: the tool refuses it, and says so by the same key.
	expect(await toolRefusal(parameters, {})).toEqual({
		message: "Conversation IDs is empty: as an AI agent's tool, Requeue Failed requeues the contacts it names",
		advice: `Give the conversation_id of each failed contact to requeue, as a list in contacts (Monitor Page lists them with their stage). ${WHOLE_RULE}`,
	});
});

test("typed 'number' or 'boolean', the model can never give a list: the builder is told to type it 'json'; typed 'string' or 'json', the model", async () => {
	// Review RMMM1 F2: a $fromAI typed 'number' or 'boolean' told the model to give a list, which its
	// schema never lets it give: it tried again and again. The $fromAI type decides (tool-text.ts).
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Requeue tool typed' });
	const typed = (type: string) => ({ ruleId, userId: world.userId, conversationIds: `={{ $fromAI('contacts', 'the conversation ids', '${type}') }}` });
	const toBuilder = (asks: string) =>
		`Conversation IDs (conversationIds) in this tool's settings asks the model for ${asks}, never a list, so no contact can be given this way: the workflow's builder must change it to {{ $fromAI('contacts', 'the conversation_id of each failed contact to requeue, as a list', 'json') }}. Tell the user this tool needs that change; this tool requeues no one until then.`;
	expect(await toolRefusal(typed('number'), { contacts: 5 })).toEqual({ message: 'contacts must be a list of conversation IDs', advice: toBuilder('a number') });
	expect(await toolRefusal(typed('boolean'), { contacts: true })).toEqual({ message: 'contacts must be a list of conversation IDs', advice: toBuilder('true or false') });
	// Left out, the same: the model cannot name any contact this way.
	expect(await toolRefusal(typed('number'), {})).toEqual({
		message: "Conversation IDs is empty: as an AI agent's tool, Requeue Failed requeues the contacts it names",
		advice: `${toBuilder('a number')} ${WHOLE_RULE}`,
	});
	// Typed 'string' (a list's JSON text is read) or 'json' (a list), the model can give one: its advice.
	expect(await toolRefusal(typed('string'), { contacts: 'a, b' })).toEqual({ message: 'contacts must be a list of conversation IDs', advice: GIVE_LIST });
	expect(await toolRefusal(typed('json'), { contacts: { ids: [randomUUID()] } })).toEqual({ message: 'contacts must be a list of conversation IDs', advice: GIVE_LIST });
});

test("typed 'number' or 'boolean' inside more (|| null, ?? null, brackets): still the builder, as the call alone", async () => {
	// Review RM4 F2: only a field that was the call and nothing else was read for its type, so a
	// wrapped call fell back to the model's advice, though the model can still only give a number or
	// true or false, and it tried again and again.
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Requeue tool wrapped' });
	const cases: Array<[string, unknown]> = [
		["={{ $fromAI('contacts', 'the conversation ids', 'number') || null }}", 5],
		["={{ $fromAI('contacts', 'the conversation ids', 'boolean') ?? null }}", true],
		["={{ [$fromAI('contacts', 'the conversation id', 'number')] }}", 5],
	];
	for (const [conversationIds, contacts] of cases) {
		const { advice } = await toolRefusal({ ruleId, userId: world.userId, conversationIds }, { contacts } as IDataObject);
		expect(advice).toMatch(/^Conversation IDs \(conversationIds\) in this tool's settings asks the model for (a number|true or false), never a list, so no contact can be given this way: the workflow's builder must change it to \{\{ \$fromAI\('contacts', /);
	}
});

test("set in the tool's settings: the refusals of Conversation IDs speak to the workflow's builder", async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Requeue tool settings' });
	expect(await toolRefusal({ ruleId, userId: world.userId, conversationIds: '={{ ["contact-1"] }}' }, {})).toEqual({
		message: 'conversationIds[0] "contact-1" is not a conversation ID (a UUID)',
		advice: SET_IN_SETTINGS,
	});
	// Its default ({{ $json.body?.conversationIds }}) finds no body in a tool's item: the model cannot give it.
	expect(await toolRefusal({ ruleId, userId: world.userId }, {})).toEqual({
		message: "Conversation IDs is empty: as an AI agent's tool, Requeue Failed requeues the contacts it names",
		advice: `${SET_IN_SETTINGS} ${WHOLE_RULE}`,
	});
});

test('an empty Rule ID: as a tool, the model by its key or the builder; in a workflow, the failed item names ruleId', async () => {
	const world = await createWorld();
	const contacts = [randomUUID()];
	expect(await toolRefusal({ ruleId: "={{ $fromAI('rule_id', 'the rule', 'string') }}", userId: world.userId, conversationIds: BY_MODEL }, { rule_id: '', contacts })).toEqual({
		message: 'The rule ID is missing',
		advice: 'Give rule_id as the id of the rule whose failed contacts are requeued: one UUID as List Rules shows it (its id). If you have no such id, list the rules first or ask for it.',
	});
	expect(await toolRefusal({ ruleId: '', userId: world.userId, conversationIds: BY_MODEL }, { contacts })).toEqual({
		message: 'The rule ID is missing',
		advice:
			"Rule ID (ruleId) is set in this tool's settings, not given by the model, and is empty: set it there to the id of the rule whose failed contacts are requeued, or let the model give it with {{ $fromAI('ruleId', 'the id of the rule whose failed contacts are requeued', 'string') }}.",
	});

	const run = await runWorkflow(
		{
			name: 'Console',
			nodes: [
				{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{
					id: 'console',
					name: 'Console',
					type: 'n8n-nodes-leadflow.leadflowConsole',
					typeVersion: 1,
					position: [200, 0],
					parameters: { resource: 'followUp', operation: 'requeue', ruleId: '', userId: world.userId, conversationIds: '', uncertain: 'leave' },
					credentials: node,
					onError: 'continueRegularOutput',
				},
			],
			connections: { Start: { main: [[{ node: 'Console', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(run.nodeOutputs.Console[0].error).toEqual(
		expect.objectContaining({ message: 'The rule ID is missing', description: 'Send { "ruleId": "…" }: the id of the rule whose failed contacts are requeued.', field: 'ruleId' }),
	);
});
