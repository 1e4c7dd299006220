// What a model reads of a Leadflow node's refusal as an AI agent's tool, on both of n8n's tool paths
// (test/harness/agent.ts): an agent before 3.0 (and the MCP Server Trigger) invokes the tool and
// reads the thrown error's message, to which n8n-core appends `Details: <description>`; the AI Agent
// from 3.0 (3.1 is the default) has the engine run the tool, and the engine answers a thrown error as
// `{error: message}` alone. Before 6 December 2026 the advice, all of it in the error's description,
// never reached the model on that path: it read "Claim cannot run as an AI agent's tool" and nothing
// on what to use instead. Now the message carries it, once, on both.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { leadStatus, leadsOf, prepareDue, queueOwner, messagesOf } from '../QueueLedger/support/queue';
import { testStack } from '../../helpers/stack';

const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const node = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

type Path = 'invoked (agent < 3.0, MCP)' | 'engine request (agent 3.x)';
const PATHS: Path[] = ['invoked (agent < 3.0, MCP)', 'engine request (agent 3.x)'];

/** The text the model reads of the tool's error on `path`, or undefined when the tool answered. */
async function errorRead(path: Path, parameters: IDataObject, args: IDataObject): Promise<string | undefined> {
	const build = path === PATHS[0] ? agentWorkflow : engineAgentWorkflow;
	const run = await runWorkflow(build('queueLedger', parameters, node, args) as unknown as WorkflowJson, { credentials: credentials() });
	expect(run.error).toBeUndefined();
	const [agent] = run.nodeOutputs.Agent;
	if (path === PATHS[0]) return agent.thrown as string | undefined;
	const read = JSON.parse(agent.observation as string) as unknown;
	return Array.isArray(read) && read.length === 1 && typeof read[0]?.error === 'string' && Object.keys(read[0]).length === 1 ? read[0].error : undefined;
}

const takeLead = (ownerUserId: string) => ({ resource: 'lead', operation: 'takeLead', ownerUserId, leadId: ai('lead'), reason: ai('reason') });

describe.each(PATHS)('as a tool, %s', (path) => {
	test("Claim's refusal, Take Lead's of another owner's lead and the owner advice reach the model, once, with no stack", async () => {
		const owner = await queueOwner();
		const other = await queueOwner();
		await leadsOf(owner, 1);
		const [theirs] = await leadsOf(other, 1);
		await prepareDue(owner);

		const claim = await errorRead(path, { resource: 'message', operation: 'claim', ownerUserId: owner }, {});
		expect(claim).toMatch(/^Claim cannot run as an AI agent's tool\n\nDetails: [^\n]*use Get Metrics \(its numbers per day\) or the Leadflow Console node's Queue Page[^\n]*$/);
		// Nothing held: the owner's one message is as Prepare left it.
		const statuses = (await messagesOf(owner)).map((row) => row.status);
		expect(statuses).toHaveLength(1);
		expect(statuses).not.toContain('claimed');

		const taken = await errorRead(path, takeLead(ai('owner')), { owner, lead: theirs.leadId, reason: 'The customer asked' });
		expect(taken).toBe(
			`Lead ID: lead ${theirs.leadId} does not exist for user ${owner}\n\nDetails: Give the lead_id of a lead of this owner (${owner}): Add Leads returns it, and the Leadflow Console node's Queue Page lists each queued message's lead_id.`,
		);
		const badOwner = await errorRead(path, takeLead(ai('owner')), { owner: 'Maria', lead: theirs.leadId, reason: 'x' });
		expect(badOwner).toBe('The owner user ID "Maria" is not a UUID\n\nDetails: Give the owner\'s user ID: a UUID, the id of the Supabase Auth user whose queue this is.');
		for (const read of [claim, taken, badOwner]) expect(read).not.toMatch(/\n\s+at |node_modules|serviceRole|eyJ/);
		expect(await leadStatus(theirs.leadId)).toBe('new');
	});
});
