// The sync job's database calls (supabase/migrations/20261201000510_messenger_sync.sql): begin (or
// resume) the Page's job, record a page and move the cursor in one transaction, fail it; how far
// the sync has read some conversations (20261201001370_messenger_sync_moved_conversations.sql); a
// page recorded in parts counted once (20261201001530_messenger_sync_pages_read_once.sql).
import { NodeApiError, type IExecuteFunctions } from 'n8n-workflow';
import type { MessengerEvent, SyncJob, SyncPageResult, SyncRead } from '../../shared/contract';
import { FieldRefusedError } from '../../shared/per-item';
import { runsAsTool } from '../../shared/outputs';
import { callRpc } from '../../shared/supabase';
import { filledByModel, fromAIKey } from '../../shared/tool-text';

export async function beginJob(context: IExecuteFunctions, pageId: string, holder: string, owner: string | null, full: boolean, leaseSeconds: number): Promise<SyncJob> {
	try {
		const [job] = await callRpc(context, 'messenger_sync_begin', { p_page_id: pageId, p_holder: holder, p_owner: owner, p_full: full, p_lease_seconds: leaseSeconds });
		return job;
	} catch (error) {
		throw asToolOwnerRefusal(context, withRefusedField(context, error));
	}
}

/**
 * As an AI agent's tool, the database's refusal of an owner the Page is not connected to (P0002, "it
 * is connected to another owner") with the advice for whoever gave that owner: its own hint says to
 * leave the owner empty, which a tool may not (docs/nodes.md, "One owner per tool"). Anything else,
 * or in a workflow, unchanged.
 */
function asToolOwnerRefusal(context: IExecuteFunctions, error: unknown): unknown {
	if (!runsAsTool(context) || !(error instanceof NodeApiError)) return error;
	const { code, message } = (error.errorResponse ?? {}) as { code?: unknown; message?: unknown };
	if (code !== 'P0002' || typeof message !== 'string' || !/it is connected to another owner$/.test(message)) return error;
	const description = filledByModel(context, 'owner')
		? `The Page is connected to another owner than the one you gave as ${fromAIKey(context, 'owner') ?? 'Owner ID (owner)'}: check it. This tool syncs the Page only for the owner it is connected to.`
		: "Owner ID (owner) is set in this tool's settings to an owner the Page is not connected to: set it there to the user ID of the owner the Page is connected to (a row of messenger_pages). This tool syncs the Page only for that owner.";
	return new NodeApiError(context.getNode(), error.errorResponse ?? {}, { message: error.message, description });
}

/**
 * The node parameter each argument of messenger_sync_begin comes from, for the refusals that name
 * one (`p_owner: … is not a user of this project`, 22023). p_page_id and p_lease_seconds are the
 * credential's Page ID and Lease (Seconds), which readSettings / readTarget check first, and
 * p_holder is the node's own.
 */
const FIELD_OF: Readonly<Record<string, string>> = { p_owner: 'owner' };

/**
 * A database refusal of an argument the node took from a parameter, as a FieldRefusedError naming
 * that parameter (the failed item's `field`, as the owner check's own refusal: nodes/shared/owner-id.ts),
 * its message, description and code (invalid_input) kept: messenger-sync.json answers an owner the
 * request gave (X-Leadflow-Owner) 400 naming that header, and one set in the workflow 500, by this
 * field. Any other error unchanged.
 */
function withRefusedField(context: IExecuteFunctions, error: unknown): unknown {
	if (!(error instanceof NodeApiError)) return error;
	const { code, message } = (error.errorResponse ?? {}) as { code?: unknown; message?: unknown };
	if (typeof code !== 'string' || !(code.startsWith('22') || code.startsWith('23')) || typeof message !== 'string') return error;
	const field = FIELD_OF[/^(p_[a-z_]+): /.exec(message)?.[1] ?? ''];
	if (field === undefined) return error;
	return new FieldRefusedError(context.getNode(), error.message, { description: error.description ?? undefined }, field);
}

export interface PageRecord {
	events: MessengerEvent[];
	nextCursor: string | null;
	conversations: number;
	/** The conversations read whole (every message not recorded before), with their updated_time. */
	read: SyncRead[];
	newestUpdatedAt: string | null;
	errors: number;
	done: boolean;
	/** This call holds the page's last part (or all of it): only it counts the page in pages_read. */
	pageDone: boolean;
}

export async function recordPage(context: IExecuteFunctions, job: SyncJob, holder: string, page: PageRecord, leaseSeconds: number): Promise<SyncPageResult> {
	const [result] = await callRpc(context, 'messenger_sync_record_page', {
		p_job_id: job.job_id,
		p_holder: holder,
		p_events: page.events,
		p_next_cursor: page.nextCursor,
		p_conversations: page.conversations,
		p_read: page.read,
		p_newest_updated_at: page.newestUpdatedAt,
		p_errors: page.errors,
		p_done: page.done,
		p_page_done: page.pageDone,
		p_lease_seconds: leaseSeconds,
	});
	return result;
}

/** How far the sync has read these conversations of the job's Page (epoch ms by PSID); a PSID absent has never been read whole. */
export async function readUntil(context: IExecuteFunctions, job: SyncJob, psids: string[]): Promise<Map<string, number>> {
	const rows = await callRpc(context, 'messenger_sync_read_until', { p_job_id: job.job_id, p_psids: psids });
	return new Map(rows.map((row) => [row.psid, Date.parse(row.read_until)]));
}

/** The holder's heartbeat: the lease ends leaseSeconds from now (55P03 when another run took the job). */
export async function renewLease(context: IExecuteFunctions, job: SyncJob, holder: string, leaseSeconds: number): Promise<void> {
	await callRpc(context, 'messenger_sync_renew_lease', { p_job_id: job.job_id, p_holder: holder, p_lease_seconds: leaseSeconds });
}

/** Fails the holder's job with its error; false when the job is no longer this holder's (another run took it over). */
export async function failJob(context: IExecuteFunctions, job: SyncJob, holder: string, error: string, errors: number): Promise<boolean> {
	const rows = await callRpc(context, 'messenger_sync_fail', { p_job_id: job.job_id, p_holder: holder, p_error: error, p_errors: errors });
	return rows.length > 0;
}
