// The follow-up pipeline end to end in one workflow: the claim's rows → Generate Follow-Up (the
// Gemini simulator) → Facebook Send (the Graph simulator), through n8n's engine. What FacebookSend
// receives is what GenerateFollowUp really outputs, and the database ends where it should.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { testStack } from '../../helpers/stack';
import { claimedContacts, ledgerOf, PAGE_ID, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN } from './support/workflow';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

const position = (x: number): [number, number] => [x, 0];

function pipeline(contacts: IDataObject[]): WorkflowJson {
	const supabase = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
	return {
		name: 'Generate and send',
		nodes: [
			{ id: 'p1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: position(0), parameters: {} },
			{
				id: 'p2',
				name: 'Claimed',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: position(200),
				parameters: { mode: 'raw', jsonOutput: JSON.stringify({ contacts }), options: {} },
			},
			{ id: 'p3', name: 'One Per Contact', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: position(400), parameters: { fieldToSplitOut: 'contacts', options: {} } },
			{
				id: 'p4',
				name: 'Generate',
				type: 'n8n-nodes-leadflow.generateFollowUp',
				typeVersion: 1,
				position: position(600),
				parameters: {},
				credentials: { leadflowGeminiApi: { id: 'gemini', name: 'Gemini' }, ...supabase },
			},
			{
				id: 'p5',
				name: 'Send',
				type: 'n8n-nodes-leadflow.facebookSend',
				typeVersion: 1,
				position: position(800),
				parameters: FAST,
				credentials: { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook Page' }, ...supabase },
			},
		],
		connections: {
			Start: { main: [[{ node: 'Claimed', type: 'main', index: 0 }]] },
			Claimed: { main: [[{ node: 'One Per Contact', type: 'main', index: 0 }]] },
			'One Per Contact': { main: [[{ node: 'Generate', type: 'main', index: 0 }]] },
			Generate: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

test('claimed contacts are generated, sent once and recorded; the generated text is what Messenger delivers', async () => {
	const batch = await claimedContacts({ count: 3, maxFollowUps: 2 });
	const credentials = {
		leadflowGeminiApi: { apiKeys: `key-${batch.executionId}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
		leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
	};

	const result = await runWorkflow(pipeline(batch.claimed), { credentials });

	expect({ status: result.status, error: result.error?.message }).toEqual({ status: "success", error: undefined });
	const [sent = [], skipped = [], failed = []] = result.nodeBranches.Send ?? [];
	expect([sent.length, skipped.length, failed.length]).toEqual([3, 0, 0]);
	const delivered = await sims.graph.control.messages();
	for (const item of sent) {
		const message = delivered.find((one) => one.recipientId === item.recipient_id);
		expect(message?.text).toBe((item.followUp as { message: string }).message);
		expect(item.send).toMatchObject({ outcome: 'sent', messageId: message?.messageId, recorded: 'sent' });
		// Generate's followUp.message is the recorded one: nothing said about a changed message.
		expect(item.send).not.toHaveProperty('itemMessageIgnored');
	}
	expect(result.run?.data.resultData.runData.Send[0].hints ?? []).toEqual([]);
	expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.follow_up_count])).toEqual([
		['sent', 1],
		['sent', 1],
		['sent', 1],
	]);
	expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['sent', 'sent', 'sent']);
});
