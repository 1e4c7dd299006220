// contact-move.json with Move Contact's Delivery given by an expression as "Confirm" (not one of its
// choices): refused before anything is written. Move Contact has an error output, so a thrown refusal
// made n8n pass the request on as if moved (a bare 500 "Error in workflow"). The request is not at
// fault: the webhook answers 500 with the refusal and a hint that the workflow's node must be fixed,
// and the contact is not moved.
import { randomUUID } from 'node:crypto';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { testStack } from '../helpers/stack';
import { analysis, assign, createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;
let world: PipelineWorld;
beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'STAGE_CHANGED', trigger_conditions: {}, actions: [{ type: 'notify', message: 'A lead changed stage' }] });
});

test('Move Contact Delivery ={{ "Confirm" }} answers 500 with the refusal and the node to fix; the contact stays where it was', async () => {
	const contact = await world.contact();
	await assign([analysis(contact, 10)]);
	const before = ((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>).find((p) => p.conversation_id === contact)?.stage_id;
	const shipped = loadWorkflow('workflows/contact-move.json');
	const workflow = { ...shipped, nodes: shipped.nodes.map((n) => (n.name === 'Move Contact' ? { ...n, parameters: { ...n.parameters, automationDelivery: '={{ "Confirm" }}' } } : n)) };

	const result = await runWorkflow(workflow, {
		startNode: 'Move Request',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: { conversationId: contact, stage: 'qualified' } },
		credentials,
	});

	expect(result.response?.statusCode).toBe(500);
	expect(result.response?.body).toEqual({
		status: 500,
		error: 'Delivery must be one of onHandOut, confirm (got "Confirm")',
		hint: expect.stringMatching(/^The workflow's node Move Contact refuses its own setting: fix it in the workflow .*Set Delivery to one of onHandOut, confirm/),
	});
	const after = ((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>).find((p) => p.conversation_id === contact)?.stage_id;
	expect(before).toBeDefined();
	expect(after).toBe(before);
	expect(after).not.toBe(world.pipeline.stages.Qualified);
});
