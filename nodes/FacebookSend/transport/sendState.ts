// The two database calls around a batch of sends (automation_begin_send and automation_record_send,
// see supabase/migrations/20261122000220_follow_up_automation_api.sql): one round trip each,
// whatever the number of items.
import type { IExecuteFunctions } from 'n8n-workflow';
import {
	type BeginSendArgs,
	type BeginSendResult,
	type RecordSendArgs,
	type RecordSendResult,
	type SendOutcomeItem,
} from '../../shared/contract';
import { callRpc } from '../../shared/supabase';

/** Takes the duplicate guard, re-checks stop and window, and moves ready_to_send → sending, for every contact at once. */
export async function beginSend(context: IExecuteFunctions, leaseHolder: string, stateIds: string[], leaseSeconds: number): Promise<Map<string, BeginSendResult>> {
	const args: BeginSendArgs = { p_execution_id: leaseHolder, p_state_ids: stateIds, p_lease_seconds: leaseSeconds };
	const rows = await callRpc(context, 'automation_begin_send', args);
	return new Map(rows.map((row) => [row.state_id, row]));
}

/** Records what became of every contact that was moved to sending. */
export async function recordSends(context: IExecuteFunctions, leaseHolder: string, items: SendOutcomeItem[]): Promise<Map<string, RecordSendResult['outcome']>> {
	if (items.length === 0) return new Map();
	const args: RecordSendArgs = { p_execution_id: leaseHolder, p_items: items };
	const rows = await callRpc(context, 'automation_record_send', args);
	return new Map(rows.map((row) => [row.state_id, row.outcome]));
}
