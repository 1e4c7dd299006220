// Benchmark: the console's poll for a rule with 10,000 tagged contacts: automation_monitor_page's first page (50 contacts) over the Data API, against automation_snapshot (every contact), side by side; medians and answer sizes.
// The contacts are mixed as in a real account: due now, outside the 24 h window, stopped, recently
// sent (a pipeline state with a follow-up a moment ago), and an excluded tag. A benchmark, never a
// unit test.
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack } from '../stack';
import { median } from './common';

const CONTACTS = Number(process.env.CONTACTS ?? 10_000);
const RUNS = 21;

async function main() {
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const now = new Date();
		const { rows: [{ id: userId }] } = await db.query(`insert into auth.users (email) values ('bench-' || gen_random_uuid() || '@leadflow.test') returning id`);
		const { rows: tags } = await db.query(`insert into public.tags (user_id, name) values ($1, 'AI Lead'), ($1, 'Do Not Contact') returning id`, [userId]);
		const [include, exclude] = tags.map((row: { id: string }) => row.id);
		const { rows: [{ id: ruleId }] } = await db.query(
			`insert into public.ai_automation_rules (user_id, name, enabled, page_id, include_tag_ids, exclude_tag_ids, daily_limit, max_follow_ups,
			   min_hours_between_follow_ups, active_hours_start, active_hours_end, time_zone, instructions)
			 values ($1, 'Bench rule', true, '700001', $2, $3, 100000, 3, 4, '00:00', '00:00', 'UTC', 'Write a short follow-up.') returning id`,
			[userId, [include], [exclude]],
		);
		console.log(`Seeding ${CONTACTS.toLocaleString('en')} tagged contacts…`);
		await db.query(
			`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, is_active, last_customer_message_at)
			 select $1, '700001', (8000000000 + n)::text, 'Contact ' || n, true,
			        $2::timestamptz - case when n % 5 = 1 then interval '30 hours' else interval '1 hour' end
			   from generate_series(1, $3) n`,
			[userId, now.toISOString(), CONTACTS],
		);
		await db.query(`insert into public.conversation_tags (conversation_id, tag_id, user_id) select id, $2, $1 from public.messenger_conversations where user_id = $1`, [userId, include]);
		await db.query(
			`insert into public.conversation_tags (conversation_id, tag_id, user_id)
			 select id, $2, $1 from public.messenger_conversations where user_id = $1 and sender_id::bigint % 50 = 7`,
			[userId, exclude],
		);
		await db.query(
			`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason)
			 select $1, id, $2, 'replied' from public.messenger_conversations where user_id = $1 and sender_id::bigint % 20 = 3`,
			[userId, ruleId],
		);
		await db.query('vacuum analyze');
		const supabase = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });

		const pageTimes: number[] = [];
		const snapshotTimes: number[] = [];
		let pageBytes = 0;
		let snapshotBytes = 0;
		let total = 0;
		for (let run = -3; run < RUNS; run++) {
			let started = performance.now();
			const page = await fetch(`${stack.supabaseUrl}/rest/v1/rpc/automation_monitor_page`, {
				method: 'POST',
				headers: { apikey: stack.serviceRoleKey, Authorization: `Bearer ${stack.serviceRoleKey}`, 'Content-Type': 'application/json' },
				body: JSON.stringify({ p_rule_id: ruleId, p_limit: 50 }),
			});
			const pageText = await page.text();
			const pageMs = performance.now() - started;
			if (!page.ok) throw new Error(pageText);
			started = performance.now();
			const { data: snapshot, error } = await supabase.rpc('automation_snapshot', { p_rule_id: ruleId, p_contact_limit: 100_000 });
			const snapshotMs = performance.now() - started;
			if (error) throw new Error(error.message);
			if (run >= 0) {
				pageTimes.push(pageMs);
				snapshotTimes.push(snapshotMs);
			}
			pageBytes = Buffer.byteLength(pageText);
			snapshotBytes = Buffer.byteLength(JSON.stringify(snapshot));
			total = JSON.parse(pageText).stats.total_with_tags;
		}
		if (total !== CONTACTS) throw new Error(`the page counted ${total} tagged contacts, expected ${CONTACTS}`);
		const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
		console.log(`Tagged contacts: ${total.toLocaleString('en')} (${RUNS} runs each, medians, alternating)`);
		console.log(`automation_monitor_page, first page of 50: ${median(pageTimes).toFixed(1)} ms, ${kb(pageBytes)}`);
		console.log(`automation_snapshot, every contact:        ${median(snapshotTimes).toFixed(1)} ms, ${kb(snapshotBytes)}`);
		console.log(`ratio snapshot / page: ${(median(snapshotTimes) / median(pageTimes)).toFixed(2)}`);
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
