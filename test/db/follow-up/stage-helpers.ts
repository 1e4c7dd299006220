// Drives contacts through the automation's RPC API as GenerateFollowUp and FacebookSend will:
// one supabase.rpc per step for the whole batch.
import type { SupabaseClient } from '@supabase/supabase-js';
import type {
	BeginSendResult,
	ClaimedContact,
	ContactJudgement,
	MarkGeneratingResult,
	RecordGenerationResult,
	RecordSendResult,
} from '../../../nodes/shared/contract';
import { NOW } from './fixtures';

export async function rpc<T>(client: SupabaseClient, name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await client.rpc(name, args);
	if (error) throw new Error(`${name}: ${error.message} (${error.code})`);
	return data as T;
}

export const claim = (client: SupabaseClient, ruleId: string | null, executionId: string, limit = 100, now = NOW, leaseSeconds = 600) =>
	rpc<ClaimedContact[]>(client, 'automation_claim', {
		p_rule_id: ruleId,
		p_limit: limit,
		p_execution_id: executionId,
		p_lease_seconds: leaseSeconds,
		p_now: now.toISOString(),
	});

export const explain = (client: SupabaseClient, ruleId: string, now = NOW) =>
	rpc<ContactJudgement[]>(client, 'automation_explain', { p_rule_id: ruleId, p_now: now.toISOString() });

export async function judgementOf(client: SupabaseClient, ruleId: string, conversationId: string, now = NOW) {
	const row = (await explain(client, ruleId, now)).find((judgement) => judgement.conversation_id === conversationId);
	if (!row) throw new Error(`conversation ${conversationId} is not among the rule's tagged contacts`);
	return row;
}

/** Claimed contacts → ready_to_send (a message each). */
export async function generate(client: SupabaseClient, executionId: string, stateIds: string[], now = NOW) {
	const marked = await rpc<MarkGeneratingResult[]>(client, 'automation_mark_generating', {
		p_execution_id: executionId,
		p_state_ids: stateIds,
		p_now: now.toISOString(),
	});
	const recorded = await rpc<RecordGenerationResult[]>(client, 'automation_record_generation', {
		p_execution_id: executionId,
		p_items: stateIds.map((id) => ({ state_id: id, message: `Hi again (${id.slice(0, 8)})`, generation_ms: 850, model: 'gemini-test' })),
		p_now: now.toISOString(),
	});
	return { marked, recorded };
}

export const beginSend = (client: SupabaseClient, executionId: string, stateIds: string[], now = NOW, leaseSeconds = 120) =>
	rpc<BeginSendResult[]>(client, 'automation_begin_send', {
		p_execution_id: executionId,
		p_state_ids: stateIds,
		p_lease_seconds: leaseSeconds,
		p_now: now.toISOString(),
	});

export const recordSend = (client: SupabaseClient, executionId: string, items: Array<Record<string, unknown>>, now = NOW) =>
	rpc<RecordSendResult[]>(client, 'automation_record_send', { p_execution_id: executionId, p_items: items, p_now: now.toISOString() });

/** claim → generate → begin send → sent, for every claimed contact; returns the claimed contacts. */
export async function runPipeline(client: SupabaseClient, ruleId: string | null, executionId: string, now = NOW, limit = 100) {
	const claimed = await claim(client, ruleId, executionId, limit, now);
	const ids = claimed.map((contact) => contact.state_id);
	if (!ids.length) return { claimed, sent: [] as RecordSendResult[] };
	await generate(client, executionId, ids, now);
	const begun = await beginSend(client, executionId, ids, now);
	const toSend = begun.filter((item) => item.outcome === 'send');
	const sent = await recordSend(
		client,
		executionId,
		toSend.map((item) => ({ state_id: item.state_id, outcome: 'sent', facebook_message_id: `m_${item.attempt_id}` })),
		now,
	);
	return { claimed, begun, sent };
}
