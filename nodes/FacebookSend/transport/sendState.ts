// The two database calls around a batch of sends (automation_begin_send and automation_record_send,
// see supabase/migrations/20261122000220_follow_up_automation_api.sql): one round trip each,
// whatever the number of items, repeated only when Supabase fails for a moment.
import { randomUUID } from 'node:crypto';
import { sleep, type IExecuteFunctions } from 'n8n-workflow';
import {
	type BeginSendArgs,
	type BeginSendResult,
	type RecordSendArgs,
	type RecordSendResult,
	type SendOutcomeItem,
} from '../../shared/contract';
import { asNodeError } from '../../shared/per-item';
import { callRpc, isTransient, RETRY_WAITS_MS } from '../../shared/supabase';

/**
 * Takes the duplicate guard, re-checks stop and window, and moves ready_to_send → sending, for every
 * contact at once. Repeated on a transient failure, with the same key: when the database committed
 * the first call and only its answer was lost (a gateway's 502/504, a reset connection), the repeat
 * finds the contacts this key began where it left them and answers as the first call did (send,
 * skipped), writing nothing; without that the contacts stayed in sending, unsent, until the reaper
 * made them send_uncertain (20261201001380_follow_up_begin_send_repeated.sql). The key is this
 * call's own, not the holder's: every sub-execution of a run shares the claim's holder.
 */
export async function beginSend(context: IExecuteFunctions, leaseHolder: string, stateIds: string[], leaseSeconds: number): Promise<Map<string, BeginSendResult>> {
	const args: BeginSendArgs = { p_execution_id: leaseHolder, p_state_ids: stateIds, p_lease_seconds: leaseSeconds, p_begin_key: randomUUID() };
	const rows = await repeatWhileTransient(context, `beginning ${stateIds.length} sends`, () => callRpc(context, 'automation_begin_send', args));
	return new Map(rows.map((row) => [row.state_id, row]));
}

/**
 * `call`, repeated after each of RETRY_WAITS_MS while it fails for a moment (isTransient), a warning
 * logged each time (`what`: "beginning 50 sends"); any other failure, or the last, thrown as n8n shows it.
 */
export async function repeatWhileTransient<T>(context: IExecuteFunctions, what: string, call: () => Promise<T>): Promise<T> {
	for (let retry = 0; ; retry++) {
		try {
			return await call();
		} catch (error) {
			if (retry >= RETRY_WAITS_MS.length || !isTransient(error)) throw asNodeError(context, error);
			context.logger.warn(`Leadflow Facebook Send: ${what} in Supabase failed (${(error as Error).message}); trying again`);
			await sleep(RETRY_WAITS_MS[retry]);
		}
	}
}

/**
 * Records what became of every contact that was moved to sending. Repeated on a transient failure:
 * safe, because the function applies a report only to contacts still in sending and held by this
 * execution, so a report a lost answer hid is not applied twice; the repeat finds each contact where
 * that report left it and answers as the first call did (sent, completed, skipped, failed or
 * uncertain), writing nothing (20261201001300_follow_up_record_send_repeated.sql).
 */
export async function recordSends(context: IExecuteFunctions, leaseHolder: string, items: SendOutcomeItem[]): Promise<Map<string, RecordSendResult['outcome']>> {
	if (items.length === 0) return new Map();
	const args: RecordSendArgs = { p_execution_id: leaseHolder, p_items: items };
	const rows = await repeatWhileTransient(context, `recording ${items.length} sends`, () => callRpc(context, 'automation_record_send', args));
	return new Map(rows.map((row) => [row.state_id, row.outcome]));
}
