// The Automations output: webhook and notify actions the database queued (pipeline_outbox) for the
// contacts this run assigned or moved, claimed for this execution with pipeline_claim_outbox and completed with pipeline_complete_outbox as they
// are handed to the workflow, so each leaves one execution once. Another execution claiming at the
// same time gets other items (FOR UPDATE SKIP LOCKED); an item whose completion this execution lost
// (lease ran out, another execution holds it) is not put on the output.
import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { callRpc } from '../../shared/supabase';

const CLAIM_LIMIT = 1000;
const LEASE_SECONDS = 300;

/** Hands out the actions that the changes of `conversationIds` (this run's) fired: another workflow's stay its own. */
export async function handOutAutomations(context: IExecuteFunctions, pairedItem: number, conversationIds: string[]): Promise<INodeExecutionData[]> {
	if (conversationIds.length === 0) return [];
	const executionId = `n8n-${context.getExecutionId() ?? 'manual'}-${context.getNode().id}`;
	const claimed = await callRpc(context, 'pipeline_claim_outbox', {
		p_execution_id: executionId,
		p_limit: CLAIM_LIMIT,
		p_lease_seconds: LEASE_SECONDS,
		p_conversation_ids: [...new Set(conversationIds)],
	});
	if (claimed.length === 0) return [];
	const completed = await callRpc(context, 'pipeline_complete_outbox', {
		p_execution_id: executionId,
		p_items: claimed.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' as const })),
	});
	const handedOut = new Set(completed.filter((row) => row.outcome === 'delivered').map((row) => row.outbox_id));
	return claimed
		.filter((item) => handedOut.has(item.outbox_id))
		.map((item) => ({
			json: {
				outbox_id: item.outbox_id,
				kind: item.kind,
				action: item.payload.action,
				automation: item.payload.automation,
				contact: item.payload.contact,
				pipeline: item.payload.pipeline,
				change: item.payload.change,
				occurred_at: item.payload.occurred_at,
				attempt: item.attempt,
				run_id: item.run_id,
			},
			pairedItem: { item: pairedItem },
		}));
}

/** The conversations of the Contacts output's items that came back from the database (not failed items). */
export function changedConversations(contacts: INodeExecutionData[]): string[] {
	return contacts.flatMap((item) => (typeof item.json.conversation_id === 'string' ? [item.json.conversation_id] : []));
}
