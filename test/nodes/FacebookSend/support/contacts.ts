// Contacts ready to send, made the way the pipeline makes them: an owner, a tag, tagged Messenger
// conversations whose window is open, a rule, then the real SQL API (claim → mark generating →
// record generation). Returns the items a FacebookSend node receives (the claim's rows plus
// `followUp.message`, as GenerateFollowUp outputs them) and readers for what the database holds.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { createTestUser, serviceClient, withDb } from '../../../helpers/stack';

export const PAGE_ID = '104857600000077';

export interface ReadyBatch {
	owner: string;
	ruleId: string;
	executionId: string;
	items: IDataObject[];
	psids: string[];
	stateIds: string[];
	conversationIds: string[];
}

export interface ReadyOptions {
	count?: number;
	maxFollowUps?: number;
	/** How long ago the person last wrote (default one hour). */
	lastMessageAgoMinutes?: number;
	leaseSeconds?: number;
}

let psidCounter = 0;
/** PSIDs unique across test files running in parallel on the shared stack. */
function newPsid(): string {
	psidCounter += 1;
	return `${Date.now()}${process.pid % 1000}${String(psidCounter).padStart(4, '0')}`.slice(0, 32);
}

async function rpc<T>(name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await serviceClient().rpc(name, args);
	if (error) throw new Error(`${name}: ${error.message}`);
	return data as T;
}

export interface ClaimedBatch extends Omit<ReadyBatch, 'items'> {
	/** The claim's rows, as the claim step hands them to GenerateFollowUp. */
	claimed: IDataObject[];
}

/** Contacts claimed (stage eligible), not yet generated. */
export async function claimedContacts(options: ReadyOptions = {}): Promise<ClaimedBatch> {
	const count = options.count ?? 3;
	const owner = await createTestUser('sender');
	const psids = Array.from({ length: count }, newPsid);
	const executionId = `exec-${randomUUID()}`;
	const { ruleId, conversationIds } = await withDb(async (db) => {
		const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'AI lead') returning id`, [owner]);
		const conversations = await db.query<{ id: string }>(
			`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
			 select $1, $2, psid, 'Lead ' || psid from unnest($3::text[]) psid returning id`,
			[owner, PAGE_ID, psids],
		);
		const ids = conversations.rows.map((row) => row.id);
		await db.query(`insert into public.conversation_tags (conversation_id, tag_id, user_id) select c, $2, $1 from unnest($3::uuid[]) c`, [owner, tag.rows[0].id, ids]);
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'How much is it?', now() - make_interval(mins => $3) from unnest($2::uuid[]) c`,
			[owner, ids, options.lastMessageAgoMinutes ?? 60],
		);
		const rule = await db.query<{ id: string }>(
			`insert into public.ai_automation_rules (user_id, name, page_id, include_tag_ids, instructions, max_follow_ups, min_hours_between_follow_ups, daily_limit)
			 values ($1, 'Follow up leads', $2, array[$3::uuid], 'Be brief and friendly.', $4, 0, $5) returning id`,
			[owner, PAGE_ID, tag.rows[0].id, options.maxFollowUps ?? 3, Math.max(100, count)],
		);
		return { ruleId: rule.rows[0].id, conversationIds: ids };
	});

	// Claims of at most 1,000 (the Data API answers at most 1,000 rows), all for the same execution.
	const claimed: IDataObject[] = [];
	while (claimed.length < count) {
		const more = await rpc<IDataObject[]>('automation_claim', {
			p_rule_id: ruleId,
			p_limit: Math.min(1000, count - claimed.length),
			p_execution_id: executionId,
			p_lease_seconds: options.leaseSeconds ?? 600,
		});
		if (more.length === 0) break;
		claimed.push(...more);
	}
	if (claimed.length !== count) throw new Error(`claimed ${claimed.length} of ${count} contacts`);
	const stateIds = claimed.map((row) => String(row.state_id));
	const psidsInClaimOrder = claimed.map((row) => String(row.recipient_id));
	return { owner, ruleId, executionId, claimed, psids: psidsInClaimOrder, stateIds, conversationIds };
}

/** Contacts ready to send (stage ready_to_send), with the items GenerateFollowUp would output. */
export async function readyContacts(options: ReadyOptions = {}): Promise<ReadyBatch> {
	const { claimed, ...batch } = await claimedContacts(options);
	const { executionId } = batch;
	const messageFor = (row: IDataObject) => `Hi ${String(row.sender_name)}, still interested? (${String(row.recipient_id)})`;
	for (let start = 0; start < claimed.length; start += 1000) {
		const piece = claimed.slice(start, start + 1000);
		await rpc('automation_mark_generating', { p_execution_id: executionId, p_state_ids: piece.map((row) => String(row.state_id)) });
		await rpc('automation_record_generation', {
			p_execution_id: executionId,
			p_items: piece.map((row) => ({ state_id: row.state_id, message: messageFor(row), generation_ms: 5, model: 'gemini-3-flash' })),
		});
	}
	const items: IDataObject[] = claimed.map((row) => ({ ...row, followUp: { message: messageFor(row), model: 'gemini-3-flash' } }));
	return { ...batch, items };
}

export interface StateRow {
	state_id: string;
	recipient_id: string;
	current_stage: string;
	follow_up_count: number;
	last_follow_up_at: Date | null;
	facebook_message_id: string | null;
	error_code: string | null;
	skip_reason: string | null;
	retry_at: Date | null;
	locked_by: string | null;
}

/** The contacts' states, in the order of `stateIds`. */
export async function statesOf(stateIds: string[]): Promise<StateRow[]> {
	const { rows } = await withDb((db) =>
		db.query<StateRow>(
			`select s.id state_id, c.sender_id recipient_id, s.current_stage, s.follow_up_count, s.last_follow_up_at, s.facebook_message_id,
			        s.error_code, s.skip_reason, s.retry_at, s.locked_by
			   from public.ai_automation_contact_states s join public.messenger_conversations c on c.id = s.conversation_id
			  where s.id = any($1::uuid[])`,
			[stateIds],
		),
	);
	return stateIds.map((id) => rows.find((row) => row.state_id === id)!);
}

export interface LedgerRow {
	state_id: string;
	follow_up_number: number;
	status: string;
	facebook_message_id: string | null;
	error_code: string | null;
}

export async function ledgerOf(ruleId: string): Promise<LedgerRow[]> {
	const { rows } = await withDb((db) =>
		db.query<LedgerRow>(
			`select state_id, follow_up_number, status, facebook_message_id, error_code from public.ai_automation_executions where rule_id = $1 order by attempted_at, id`,
			[ruleId],
		),
	);
	return rows;
}

export async function stopsOf(conversationIds: string[]): Promise<Array<{ conversation_id: string; rule_id: string | null; reason: string }>> {
	const { rows } = await withDb((db) =>
		db.query(`select conversation_id, rule_id, reason from public.ai_automation_stops where conversation_id = any($1::uuid[])`, [conversationIds]),
	);
	return rows;
}
