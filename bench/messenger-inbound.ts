// Benchmark: Messenger Trigger (issue 13) in real n8n: signed deliveries recorded per second, and the answer's p99 at 500 events/s.
//   npm run build && tsx bench/messenger-inbound.ts [--events 6000] [--per-delivery 1,10,50] [--concurrency 8] [--rate 500] [--seconds 10] [--save all|none] [--n8n-env NAME=value,...]
// This package installed into real n8n (the end-to-end tests' installation) with a workflow that is
// the trigger and a No Operation node, on the local stack. Deliveries signed like Meta's, each event
// a new message (people reused across deliveries), verified, recorded with one database call each
// and answered 200 before the workflow runs; every message is checked in the database afterwards.
//   1. throughput: `concurrency` deliveries in flight at a time, `per-delivery` events each (Meta
//      batches events under load), for each size listed;
//   2. latency: deliveries sent at a steady `rate` events/s for `seconds` (10 events each: 50/s),
//      whatever the answers do (an open loop, as Meta sends), with each answer's time.
// Targets: ≥ 500 events/s recorded; p99 answer ≤ 200 ms. `--save none` runs n8n with
// EXECUTIONS_DATA_SAVE_ON_SUCCESS=none (n8n's advice for busy production webhooks); `--n8n-env` passes
// more of n8n's settings, e.g. N8N_EXPRESSION_ENGINE_LAZY_ACQUIRE=true (docs/messenger.md, Throughput).
// For scale, the same deliveries go to n8n's own Webhook node → No Operation in the same n8n (n8n's
// cost alone: no signature, no database), and straight to messenger_record_events over the Data API
// from this process (the trigger's database call alone, without n8n).
// Prints the figures; never a test, so a slow machine fails no build.
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { messengerDelivery, messengerEvents, signDelivery } from '../simulators';
import { buildIsCurrent } from '../scripts/n8n/package-tarball';
import { createAuthUser, startStack } from '../stack';
import { startN8n, type E2eWorkflow, type RunningN8n } from '../test/e2e/support';

function argument(name: string, fallback: string): string {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? process.argv[index + 1] : fallback;
}

const APP_ID = '717171717171';
const APP_SECRET = `bench-secret-${randomUUID()}`;
const PATH = 'leadflow/messenger-bench';
const WORKFLOW_ID = 'LfBenchInbound01';
const BASELINE_ID = 'LfBenchWebhook01';
const BASELINE_PATH = 'leadflow/webhook-bench';

const baseline: E2eWorkflow = {
	id: BASELINE_ID,
	name: 'n8n Webhook bench',
	nodes: [
		{
			id: 'w1',
			name: 'Webhook',
			type: 'n8n-nodes-base.webhook',
			typeVersion: 2.1,
			position: [0, 0],
			parameters: { httpMethod: 'POST', path: BASELINE_PATH, responseMode: 'onReceived', options: {} },
			webhookId: 'c0ffee00-0000-4000-8000-000000000002',
		},
		{ id: 'w2', name: 'Events', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [240, 0], parameters: {} },
	],
	connections: { Webhook: { main: [[{ node: 'Events', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
} as unknown as E2eWorkflow;

const workflow: E2eWorkflow = {
	id: WORKFLOW_ID,
	name: 'Messenger Trigger bench',
	nodes: [
		{
			id: 'b1',
			name: 'Messenger Trigger',
			type: 'n8n-nodes-leadflow.messengerTrigger',
			typeVersion: 2,
			position: [0, 0],
			parameters: { path: PATH, subscribe: false, pages: 'credentialPage', options: {} },
			webhookId: 'c0ffee00-0000-4000-8000-000000000001',
			credentials: { leadflowFacebookPageApi: { id: 'LfFacebookPage01', name: 'Leadflow Facebook Page' }, leadflowSupabaseApi: { id: 'LfSupabaseApi001', name: 'Leadflow Supabase' } },
		},
		{ id: 'b2', name: 'Events', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [240, 0], parameters: {} },
	],
	connections: { 'Messenger Trigger': { main: [[{ node: 'Events', type: 'main', index: 0 }]] } },
	settings: { executionOrder: 'v1' },
} as unknown as E2eWorkflow;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sent {
	status: number;
	ms: number;
	events: number;
}

async function post(n8n: RunningN8n, raw: string, events: number, path = PATH): Promise<Sent> {
	const started = performance.now();
	const response = await fetch(`${n8n.baseUrl}/webhook/${path}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'x-hub-signature-256': signDelivery(raw, APP_SECRET) },
		body: raw,
	});
	await response.arrayBuffer();
	return { status: response.status, ms: performance.now() - started, events };
}

async function main() {
	const totalEvents = Number(argument('events', '6000'));
	const sizes = argument('per-delivery', '1,10,50').split(',').map(Number);
	const concurrency = Number(argument('concurrency', '8'));
	const rate = Number(argument('rate', '500'));
	const seconds = Number(argument('seconds', '10'));
	const save = argument('save', 'all');
	const n8nEnv = Object.fromEntries(
		argument('n8n-env', '')
			.split(',')
			.filter((setting) => setting.includes('='))
			.map((setting) => [setting.slice(0, setting.indexOf('=')), setting.slice(setting.indexOf('=') + 1)]),
	);
	if (!buildIsCurrent()) throw new Error('dist/ is older than the sources: run `npm run build` first (the bench installs the packed package into n8n).');

	const stack = await startStack({ fast: true });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	let n8n: RunningN8n | undefined;
	try {
		const owner = await createAuthUser(stack.dbUrl, `bench-inbound-${randomUUID()}@leadflow.bench`);
		const pageId = '104857600088001';
		await db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $2)', [pageId, owner]);
		n8n = await startN8n({
			workflows: [workflow, baseline],
			publish: [WORKFLOW_ID, BASELINE_ID],
			credentials: {
				leadflowFacebookPageApi: { pageId, accessToken: 'unused', appSecret: APP_SECRET, appId: APP_ID, verifyToken: 'unused', baseUrl: 'http://127.0.0.1:9' },
				leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
			},
			env: { ...(save === 'none' ? { EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'none' } : {}), ...n8nEnv },
		});
		for (;;) {
			const probe = await fetch(`${n8n.baseUrl}/webhook/${PATH}`, { method: 'PUT' }).then((r) => r.text()).catch(() => '');
			if (/GET or POST/.test(probe)) break;
			await sleep(200);
		}

		let person = 0;
		let message = 0;
		const delivery = (size: number) => {
			const now = Date.now();
			const events = Array.from({ length: size }, () =>
				messengerEvents.message(pageId, { psid: String(9_000_000_000 + (person++ % 2000)), mid: `m_bench_${++message}_${randomUUID().slice(0, 8)}`, text: 'How much is it?', timestamp: now }),
			);
			return JSON.stringify(messengerDelivery([{ pageId, events }]));
		};
		// Warm-up: n8n's first executions, supabase-js's first calls.
		for (let n = 0; n < 20; n++) await post(n8n, delivery(5), 5);

		console.log(`messenger-inbound: real n8n, trigger → No Operation, executions saved: ${save}${Object.keys(n8nEnv).length ? `, ${Object.entries(n8nEnv).map(([name, value]) => `${name}=${value}`).join(', ')}` : ''} (load average ${loadavg()[0].toFixed(1)} on this machine)`);
		for (const size of sizes) {
			const deliveries = Array.from({ length: Math.ceil(totalEvents / size) }, () => delivery(size));
			const before = Number((await db.query('select count(*) from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1', [pageId])).rows[0].count);
			const answers: Sent[] = [];
			let next = 0;
			const started = performance.now();
			await Promise.all(
				Array.from({ length: concurrency }, async () => {
					while (next < deliveries.length) {
						const raw = deliveries[next++];
						answers.push(await post(n8n as RunningN8n, raw, size));
					}
				}),
			);
			const wall = (performance.now() - started) / 1000;
			const events = deliveries.length * size;
			const after = Number((await db.query('select count(*) from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1', [pageId])).rows[0].count);
			const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
			const refused = answers.filter((answer) => answer.status !== 200).length;
			console.log(
				`  throughput, ${size} event(s) a delivery, ${concurrency} in flight: ${events} events in ${wall.toFixed(1)} s = ${(events / wall).toFixed(0)} events/s ` +
					`(${(deliveries.length / wall).toFixed(0)} deliveries/s); answers p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms; ` +
					`non-200: ${refused}; recorded ${after - before} of ${events}`,
			);
		}

		// For scale: n8n alone (its Webhook node), and the database call alone (no n8n).
		{
			const size = 10;
			const deliveries = Array.from({ length: Math.ceil(totalEvents / size) }, () => delivery(size));
			const answers: Sent[] = [];
			let next = 0;
			const started = performance.now();
			await Promise.all(
				Array.from({ length: concurrency }, async () => {
					while (next < deliveries.length) answers.push(await post(n8n as RunningN8n, deliveries[next++], size, BASELINE_PATH));
				}),
			);
			const wall = (performance.now() - started) / 1000;
			const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
			console.log(`  n8n alone (its Webhook node → No Operation), 10 events a delivery: ${(deliveries.length / wall).toFixed(0)} deliveries/s; answers p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms`);
		}
		{
			const size = 10;
			const calls = Array.from({ length: Math.ceil(totalEvents / size) }, () => (JSON.parse(delivery(size)).entry[0].messaging as Array<{ sender: { id: string }; timestamp: number; message: { mid: string; text: string } }>).map((event) => ({
				type: 'message', page_id: pageId, psid: event.sender.id, mid: event.message.mid, text: event.message.text, timestamp: event.timestamp,
			})));
			const times: number[] = [];
			let next = 0;
			const started = performance.now();
			await Promise.all(
				Array.from({ length: concurrency }, async () => {
					while (next < calls.length) {
						const events = calls[next++];
						const callStarted = performance.now();
						const response = await fetch(`${stack.supabaseUrl}/rest/v1/rpc/messenger_record_events`, {
							method: 'POST',
							headers: { apikey: stack.serviceRoleKey, authorization: `Bearer ${stack.serviceRoleKey}`, 'content-type': 'application/json' },
							body: JSON.stringify({ p_events: events, p_app_id: APP_ID }),
						});
						if (!response.ok) throw new Error(`messenger_record_events: ${response.status} ${await response.text()}`);
						await response.arrayBuffer();
						times.push(performance.now() - callStarted);
					}
				}),
			);
			const wall = (performance.now() - started) / 1000;
			times.sort((a, b) => a - b);
			console.log(`  the database call alone (messenger_record_events over the Data API), 10 events a call: ${((calls.length * size) / wall).toFixed(0)} events/s; p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms`);
		}

		// Open loop: 10 events a delivery at `rate` events/s.
		const perDelivery = 10;
		const interval = (perDelivery / rate) * 1000;
		const count = Math.round((seconds * rate) / perDelivery);
		const deliveries = Array.from({ length: count }, () => delivery(perDelivery));
		const before = Number((await db.query('select count(*) from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1', [pageId])).rows[0].count);
		const pending: Array<Promise<Sent>> = [];
		const started = performance.now();
		for (let n = 0; n < count; n++) {
			const due = started + n * interval;
			const wait = due - performance.now();
			if (wait > 0) await sleep(wait);
			pending.push(post(n8n, deliveries[n], perDelivery));
		}
		const answers = await Promise.all(pending);
		const wall = (performance.now() - started) / 1000;
		const after = Number((await db.query('select count(*) from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1', [pageId])).rows[0].count);
		const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
		console.log(
			`  latency at ${rate} events/s (${(rate / perDelivery).toFixed(0)} deliveries/s of ${perDelivery}) for ${seconds} s: done in ${wall.toFixed(1)} s; answers p50 ${percentile(times, 50).toFixed(0)} ms, ` +
				`p95 ${percentile(times, 95).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms (target p99 ≤ 200 ms); ` +
				`non-200: ${answers.filter((answer) => answer.status !== 200).length}; recorded ${after - before} of ${count * perDelivery}`,
		);
		console.log(`  load average after: ${loadavg()[0].toFixed(1)}`);
	} finally {
		await n8n?.stop();
		await db.end();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
