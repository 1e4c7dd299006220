// Every refusal of a Console parameter's value names its field, as an ID that is not a UUID does
// (notAUuid) and one that is not text (textParameter): Monitor's status, reason, search, limit and
// offset, Queue Page's day and status, the board's offsets and known version. Before, only the
// message named it, so a failed item and the console's webhook answer carried no `field`. As an AI
// agent's tool the advice is for whoever can mend the field (toolFieldMender's rule): the builder
// when it is set in the tool's settings, the model by its $fromAI key when the model gives it.
import { extractFromAICalls, type IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { consoleItemOf, credentials, node } from './support/workflow';



test('in a workflow, a refused status, reason, search, page size, offset, day, offsets or known version fails the item naming its field', async () => {
	const world = await createWorld();
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '' };
	const queue = { resource: 'queue', operation: 'queuePage', userId: world.userId };
	const board = { resource: 'pipeline', operation: 'pipelineBoard', userId: world.userId, pipelineId: '' };
	const cases: Array<[IDataObject, string, RegExp]> = [
		[{ ...monitor, status: 'sent' }, 'status', /^The status "sent" is not one of /],
		[{ ...monitor, reason: 'Not-A-Code' }, 'reason', /^The reason "Not-A-Code" is not a reason code/],
		[{ ...monitor, search: 'x'.repeat(201) }, 'search', /^The search must be at most 200 characters/],
		[{ ...monitor, limit: '0' }, 'limit', /^The page size \(limit\) must be a whole number from 1 to /],
		[{ ...monitor, offset: '-3' }, 'offset', /^The offset must be a whole number from 0 to 1000000/],
		[{ ...queue, day: '2026-02-30' }, 'day', /^The day "2026-02-30" is not a date as YYYY-MM-DD/],
		[{ ...queue, status: 'lost' }, 'status', /^The status "lost" is not one of /],
		[{ ...board, offsets: 'stage:20' }, 'offsets', /^offsets: "stage:20" is not a <stage ID>:<offset> pair/],
		[{ ...board, known: 'v1' }, 'known', /^The known version "v1" is not a version of the board/],
	];
	for (const [parameters, field, message] of cases) {
		const item = await consoleItemOf(parameters);
		expect({ parameters, error: item.error }).toEqual({ parameters, error: { code: 'invalid_input', message: expect.stringMatching(message), description: expect.any(String), field } });
	}
});

test('as a tool, the advice goes to whoever can mend the field: the model by its key, or the builder for a value set in the tool', async () => {
	const world = await createWorld();
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '' };
	const refusal = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
	};
	// The model gave it: told by its $fromAI key what to give, not a request's query parameter.
	expect(await refusal({ ...monitor, status: "={{ $fromAI('state', 'the status to list', 'string') }}" }, { state: 'sent' })).toMatch(
		/^The status "sent" is not one of .*\n\nDetails: Give state as one of .*, or nothing for every status\.$/,
	);
	expect(await refusal({ ...monitor, offset: "={{ $fromAI('skip', 'how many contacts to skip', 'number') }}" }, { skip: -3 })).toMatch(
		/^The offset must be a whole number from 0 to 1000000 \(got -3\)\n\nDetails: Give skip as a whole number from 0 to 1000000\.$/,
	);
	// Set in the tool's settings: the model cannot change it, the builder is told.
	expect(await refusal({ ...monitor, reason: 'Not-A-Code' }, {})).toMatch(/\n\nDetails: reason is set in this tool's settings, not given by the model, and is refused: set it there to /);
});

test('as a tool, a number field whose $fromAI is typed boolean or json tells the builder to type it number; typed number, string or untyped, the model', async () => {
	const world = await createWorld();
	const monitor = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '' };
	const refusal = async (limit: string, args: IDataObject) => {
		const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', { ...monitor, limit }, node, args) as unknown as WorkflowJson, { credentials: credentials() });
		expect(run.error).toBeUndefined();
		return (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error;
	};
	// The model can never give a number through a boolean or json answer: only the builder can mend it.
	const builder = "\n\nDetails: limit in this tool's settings makes the model's answer something other than a number: the workflow's builder must change it to {{ $fromAI('size', 'a whole number from 1 to 500', 'number') }}. Tell the user this tool needs that change.";
	expect(await refusal("={{ $fromAI('size', 'how many contacts', 'boolean') }}", { size: true })).toBe(`The page size (limit) must be a whole number from 1 to 500 (got true)${builder}`);
	expect(await refusal("={{ $fromAI('size', 'how many contacts', 'json') }}", { size: { size: 5 } })).toMatch(new RegExp(`^The page size \\(limit\\) must be a whole number from 1 to 500 \\(got [^\\n]*\\)${builder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
	// A number, or text holding one, the model can give: it is told by its key.
	for (const type of ['number', 'string', '']) {
		const call = type === '' ? "$fromAI('size', 'how many contacts')" : `$fromAI('size', 'how many contacts', '${type}')`;
		expect(await refusal(`={{ ${call} }}`, { size: type === 'number' ? 0 : '0' })).toMatch(/\n\nDetails: Give size as a whole number from 1 to 500\.$/);
	}
});

test('as a tool, the builder\'s advice quotes a {{ $fromAI(...) }} n8n can read as written, its words holding an apostrophe', async () => {
	const world = await createWorld();
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', { resource: 'queue', operation: 'queuePage', userId: world.userId, day: '2026-02-30' }, node, {}) as unknown as WorkflowJson, { credentials: credentials() });
	const error = (JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>)[0]?.error ?? '';
	expect(error).toMatch(/\n\nDetails: day is set in this tool's settings, not given by the model, and is refused: set it there to a date as YYYY-MM-DD, or nothing for today in the owner's time zone, or let the model give it with \{\{ \$fromAI\(/);
	const advised = /\{\{ \$fromAI\(.*?\) \}\}/.exec(error)?.[0] ?? '';
	// n8n reads it (its own parser, as for the tool's schema): the key and the words, the apostrophe kept.
	expect(extractFromAICalls(`=${advised}`)).toEqual([{ key: 'day', description: "a date as YYYY-MM-DD, or nothing for today in the owner's time zone", type: 'string', defaultValue: undefined }]);
});
