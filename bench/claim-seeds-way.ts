// The seeds' way of finding the contacts due a follow-up: fetch the tagged contacts over the REST
// API (supabase-js, 1,000 rows a page) with their state and stops embedded, then judge them in
// JavaScript. Read-only: it does not even claim what it finds.
import type { SupabaseClient } from '@supabase/supabase-js';

interface TaggedRow {
	conversation_id: string;
	tag_id: string;
	messenger_conversations: {
		id: string;
		is_active: boolean;
		last_customer_message_at: string | null;
		ai_automation_contact_states: Array<{ current_stage: string; follow_up_count: number; last_follow_up_at: string | null; locked_until: string | null }>;
		ai_automation_stops: Array<{ rule_id: string | null }>;
	};
}

export async function dueTheSeedsWay(client: SupabaseClient, rule: { id: string; include: string[]; exclude: string[]; maxFollowUps: number; minHours: number; dailyLimit: number }, now: Date, limit: number) {
	const rows: TaggedRow[] = [];
	for (let from = 0; ; from += 1000) {
		const { data, error } = await client
			.from('conversation_tags')
			.select(
				'conversation_id, tag_id, messenger_conversations!inner(id, is_active, last_customer_message_at, ai_automation_contact_states(current_stage, follow_up_count, last_follow_up_at, locked_until), ai_automation_stops(rule_id))',
			)
			.in('tag_id', [...rule.include, ...rule.exclude])
			.eq('messenger_conversations.ai_automation_contact_states.rule_id', rule.id)
			.order('conversation_id')
			.order('tag_id')
			.range(from, from + 999);
		if (error) throw new Error(error.message);
		rows.push(...(data as unknown as TaggedRow[]));
		if (data.length < 1000) break;
	}
	const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString();
	const { count, error } = await client
		.from('ai_automation_executions')
		.select('id', { count: 'exact', head: true })
		.eq('rule_id', rule.id)
		.in('status', ['sending', 'sent', 'uncertain'])
		.gte('attempted_at', dayStart);
	if (error) throw new Error(error.message);

	const excluded = new Set(rows.filter((row) => rule.exclude.includes(row.tag_id)).map((row) => row.conversation_id));
	const seen = new Set<string>();
	const due: string[] = [];
	const windowStart = now.getTime() - 24 * 3_600_000;
	for (const row of rows) {
		if (!rule.include.includes(row.tag_id) || seen.has(row.conversation_id) || excluded.has(row.conversation_id)) continue;
		seen.add(row.conversation_id);
		const conversation = row.messenger_conversations;
		const state = conversation.ai_automation_contact_states[0];
		const lastMessage = conversation.last_customer_message_at ? Date.parse(conversation.last_customer_message_at) : 0;
		const lastFollowUp = state?.last_follow_up_at ? Date.parse(state.last_follow_up_at) : null;
		if (!conversation.is_active || lastMessage <= windowStart) continue;
		if (conversation.ai_automation_stops.some((stop) => stop.rule_id === null || stop.rule_id === rule.id)) continue;
		if (lastFollowUp !== null && lastMessage > lastFollowUp) continue; // replied
		if (state && ['checking', 'eligible', 'generating', 'ready_to_send', 'sending'].includes(state.current_stage)) continue;
		if ((state?.follow_up_count ?? 0) >= rule.maxFollowUps) continue;
		if (lastFollowUp !== null && lastFollowUp + rule.minHours * 3_600_000 > now.getTime()) continue;
		due.push(conversation.id);
	}
	return { fetchedRows: rows.length, due: due.slice(0, Math.max(0, Math.min(limit, rule.dailyLimit - (count ?? 0)))) };
}
