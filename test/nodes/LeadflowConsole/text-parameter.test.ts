// The Console's text parameters (Monitor's and Queue Page's status and search, the board's search,
// offsets and known, Requeue's uncertain) are text: a list, object, number, true or false is refused
// naming the parameter, as an ID that is not text is (idText). Before, textParameter read
// String(value): a search given as a list searched its joined text ("Ana,Ben") and a model's
// search of a list answered as if it were one word.
import { runWorkflow, type WorkflowJson } from '../../harness';
import { engineAgentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { consoleItemOf, credentials, node } from './support/workflow';



test('in a workflow, a search given as a list, an object or a number fails the item naming the field, never read as its joined text', async () => {
	const world = await createWorld();
	for (const [search, got] of [
		['={{ ["Ana", "Ben"] }}', 'an array of 2'],
		['={{ { name: "Ana" } }}', 'an object'],
		['={{ 42 }}', '42'],
	]) {
		const item = await consoleItemOf({ resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '', search });
		expect({ search, error: item.error }).toEqual({
			search,
			error: {
				code: 'invalid_input',
				message: `search must be text, and got ${got}`,
				description: 'Send search once, as text (?search=… in a query, "search": "…" in a JSON body), not a list, object, number, true or false.',
				field: 'search',
			},
		});
	}
	// Text is read as before.
	const fine = await consoleItemOf({ resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '', search: 'Ana' });
	expect(fine.error).toBeUndefined();
});

// AI Agent 3.x runs the tool itself and passes a model's list through unchecked (the other path's
// schema refuses it before the node runs).
test('as a tool, a search the model gives as a list is refused naming its key, with the model\'s advice', async () => {
	const world = await createWorld();
	const parameters = { resource: 'followUp', operation: 'monitor', userId: world.userId, ruleId: '', search: "={{ $fromAI('search', 'a part of a name', 'string') }}" };
	const run = await runWorkflow(engineAgentWorkflow('leadflowConsole', parameters, node, { search: ['Ana', 'Ben'] }) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const read = JSON.parse(run.nodeOutputs.Agent[0].observation as string) as Array<{ error?: string }>;
	expect(read[0]?.error).toBe(
		'search must be text, and got an array of 2\n\nDetails: Give search as one text, not a list (call the tool once per value), object, number, true or false.',
	);
});
