// Contacts claimed the way the pipeline claims them: an owner, a tag, tagged Messenger
// conversations with a short history and an open window, a rule, then the real automation_claim.
// Its rows are the items GenerateFollowUp receives; readers report what the database holds.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { createTestUser, serviceClient, withDb } from '../../../helpers/stack';

export const PAGE_ID = '104857600000088';
export const RULE_INSTRUCTIONS = 'Mention the spring discount. Be warm and brief.';

export interface ClaimedBatch {
	owner: string;
	ruleId: string;
	executionId: string;
	items: IDataObject[];
	stateIds: string[];
}

let psidCounter = 0;
/** PSIDs unique across test files running in parallel on the shared stack. */
function newPsid(): string {
	psidCounter += 1;
	return `7${Date.now()}${process.pid % 1000}${String(psidCounter).padStart(5, '0')}`.slice(0, 32);
}

/** Letters only: the simulator greets the first word of letters after "name:". Ana, Anb, … Anaa… */
function nameFor(index: number): string {
	let letters = '';
	for (let rest = index; ; rest = Math.floor(rest / 26) - 1) {
		letters = String.fromCharCode(97 + (rest % 26)) + letters;
		if (rest < 26) break;
	}
	return `An${letters}`;
}

/** `claimLeaseSeconds`: the claim's lease (automation_claim's default, 600 s, unless given). */
export async function claimedContacts(count: number, rule: { language?: string; model?: string } = {}, claimLeaseSeconds?: number): Promise<ClaimedBatch> {
	const owner = await createTestUser('generator');
	const psids = Array.from({ length: count }, newPsid);
	const executionId = `exec-${randomUUID()}`;
	const ruleId = await withDb(async (db) => {
		const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Hot lead') returning id`, [owner]);
		const conversations = await db.query<{ id: string }>(
			`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
			 select $1, $2, psid, name from unnest($3::text[], $4::text[]) as c (psid, name) returning id`,
			[owner, PAGE_ID, psids, psids.map((_, index) => nameFor(index))],
		);
		const ids = conversations.rows.map((row) => row.id);
		await db.query(`insert into public.conversation_tags (conversation_id, tag_id, user_id) select c, $2, $1 from unnest($3::uuid[]) c`, [owner, tag.rows[0].id, ids]);
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, m.direction, m.text, now() - make_interval(mins => m.ago)
			   from unnest($2::uuid[]) c
			  cross join (values ('inbound', 'Do you ship to Leeds?', 90), ('outbound', 'We do, next day.', 80), ('inbound', 'How much is it?', 60)) m (direction, text, ago)`,
			[owner, ids],
		);
		const inserted = await db.query<{ id: string }>(
			`insert into public.ai_automation_rules (user_id, name, page_id, include_tag_ids, instructions, language, model, min_hours_between_follow_ups, daily_limit)
			 values ($1, 'Spring follow-up', $2, array[$3::uuid], $4, $5, $6, 0, $7) returning id`,
			[owner, PAGE_ID, tag.rows[0].id, RULE_INSTRUCTIONS, rule.language ?? null, rule.model ?? null, Math.max(100, count)],
		);
		return inserted.rows[0].id;
	});
	let items: IDataObject[];
	if (count > 1000) {
		// More rows than the Data API answers (max-rows 1,000): the same claim over Postgres, its rows as
		// the Data API writes them (JSON).
		items = await withDb(async (db) => {
			const { rows } = await db.query<{ items: IDataObject[] }>(
				`select coalesce(json_agg(c), '[]') as items from public.automation_claim($1, $2, $3, $4) c`,
				[ruleId, count, executionId, claimLeaseSeconds ?? 600],
			);
			return rows[0].items;
		});
	} else {
		const { data, error } = await serviceClient().rpc('automation_claim', {
			p_rule_id: ruleId,
			p_limit: count,
			p_execution_id: executionId,
			...(claimLeaseSeconds !== undefined && { p_lease_seconds: claimLeaseSeconds }),
		});
		if (error) throw new Error(`automation_claim: ${error.message}`);
		items = data as IDataObject[];
	}
	if (items.length !== count) throw new Error(`claimed ${items.length} of ${count} contacts`);
	return { owner, ruleId, executionId, items, stateIds: items.map((item) => String(item.state_id)) };
}

export interface StoredState {
	id: string;
	current_stage: string;
	generated_message: string | null;
	generation_ms: number | null;
	generation_model: string | null;
	generation_usage: IDataObject | null;
	error_code: string | null;
	error_message: string | null;
	retry_after_seconds: number | null;
	locked_by: string | null;
}

export function statesOf(stateIds: string[]): Promise<StoredState[]> {
	return withDb(async (db) => {
		const { rows } = await db.query<StoredState>(
			`select id, current_stage, generated_message, generation_ms, generation_model, generation_usage, error_code, error_message,
			        round(extract(epoch from retry_at - now()))::integer as retry_after_seconds, locked_by
			   from public.ai_automation_contact_states where id = any ($1::uuid[])`,
			[stateIds],
		);
		return stateIds.map((id) => rows.find((row) => row.id === id) as StoredState);
	});
}

export function eventsOf(stateIds: string[]): Promise<Array<{ state_id: string; from_stage: string | null; to_stage: string; detail: IDataObject | null; execution_id: string }>> {
	return withDb(async (db) => {
		const { rows } = await db.query(
			`select state_id, from_stage, to_stage, detail, execution_id from public.ai_automation_stage_events
			  where state_id = any ($1::uuid[]) order by occurred_at, id`,
			[stateIds],
		);
		return rows;
	});
}
