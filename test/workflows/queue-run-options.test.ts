// queue-run.json with settings of its own nodes an expression gives out of range: the request is not
// at fault, so Run Now answers 500 with the refusal and a hint that the workflow's node must be fixed,
// never 400 as if the caller's X-Leadflow-Owner were wrong; nothing is sent.
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials, type WorkflowJson } from '../harness';
import { messagesOf, leadsOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from '../nodes/QueueLedger/support/queue';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl) });

function withOptions(node: string, options: INodeParameters): WorkflowJson {
	const shipped = loadWorkflow('workflows/queue-run.json');
	return {
		...shipped,
		nodes: shipped.nodes.map((n) => (n.name === node ? { ...n, parameters: { ...n.parameters, options: { ...(n.parameters.options as INodeParameters), ...options } } } : n)),
	};
}

test.each([
	['Claim Due Messages', { leaseSeconds: '={{ 3 }}' }, 'Lease (Seconds) must be a whole number from 10 to 86400 (got 3)'],
	['Send on WhatsApp', { concurrency: '={{ 51 }}' }, 'Parallel Sends must be a whole number from 1 to 50 (got 51)'],
])('%s refusing its own option %j: Run Now answers 500 with the refusal and the node to fix; nothing is sent', async (node, options, message) => {
	const owner = await queueOwner();
	await leadsOf(owner, 1);
	await prepareDue(owner);
	await sims.graph.control.clearWhatsAppMessages();

	const run = await runWorkflow(withOptions(node, options), {
		startNode: 'Run Now',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body: {} },
		credentials: credentials(),
	});

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({ status: 500, error: message, hint: expect.stringMatching(new RegExp(`^The workflow's node ${node} refuses its own setting: fix it in the workflow `)) });
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	expect((await messagesOf(owner)).map((row) => row.status)).toEqual(['queued']);
});
