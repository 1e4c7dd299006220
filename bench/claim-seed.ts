// The claim benchmark's data set, seeded set-based (generate_series) in a few statements:
// 100,000 conversations, 1,000,000 tag links, about 300,000 past executions and 90,000 contact
// states. One owner, one page, 100 tags; every conversation carries 10 of them. The rule follows
// up the contacts tagged "tag-000" (10 %) unless they carry "tag-045" (half of those), at least 4 h
// apart; about 30 % of conversations have their 24 h Messenger window open, and those have their
// last five messages (what the claim hands to the AI).
import type { Client, QueryResultRow } from 'pg';

export const BENCH_SIZES = { conversations: 100_000, tags: 100, tagsPerConversation: 10 };

export interface BenchData {
	userId: string;
	ruleId: string;
	includeTagId: string;
	excludeTagId: string;
	dueNow: number;
}

export async function seedClaimBench(db: Client, now: Date, log: (line: string) => void = () => undefined): Promise<BenchData> {
	const step = async <R extends QueryResultRow>(label: string, sql: string, params: unknown[] = []) => {
		const started = performance.now();
		const result = await db.query<R>(sql, params);
		log(`  ${label}: ${result.rowCount ?? 0} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
		return result;
	};
	const { rows: users } = await db.query<{ id: string }>(
		`insert into auth.users (email) values ('bench-' || gen_random_uuid() || '@leadflow.test') returning id`,
	);
	const userId = users[0].id;
	const params = [userId, now.toISOString()];

	await step('tags',
		`insert into public.tags (user_id, name)
		 select $1, 'tag-' || lpad(t::text, 3, '0') from generate_series(0, 99) t`,
		[userId],
	);
	// Conversation n: windows open for ~30 % (spread over the last 24 h), the rest closed 1–60 days ago.
	await step('conversations',
		`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active,
		                                             last_customer_message_at, last_message_at)
		 select $1, '100200300', (7000000000 + n)::text, 'Contact ' || n, n % 97 <> 0,
		        case when (n * 7919) % 1000 < 300 then $2::timestamptz - ((n * 13) % 1430 + 5) * interval '1 minute'
		             else $2::timestamptz - (1 + n % 60) * interval '1 day' - (n % 600) * interval '1 minute' end,
		        $2::timestamptz - (n % 600) * interval '1 minute'
		   from generate_series(1, ${BENCH_SIZES.conversations}) n`,
		params,
	);
	// The conversation so far, for every one whose window is open (the only ones a claim can take,
	// and it returns their last messages): five messages, alternating, the last one the person's
	// message that opened the window. Their times never pass the conversation's, so the message
	// triggers would only rewrite the same times (and the keys hold by construction): they are
	// skipped to keep the seeding quick.
	await db.query('set session_replication_role = replica');
	await step('messages',
		`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
		 select $1, c.id, case when k % 2 = 0 then 'inbound' else 'outbound' end,
		        case when k % 2 = 0 then 'Question ' || k || ' about the offer?' else 'Answer ' || k || ', happy to help.' end,
		        c.last_customer_message_at - k * interval '7 minutes'
		   from public.messenger_conversations c
		  cross join generate_series(0, 4) k
		  where c.user_id = $1 and c.last_customer_message_at > $2::timestamptz - interval '24 hours'`,
		params,
	);
	await db.query('reset session_replication_role');
	// Ten distinct tags each: offset + 11 k (mod 100), k = 0 … 9.
	await step('tag links',
		`insert into public.conversation_tags (conversation_id, tag_id, user_id)
		 select c.id, t.id, $1
		   from (select id, (substr(sender_id, 2)::bigint * 37) % 100 as offset_ from public.messenger_conversations
		          where user_id = $1) c
		  cross join generate_series(0, 9) k
		   join public.tags t on t.user_id = $1 and t.name = 'tag-' || lpad(((c.offset_ + 11 * k) % 100)::text, 3, '0')`,
		[userId],
	);
	const { rows: tagRows } = await db.query<{ name: string; id: string }>(
		`select name, id from public.tags where user_id = $1 and name in ('tag-000', 'tag-045')`,
		[userId],
	);
	const tagId = (name: string) => tagRows.find((row) => row.name === name)!.id;
	const { rows: rules } = await db.query<{ id: string }>(
		`insert into public.ai_automation_rules (user_id, name, include_tag_ids, exclude_tag_ids, instructions,
		                                         daily_limit, max_follow_ups, min_hours_between_follow_ups, context_message_count)
		 values ($1, 'Bench follow-up', array[$2::uuid], array[$3::uuid], 'Follow up kindly.', 1000000, 10, 4, 5)
		 returning id`,
		[userId, tagId('tag-000'), tagId('tag-045')],
	);
	const ruleId = rules[0].id;

	// Past follow-ups, always after the person's last message (a later message would be a reply,
	// which stops the contact): four for every conversation whose window has closed, one for two in
	// three of those whose window is open (sent halfway between their message and now); the rest
	// of the open ones are new leads with no state row yet.
	await step('executions',
		`insert into public.ai_automation_executions (user_id, rule_id, conversation_id, follow_up_number, execution_id,
		                                              status, message, facebook_message_id, attempted_at, finished_at)
		 select $1, $2, c.id, f, 'history', 'sent', 'Earlier follow-up', 'm_' || c.sender_id || '_' || f, a.at, a.at
		   from public.messenger_conversations c
		  cross join lateral (select c.last_customer_message_at > $3::timestamptz - interval '24 hours' as open_) w
		  cross join lateral generate_series(1, case when w.open_ then 1 else 4 end) f
		  cross join lateral (select case when w.open_ then c.last_customer_message_at + ($3::timestamptz - c.last_customer_message_at) / 2
		                                  else c.last_customer_message_at + f * interval '3 hours' end as at) a
		  where c.user_id = $1
		    and (not w.open_ or substr(c.sender_id, 2)::bigint % 3 <> 0)`,
		[userId, ruleId, now.toISOString()],
	);
	await step('contact states',
		`insert into public.ai_automation_contact_states (user_id, rule_id, conversation_id, current_stage, stage_entered_at,
		                                                  follow_up_count, last_follow_up_at, execution_id)
		 select $1, $2, e.conversation_id, 'queued', max(e.attempted_at), count(*), max(e.attempted_at), 'history'
		   from public.ai_automation_executions e
		  where e.rule_id = $2
		  group by e.conversation_id`,
		[userId, ruleId],
	);
	await step('analyze', 'analyze');
	const { rows: due } = await db.query<{ n: string }>(
		`select count(*) as n from leadflow_private.automation_evaluate($1, $2) where reason is null`,
		[ruleId, now.toISOString()],
	);
	return { userId, ruleId, includeTagId: tagId('tag-000'), excludeTagId: tagId('tag-045'), dueNow: Number(due[0].n) };
}
