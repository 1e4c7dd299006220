// Benchmark: a 10,000-task campaign launch (issue #4), on the local stack.
//   tsx bench/campaign-sessions.ts [--tasks 10000] [--rest-rows 10000] [--repeat 3]
// 1. The shipped workflow run in-process (Webhook → Create Sessions → Respond), as n8n runs it:
//    the launch (every session created) and its replay (nothing created).
// 2. The same launch as the seed's app does it: one REST insert per session (supabase-js, one
//    request each, sequential), with the phone numbers inserted first in one call so the foreign
//    key holds. Prints the figures; never a test, so a slow machine fails no build.
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import { Client } from 'pg';
import { startStack, createAuthUser, type RunningStack } from '../stack';
import { checkLaunchRequest } from '../nodes/CampaignSessionCreate/helpers/launchRequest';
import { loadPhoneLibrary } from '../nodes/shared/phone';
import { runWorkflow } from '../test/harness';
import { argument, median } from './common';

const WORKFLOW = 'workflows/campaign-session-created.json';
const HEADER = { name: 'X-Leadflow-Key', value: 'bench-key' };

const phones = (count: number, offset: number) => Array.from({ length: count }, (_, i) => `+447853${String(offset + i).padStart(6, '0')}`);

function launchBody(count: number, offset: number) {
	const run = randomUUID().slice(0, 8);
	return {
		campaign: `bench-campaign_${run}`,
		tasks: phones(count, offset).map((phone_number, i) => ({ session: `bench-${run}-${i}`, phone_number, name: `Candidate ${i}` })),
		job_description: 'Plumber, London, £45k. '.repeat(20),
		objectives: { interested: { weight: 1 }, started_work: { weight: 3 }, rejected: { weight: 0 } },
	};
}

async function sessionCount(stack: RunningStack, campaign: string): Promise<number> {
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const { rows } = await db.query<{ n: string }>(
			'select count(*) n from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1',
			[campaign],
		);
		return Number(rows[0].n);
	} finally {
		await db.end();
	}
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
	const started = performance.now();
	const value = await fn();
	return [value, performance.now() - started];
}

async function main() {
	await loadPhoneLibrary();
	const tasks = argument('tasks', 10_000);
	const restRows = argument('rest-rows', tasks);
	const repeat = argument('repeat', 3);
	const stack = await startStack({ fast: true });
	try {
		const owner = await createAuthUser(stack.dbUrl, `bench-${randomUUID()}@leadflow.test`);
		const credentials = {
			httpHeaderAuth: HEADER,
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		};
		const post = (body: unknown) =>
			runWorkflow(WORKFLOW, {
				startNode: 'Session Created',
				webhook: { method: 'POST', headers: { [HEADER.name]: HEADER.value, 'X-Leadflow-Owner': owner }, body },
				credentials,
			});

		// Warm-up: loads n8n's node index and our node, and opens connections (not timed).
		await post(launchBody(10, 900_000));

		// Several rounds (a new campaign each, phones shared across campaigns as in real life): the
		// median is what a launch costs; the machine may be busy with other work.
		const launches: number[] = [];
		const replays: number[] = [];
		let first: Awaited<ReturnType<typeof post>> | undefined;
		let replay: Awaited<ReturnType<typeof post>> | undefined;
		let body = launchBody(tasks, 0);
		let stored = 0;
		for (let round = 0; round < repeat; round++) {
			body = launchBody(tasks, 0);
			const [launched, launchMs] = await timed(() => post(body));
			const [replayed, replayMs] = await timed(() => post(body));
			launches.push(launchMs);
			replays.push(replayMs);
			first = launched;
			replay = replayed;
			stored = await sessionCount(stack, body.campaign);
		}
		const firstMs = median(launches);
		const replayMs = median(replays);
		const firstBody = first?.response?.body as { created?: number } | undefined;
		const replayBody = replay?.response?.body as { created?: number; existing?: number } | undefined;

		// Where a launch's time goes: the node's checks alone, and the SQL function alone.
		const [, checkMs] = await timed(async () => checkLaunchRequest(launchBody(tasks, 0), { defaultCountry: 'GB', maxTasks: tasks }));
		const direct = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		const checked = checkLaunchRequest(launchBody(tasks, 0), { defaultCountry: 'GB', maxTasks: tasks });
		if (!('request' in checked)) throw new Error('the benchmark launch is invalid');
		const [, rpcMs] = await timed(async () => {
			const { error } = await direct.rpc('create_campaign_sessions', {
				p_owner: owner,
				p_campaign: checked.request.campaign,
				p_tasks: checked.request.tasks.map(({ phone, session, name }) => ({ phone, session, name })),
			});
			if (error) throw new Error(error.message);
		});

		// The seed's way: one POST /rest/v1/session_info per session.
		const rest = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		const restPhones = phones(restRows, 500_000);
		const campaign = await rest
			.from('campaign_info')
			.insert({ user_id: owner, name_uid: `bench-rest_${randomUUID().slice(0, 8)}`, name: 'REST', job_description: '', objectives: {} })
			.select('id, name_uid')
			.single();
		if (campaign.error) throw new Error(campaign.error.message);
		const numbers = await rest.from('numbers').insert(restPhones.map((phone_e164) => ({ user_id: owner, phone_e164 })));
		if (numbers.error) throw new Error(numbers.error.message);
		const [, restMs] = await timed(async () => {
			for (const [i, phone_e164] of restPhones.entries()) {
				const { error } = await rest.from('session_info').insert({
					user_id: owner,
					session_id: `rest-${campaign.data.id}-${i}`,
					campaign_id: campaign.data.id,
					phone_e164,
					display_name: `Candidate ${i}`,
				});
				if (error) throw new Error(error.message);
			}
		});
		const restStored = await sessionCount(stack, campaign.data.name_uid);

		const all = (values: number[]) => values.map((v) => (v / 1000).toFixed(2)).join(' / ');
		const rows = [
			['in-process workflow, launch (median)', seconds(firstMs), `HTTP ${first?.response?.statusCode}, created ${firstBody?.created}; runs ${all(launches)} s`],
			['in-process workflow, replay (median)', seconds(replayMs), `HTTP ${replay?.response?.statusCode}, created ${replayBody?.created}, existing ${replayBody?.existing}; runs ${all(replays)} s`],
			['  of which: the node\'s checks (phones etc.)', seconds(checkMs), `${tasks} tasks`],
			['  of which: create_campaign_sessions RPC', seconds(rpcMs), 'one round trip, one transaction'],
			[`REST, one insert per session (${restRows})`, seconds(restMs), `${restStored} rows, ${(restMs / restRows).toFixed(2)} ms/row`],
		];
		console.log(`\nCampaign launch benchmark: ${tasks} tasks, local stack (Postgres 17 + PostgREST 12), Node ${process.versions.node}`);
		for (const [what, time, note] of rows) console.log(`  ${what.padEnd(46)} ${time.padStart(9)}   ${note}`);
		console.log(`  sessions stored for the launch: ${stored} (expected ${tasks})`);
		if (restRows !== tasks) console.log(`  REST projected to ${tasks} sessions: ${seconds((restMs / restRows) * tasks)}`);
		console.log(`  speed-up over one-row REST: ${((restMs / restRows) * tasks / firstMs).toFixed(1)}×\n`);
		const ok = stored === tasks && firstBody?.created === tasks && replayBody?.created === 0 && firstMs <= 2000 && replayMs <= 2000;
		console.log(ok ? 'PASS: launch and replay each within 2 s, exactly one set of sessions' : 'FAIL: see the figures above');
		process.exitCode = ok ? 0 : 1;
	} finally {
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
