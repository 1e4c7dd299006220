// filledByModel (nodes/shared/tool-text.ts): whether, as an AI agent's tool, the model fills a field,
// so that a refusal of it advises the model (by its $fromAI key) rather than the workflow's builder.
// Only an expression calling $fromAI is the model's: n8n evaluates a value only when it begins with
// `=`, so a fixed text holding the words "$fromAI(" is used as written, whatever the model gives.
// Before 6 December 2026 any text containing "$fromAI(" was called the model's, and a builder who set
// such a text was never told to change it: the model was told to give a value it cannot give.
import type { IDataObject, INode } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { testStack } from '../../helpers/stack';
import { fieldAsKnown, filledByModel, fromAIKey, fromAIType, toolFieldMender } from '../../../nodes/shared/tool-text';

const withField = (raw: unknown) => ({ getNode: () => ({ parameters: { userId: raw } }) as unknown as INode });

test('only an expression whose {{ … }} calls $fromAI is the model\'s; a fixed text with the words "$fromAI(" is the builder\'s', () => {
	const model = [
		"={{ $fromAI('owner', '', 'string') }}",
		'={{ $fromAi ( "owner_id" ) }}',
		"={{ /*n8n-auto-generated-fromAI-override*/ $fromAI('User_ID', ``, 'string') }}",
		"=Owner: {{ $fromAI('owner') }}",
		"={{ $json.query?.userId || $fromAI('owner') }}",
	];
	const builder = [
		"{{ $fromAI('owner') }}", // no `=`: a fixed text, n8n evaluates nothing in it
		"Ask the model with $fromAI('owner')",
		"=Set it with $fromAI('owner') in {{ $json.note }}", // an expression, but the call is outside {{ … }}
		"={{ $json.query?.userId ?? '' }}",
		'',
		undefined,
		42,
	];
	for (const raw of model) expect({ raw, model: filledByModel(withField(raw), 'userId') }).toEqual({ raw, model: true });
	for (const raw of builder) expect({ raw, model: filledByModel(withField(raw), 'userId') }).toEqual({ raw, model: false });
	// The key is read only where the field is the model's; the first line then names the builder's label.
	expect(fromAIKey(withField("{{ $fromAI('owner') }}"), 'userId')).toBeUndefined();
	expect(fromAIKey(withField("={{ $fromAI('owner') }}"), 'userId')).toBe('owner');
	expect(fieldAsKnown(withField("Ask the model with $fromAI('owner')"), 'userId', 'Owner ID, userId')).toBe('Owner ID, userId');
	expect(fieldAsKnown(withField("={{ $fromAI('owner') }}"), 'userId', 'Owner ID, userId')).toBe('owner');
});

test('Queue Page as a tool whose Owner ID is a fixed text holding "$fromAI(": the builder is told to set it, not the model to give it', async () => {
	const credentials = { leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } };
	const parameters: IDataObject = { resource: 'queue', operation: 'queuePage', userId: "$fromAI('owner')", day: '', status: '', search: '', offset: '0', limit: '50' };
	const run = await runWorkflow(agentWorkflow('leadflowConsole', parameters, { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } }, { owner: '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f' }) as unknown as WorkflowJson, { credentials });
	expect(run.error).toBeUndefined();
	const thrown = String(run.nodeOutputs.Agent[0].thrown);
	expect(thrown).toMatch(/^The owner ID "\$fromAI\('owner'\)" is not a UUID\n\nDetails: Owner ID \(userId\) is set in this tool's settings, not given by the model/);
});

test("fromAIType reads the type with n8n's own parser, only where the field is that one $fromAI call; toolFieldMender lets the type, not the value, say who can mend it (review RC2b)", () => {
	const types: Array<[string, string | undefined]> = [
		["={{ $fromAI('owner', 'the owner', 'number') }}", 'number'],
		['={{ $fromAI("owner", "the owner", "JSON") }}', 'json'],
		["={{ /*n8n-auto-generated-fromAI-override*/ $fromAI('Owner_User_ID', ``, 'string') }}", 'string'],
		["={{ $fromAI('owner') }}", 'string'],
		["={{ $fromAI('owner', 'it\\'s the owner, (as told)', 'boolean', false) }}", 'boolean'],
		// A description n8n reads although it is not a quoted text: the type after it is still the type.
		["={{ $fromAI('owner', 'the ' + 'owner', 'number') }}", 'number'],
		["={{ $fromAI('owner', 'desc'.toUpperCase(), 'number') }}", 'number'],
		// Wrapped: the node gets what the expression around the call makes of the answer, not its type.
		["={{ $fromAI('owner', 'desc', 'json').id }}", undefined],
		["={{ String($fromAI('owner', 'desc', 'number')) }}", undefined],
		["={{ $fromAI('owner', 'desc', 'string') || $json.owner }}", undefined],
		["={{ $fromAI('owner', 'desc', 'number') || String(1) }}", undefined],
		["={{ $fromAI('owner', 'desc', 'string') }}{{ '' }}", undefined],
		["=Owner: {{ $fromAI('owner') }}", undefined],
		["={{ $fromAI('a', 'desc', 'string') ?? $fromAI('b', 'desc', 'number') }}", undefined],
		// A type n8n cannot parse: nothing reaches the node.
		["={{ $fromAI('owner', 'desc', 'numberx') }}", undefined],
		["{{ $fromAI('owner', 'desc', 'number') }}", undefined],
	];
	for (const [raw, type] of types) expect({ raw, type: fromAIType(withField(raw), 'userId') }).toEqual({ raw, type });

	const mender = (raw: unknown, value: unknown) => toolFieldMender(withField(raw), 'userId', value);
	// Typed 'string': the model, whatever it sent (AI Agent 3.x passes a list or number on unchecked).
	for (const value of [['7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f'], 7, 'Ana', undefined]) {
		expect({ value, mender: mender("={{ $fromAI('owner', '', 'string') }}", value) }).toEqual({ value, mender: { by: 'model', key: 'owner' } });
	}
	// Typed otherwise: the builder, also when the model left it out.
	for (const value of [undefined, [''], 7]) expect({ value, mender: mender("={{ $fromAI('owner', '', 'number') }}", value) }).toEqual({ value, mender: { by: 'type', key: 'owner' } });
	// Wrapped: a value not text is the builder's expression's; text or nothing, the type of the one call
	// n8n reads decides (review RMC2: 46ab263 told the model here; a 'json' call cannot give text).
	expect(mender("={{ $fromAI('owner', '', 'json').id }}", 7)).toEqual({ by: 'type', key: 'owner' });
	expect(mender("={{ $fromAI('owner', '', 'json').id }}", 'Ana')).toEqual({ by: 'model', key: 'owner' });
	// Set in the tool's settings: the builder.
	expect(mender("={{ ['7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f'] }}", ['7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f'])).toEqual({ by: 'settings' });
});

test("toolFieldMender: a typed $fromAI call with a little around it, left empty or given text, is the builder's by the type of the one call n8n reads; typed 'string', the model's (review RMC2)", () => {
	const mender = (raw: unknown, value: unknown) => toolFieldMender(withField(raw), 'userId', value);
	// n8n asks the model for a number or json here and refuses text against the schema: only the builder can mend it.
	const builder: Array<[string, unknown]> = [
		["={{ ($fromAI('owner', 'the owner', 'number')) }}", undefined],
		["={{ $fromAI('owner', 'the owner', 'number') /* the owner */ }}", undefined],
		["={{ $fromAI('owner', 'the owner', 'number') || '' }}", ''],
		["={{ $fromAI('owner', 'the owner', 'json') || '' }}", ''],
		["={{ $fromAI('owner', 'the owner', 'json').id }}", undefined],
		["={{ $fromAI('owner', 'the owner', 'json')[0] }}", null],
		["={{ String($fromAI('owner', 'the owner', 'number')) }}", 'undefined'],
		["={{ $fromAI('owner', 'the owner', 'boolean') ? 'yes' : '' }}", ''],
	];
	for (const [raw, value] of builder) expect({ raw, mender: mender(raw, value) }).toEqual({ raw, mender: { by: 'type', key: 'owner' } });
	// Typed 'string' (or untyped) with a little around it: the model can give the text.
	const model: Array<[string, unknown]> = [
		["={{ $fromAI('owner', 'the owner', 'string').trim() }}", ''],
		["={{ ($fromAI('owner')) }}", undefined],
		["={{ $fromAI('owner', 'desc', 'string') || $json.owner }}", 'Ana'],
	];
	for (const [raw, value] of model) expect({ raw, mender: mender(raw, value) }).toEqual({ raw, mender: { by: 'model', key: 'owner' } });
	// No one call n8n reads (two calls, or a type it cannot parse): text or nothing stays the model's.
	expect(mender("={{ $fromAI('a', '', 'string') ?? $fromAI('b', '', 'number') }}", undefined)).toEqual({ by: 'model' });
	expect(mender("={{ $fromAI('owner', 'the owner', 'numberx') || '' }}", '')).toEqual({ by: 'model', key: 'owner' });
});
