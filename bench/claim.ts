// Benchmark: the claim of 100 due contacts on 100,000 conversations, 1,000,000 tag
// links and ~300,000 past executions, against the seeds' way (fetch tagged contacts over REST,
// judge in JavaScript), side by side on one fast local stack. Prints the medians (also of the
// explained claim over rpc, as the Tag Eligibility node calls it), their ratio, the machine's
// yardstick (bench/common.ts) and the plan of the claim's candidate walk as it runs inside the
// function. The node's call is also taken apart: the explained claim in the database and at
// PostgREST without the gateway, beside supabase.rpc. Then automation_claim beside
// automation_claim_explained (the claim plus why fewer than asked were claimed: what the node
// calls), alternately in one run: filled (100 of 100), short (asked for more than are due: every
// due contact, and the others counted by reason) and zero (the daily limit used: only the
// counting).
//   npm run bench -- claim [--profile [--plans]]
// --profile: each statement inside the explained claim with its median time over 11 calls (where
// the database's part of the node's call goes); --plans: their plans, one call, with actual times.
// A benchmark, never a unit test.
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack } from '../stack';
import { seedClaimBench } from './claim-seed';
import { dueTheSeedsWay } from './claim-seeds-way';
import { explainStatements, statementLine, statementMedians } from './statements';
import { machineLine, median } from './common';

const RUNS = 21;
const SEEDS_WAY_RUNS = 5;
const BATCH = 100;
const PROFILE_RUNS = 11;

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function main() {
	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const now = new Date();
		console.log('Seeding (set-based)…');
		const data = await seedClaimBench(db, now, console.log);
		await db.query('vacuum analyze');
		const sizes = await db.query(`select (select count(*) from public.messenger_conversations) as conversations,
		  (select count(*) from public.conversation_tags) as tag_links, (select count(*) from public.ai_automation_executions) as executions,
		  (select count(*) from public.ai_automation_contact_states) as states, (select count(*) from public.messenger_messages) as messages`);
		console.log('Data:', sizes.rows[0], `due now: ${data.dueNow}`);

		const supabase = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		// Each timed claim takes 100 contacts; putting them back (untimed) keeps the due set the same.
		const release = (executionId: string) =>
			db.query(`update public.ai_automation_contact_states set current_stage = 'queued', locked_by = null, locked_until = null where locked_by = $1`, [executionId]);
		// One claim in the database (put back after), its time, how many it took and its summary.
		const timeClaim = async (fn: string, limit: number, holder: string) => {
			const started = performance.now();
			const { rows } = await db.query(
				fn === 'automation_claim'
					? // Serialised as PostgREST would answer them: the rows as one JSON array, the document as text.
						'select count(*)::int as n, length(coalesce(json_agg(c)::text, \'\')) as bytes from public.automation_claim($1, $2, $3, 600, $4) c'
					: `select json_array_length(r -> 'contacts') as n, r -> 'summary' as summary, length(r::text) as bytes from public.automation_claim_explained($1, $2, $3, 600, $4) r`,
				[data.ruleId, limit, holder, now.toISOString()],
			);
			const elapsed = performance.now() - started;
			await release(holder);
			return { ms: elapsed, n: rows[0].n as number, summary: rows[0].summary as unknown };
		};
		const inDb: number[] = [];
		const overRest: number[] = [];
		const asTheNode: number[] = [];
		// The node's call taken apart: the explained claim in the database, then at PostgREST directly
		// (the Data API without the gateway), beside asTheNode (supabase.rpc through the gateway).
		const explainedInDb: number[] = [];
		const explainedAtPostgrest: number[] = [];
		const explainArgs = (executionId: string) => ({ p_rule_id: data.ruleId, p_limit: BATCH, p_execution_id: executionId, p_now: now.toISOString() });
		for (let run = -3; run < RUNS; run++) {
			let started = performance.now();
			const { rows } = await db.query('select count(*)::int as n from public.automation_claim($1, $2, $3, 600, $4)', [data.ruleId, BATCH, `bench-db-${run}`, now.toISOString()]);
			const dbTime = performance.now() - started;
			if (rows[0].n !== BATCH) throw new Error(`claimed ${rows[0].n}, expected ${BATCH}`);
			await release(`bench-db-${run}`);
			started = performance.now();
			const { data: claimed, error } = await supabase.rpc('automation_claim', { p_rule_id: data.ruleId, p_limit: BATCH, p_execution_id: `bench-rest-${run}`, p_now: now.toISOString() });
			const restTime = performance.now() - started;
			if (error || (claimed as unknown[]).length !== BATCH) throw new Error(`REST claim failed: ${error?.message}`);
			if ((claimed as Array<{ messages: unknown[] }>).some((row) => row.messages.length !== 5)) throw new Error('a claimed contact came without its last 5 messages');
			await release(`bench-rest-${run}`);
			// As the Tag Eligibility node calls it: the explained claim, over supabase.rpc.
			started = performance.now();
			const node = await supabase.rpc('automation_claim_explained', explainArgs(`bench-node-${run}`));
			const nodeTime = performance.now() - started;
			if (node.error || (node.data as { contacts: unknown[] }).contacts.length !== BATCH) throw new Error(`the node's claim failed: ${node.error?.message}`);
			await release(`bench-node-${run}`);
			const explained = await timeClaim('automation_claim_explained', BATCH, `bench-explained-db-${run}`);
			if (explained.n !== BATCH) throw new Error(`the explained claim took ${explained.n} in the database`);
			started = performance.now();
			const direct = await fetch(`${stack.postgrestUrl}/rpc/automation_claim_explained`, {
				method: 'POST',
				headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.serviceRoleKey}` },
				body: JSON.stringify(explainArgs(`bench-postgrest-${run}`)),
			});
			const directBody = (await direct.json()) as { contacts?: unknown[] };
			const postgrestTime = performance.now() - started;
			if (!direct.ok || directBody.contacts?.length !== BATCH) throw new Error(`the explained claim at PostgREST failed: ${direct.status}`);
			await release(`bench-postgrest-${run}`);
			if (run >= 0) {
				inDb.push(dbTime);
				overRest.push(restTime);
				asTheNode.push(nodeTime);
				explainedInDb.push(explained.ms);
				explainedAtPostgrest.push(postgrestTime);
			}
		}

		const rule = { id: data.ruleId, include: [data.includeTagId], exclude: [data.excludeTagId], maxFollowUps: 10, minHours: 4, dailyLimit: 1_000_000 };
		const seedsWay: number[] = [];
		let fetched = 0;
		for (let run = 0; run < SEEDS_WAY_RUNS; run++) {
			const started = performance.now();
			const result = await dueTheSeedsWay(supabase, rule, now, BATCH);
			seedsWay.push(performance.now() - started);
			fetched = result.fetchedRows;
			if (result.due.length !== BATCH) throw new Error(`the seeds' way found ${result.due.length} due contacts`);
		}

		const spread = (values: number[]) => `min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))}`;
		console.log(`\nClaim of ${BATCH} (median of ${RUNS}): ${ms(median(inDb))} in the database (${spread(inDb)}), ${ms(median(overRest))} over supabase.rpc (${spread(overRest)})`);
		console.log(`As the node calls it (automation_claim_explained over supabase.rpc): ${ms(median(asTheNode))} (${spread(asTheNode)})`);
		console.log(
			`  taken apart (medians): ${ms(median(explainedInDb))} in the database, ${ms(median(explainedAtPostgrest))} at PostgREST directly, ` +
				`${ms(median(asTheNode))} through the gateway with supabase-js`,
		);
		console.log(`Seeds' way (median of ${SEEDS_WAY_RUNS}): ${ms(median(seedsWay))} (${fetched} rows fetched over REST, judged in JavaScript, nothing claimed)`);
		console.log(`Ratio (seeds' way / claim over REST): ${(median(seedsWay) / median(overRest)).toFixed(1)}×`);
		console.log(await machineLine(db));

		// automation_claim and automation_claim_explained side by side, alternating, in the database.
		const setDailyLimit = (limit: number) => db.query('update public.ai_automation_rules set daily_limit = $2 where id = $1', [data.ruleId, limit]);
		const cases: Array<{ name: string; limit: number; dailyLimit: number }> = [
			{ name: `filled (${BATCH} of ${BATCH})`, limit: BATCH, dailyLimit: 1_000_000 },
			{ name: 'short (10,000 asked, every due one claimed)', limit: 10_000, dailyLimit: 1_000_000 },
			{ name: 'zero (daily limit used)', limit: BATCH, dailyLimit: 1 },
		];
		console.log('\nautomation_claim vs automation_claim_explained (medians, alternating in one run):');
		for (const { name, limit, dailyLimit } of cases) {
			await setDailyLimit(dailyLimit);
			// daily limit 1: one contact held, so the rule's limit is used for every timed claim.
			if (dailyLimit === 1) await db.query('select count(*) from public.automation_claim($1, 1, $2, 600, $3)', [data.ruleId, 'bench-holder', now.toISOString()]);
			const rows: number[] = [];
			const explained: number[] = [];
			let last: { n: number; summary: unknown } | undefined;
			for (let run = -2; run < RUNS; run++) {
				const a = await timeClaim('automation_claim', limit, `bench-rows-${run}`);
				const b = await timeClaim('automation_claim_explained', limit, `bench-explained-${run}`);
				if (a.n !== b.n) throw new Error(`${name}: automation_claim took ${a.n}, automation_claim_explained ${b.n}`);
				last = b;
				if (run >= 0) {
					rows.push(a.ms);
					explained.push(b.ms);
				}
			}
			if (dailyLimit === 1) await release('bench-holder');
			console.log(
				`  ${name}: ${ms(median(rows))} vs ${ms(median(explained))} (${(median(explained) / median(rows)).toFixed(2)}×), ${last!.n} claimed; summary ${JSON.stringify(last!.summary)}`,
			);
		}
		await setDailyLimit(1_000_000);

		// The plan the claim really runs: auto_explain logs the statements inside the function
		// (plpgsql plans are not visible to a plain EXPLAIN of the call). Printed: the candidate walk.
		const walk = await explainStatements(
			db,
			() => db.query('select count(*) from public.automation_claim($1, $2, $3, 600, $4)', [data.ruleId, BATCH, 'bench-plan', now.toISOString()]),
			{ minMs: 0, analyze: true, buffers: true },
		);
		await release('bench-plan');
		// --profile: the statements of the explained claim (what the node calls), each with its
		// median time over PROFILE_RUNS calls, without per-node timing (which would inflate them);
		// --plans: and one call's plans with their actual times and buffers.
		if (process.argv.includes('--profile')) {
			const explained = (holder: string) =>
				db.query('select public.automation_claim_explained($1, $2, $3, 600, $4)::text', [data.ruleId, BATCH, holder, now.toISOString()]);
			const statements = await statementMedians(db, PROFILE_RUNS, (run) => explained(`bench-profile-${run}`), { minMs: 0 }, (run) => release(`bench-profile-${run}`));
			console.log(
				`\nStatements of 0.1 ms or more inside automation_claim_explained of ${BATCH} (auto_explain, medians of ${PROFILE_RUNS} calls; the last is the call itself; its logging slows each call, so read the times as shares):\n` +
					statements.filter((statement) => statement.ms >= 0.1).map((statement) => statementLine(statement, 100)).join('\n'),
			);
			if (process.argv.includes('--plans')) {
				const statements = await explainStatements(db, () => explained('bench-plans'), { minMs: 0.5, analyze: true, buffers: true });
				await release('bench-plans');
				console.log(`\nTheir plans, one call (analyze on):\n${statements.map((statement) => statement.entry).join('\n')}`);
			}
		}
		const walkPlan = walk.find((statement) => statement.entry.includes('automation_judge_contact('));
		console.log(`\nEXPLAIN (ANALYZE, BUFFERS) of the claim's candidate walk, as run inside automation_claim:\n${walkPlan?.entry ?? '(not logged)'}`);
	} finally {
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exitCode = 1;
});
