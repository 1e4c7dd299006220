// The shipped campaign workflow in real n8n 2.41.1 (this package installed from its tarball):
// the example launch (test/helpers/campaign.ts) and its replay, two identical launches at the
// same moment, the webhook key, the stats path, and 211 generated malformed requests sent as raw
// bytes — every one 4xx, n8n still answering, and the owner's row counts in all eight tables
// unchanged; a launch and the stats while PostgREST answers 503 answer 500 {status, error, hint},
// and the launch sent again creates its sessions once.
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { rowCounts } from '../helpers/campaign-counts';
import { seedLaunch } from '../helpers/campaign';
import { malformedLaunches } from '../nodes/CampaignSessionCreate/malformed';
import { failingSupabase, POOL_TIMEOUT, type FailingSupabase } from '../workflows/support/failing-supabase';
import { startN8n, type RunningN8n } from './support';

const KEY = { name: 'X-Leadflow-Key', value: `e2e-${randomUUID()}` };
let n8n: RunningN8n;
let owner: string;
/** The stack's Supabase, whose campaign functions fail when told to. */
let supabase: FailingSupabase;
const headers = () => ({ [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner });

beforeAll(async () => {
	const stack = testStack();
	owner = await createTestUser('e2e-recruiter');
	supabase = await failingSupabase(['create_campaign_sessions', 'campaign_session_stats'], 503, POOL_TIMEOUT, 0);
	n8n = await startN8n({
		workflows: ['workflows/campaign-session-created.json'],
		credentials: { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: supabase.url, serviceRoleKey: stack.serviceRoleKey } },
	});
	process.stderr.write(`n8n answered its webhooks ${n8n.startSeconds.toFixed(1)} s after \`n8n start\`\n`);
}, 300_000);

afterAll(async () => {
	await n8n?.stop();
	await supabase?.stop();
});

/** Exactly these bytes, with exactly this content type (or none): what fetch cannot send. */
function postRaw(path: string, raw: string, contentType: string | undefined): Promise<{ statusCode: number; text: string }> {
	const url = new URL(`${n8n.baseUrl}/webhook/${path}`);
	const body = Buffer.from(raw, 'utf8');
	return new Promise((resolve, reject) => {
		const req = request(
			url,
			{ method: 'POST', headers: { ...headers(), ...(contentType ? { 'content-type': contentType } : {}), 'content-length': String(body.length) } },
			(res) => {
				const chunks: Buffer[] = [];
				res.on('data', (chunk: Buffer) => chunks.push(chunk));
				res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
				res.on('error', reject);
			},
		);
		req.on('error', reject);
		req.end(body);
	});
}


const sessionCount = (campaign: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ n: string }>(
			'select count(*) n from public.session_info s join public.campaign_info c on c.id = s.campaign_id where c.name_uid = $1',
			[campaign],
		);
		return Number(rows[0].n);
	});

test('the example launch creates its sessions (201); the same POST again creates none', async () => {
	const body = seedLaunch();
	const first = await n8n.callWebhook('session-created', { method: 'POST', headers: headers(), body });
	expect(first.statusCode).toBe(201);
	expect(first.body).toMatchObject({ campaign: body.campaign, created: 3, existing: 0, dropped: [] });
	const again = await n8n.callWebhook('session-created', { method: 'POST', headers: headers(), body });
	expect(again.statusCode).toBe(201);
	// Within the hour (Re-Emit After) the replay hands nothing to the outreach: every session was handed out by the first.
	expect(again.body).toMatchObject({ created: 0, existing: 3, emitted: 0, already_emitted: 3 });
	expect((again.body as { sessions: unknown[] }).sessions).toEqual(
		(first.body as { sessions: Array<Record<string, unknown>> }).sessions.map((s) => ({ ...s, created: false, emitted: false })),
	);
	expect(await sessionCount(body.campaign)).toBe(3);
});

test('two identical launches at the same moment create one set of sessions', async () => {
	for (const withKey of [false, true]) {
		const body = { ...seedLaunch(), tasks: Array.from({ length: 300 }, (_, i) => ({ phone_number: `+447853${String(100_000 + i).padStart(6, '0')}` })) };
		const extra: Record<string, string> = withKey ? { 'Idempotency-Key': randomUUID() } : {};
		const answers = await Promise.all([1, 2].map(() => n8n.callWebhook('session-created', { method: 'POST', headers: { ...headers(), ...extra }, body })));
		expect(answers.map((a) => a.statusCode)).toEqual([201, 201]);
		expect(answers.map((a) => (a.body as { created: number }).created).sort()).toEqual([0, 300]);
		// Each session handed to the outreach once, by one of the two.
		expect(answers.map((a) => (a.body as { emitted: number }).emitted).sort()).toEqual([0, 300]);
		expect(await sessionCount(body.campaign)).toBe(300);
	}
});

test('without the webhook key n8n refuses with 403 and nothing is written', async () => {
	const body = seedLaunch();
	const answer = await n8n.callWebhook('session-created', { method: 'POST', headers: { 'X-Leadflow-Owner': owner }, body });
	expect(answer.statusCode).toBe(403);
	expect(await sessionCount(body.campaign)).toBe(0);
});

test('GET /webhook/campaigns/:campaignId/stats answers the live numbers', async () => {
	const body = seedLaunch();
	await n8n.callWebhook('session-created', { method: 'POST', headers: headers(), body });
	const stats = await n8n.callWebhook(`campaigns/${body.campaign}/stats`, { headers: headers() });
	expect(stats.statusCode).toBe(200);
	expect(stats.body).toMatchObject({ campaign: { id: body.campaign }, sessions: 3, contacted: 0, statuses: { pending: 3 }, messages: { total: 0 } });
	const unknown = await n8n.callWebhook('campaigns/nobody_abcdef123/stats', { headers: headers() });
	expect(unknown.statusCode).toBe(404);
});

test('a launch and the stats while PostgREST answers 503 answer 500 {status, error, hint}, not "Error in workflow"; the launch sent again creates its sessions once', async () => {
	const body = seedLaunch();
	const key = randomUUID();
	supabase.failNext(1);
	const failed = await n8n.callWebhook('session-created', { method: 'POST', headers: { ...headers(), 'Idempotency-Key': key }, body });
	expect(failed.statusCode).toBe(500);
	expect(failed.body).toEqual({
		status: 500,
		error: 'create_campaign_sessions failed: Timed out acquiring connection from connection pool.',
		hint: expect.stringContaining('send the same request again (the same Idempotency-Key)'),
	});
	expect(await sessionCount(body.campaign)).toBe(0);
	const retried = await n8n.callWebhook('session-created', { method: 'POST', headers: { ...headers(), 'Idempotency-Key': key }, body });
	expect(retried.statusCode).toBe(201);
	expect(retried.body).toMatchObject({ created: 3, emitted: 3 });

	supabase.failNext(1);
	const stats = await n8n.callWebhook(`campaigns/${body.campaign}/stats`, { headers: headers() });
	expect(stats.statusCode).toBe(500);
	expect(stats.body).toEqual({ status: 500, error: 'campaign_session_stats failed: Timed out acquiring connection from connection pool.', hint: expect.stringContaining('ask for the stats again') });
});

test('211 malformed launches: every one 4xx, n8n still answering, the row counts unchanged', async () => {
	const cases = malformedLaunches();
	expect(cases.length).toBeGreaterThanOrEqual(200);
	// Every request names `owner`, so anything written would be that owner's; other test files may
	// be writing other owners' rows at the same time.
	const before = await rowCounts(owner);
	const outcomes: Array<{ label: string; statusCode: number; listed: boolean; text: string; unparseable: boolean; stack: boolean }> = [];
	for (const one of cases) {
		const answer = await postRaw('session-created', one.raw, one.contentType);
		let listed = false;
		try {
			const parsed = JSON.parse(answer.text) as { problems?: unknown[] };
			listed = Array.isArray(parsed.problems) && parsed.problems.length > 0;
		} catch {
			listed = false;
		}
		outcomes.push({ label: one.label, statusCode: answer.statusCode, listed, text: answer.text.slice(0, 160), unparseable: one.unparseable === true, stack: /stacktrace|\n\s+at /i.test(answer.text) });
	}
	const not4xx = outcomes.filter((o) => o.statusCode < 400 || o.statusCode >= 500);
	const unlisted = outcomes.filter((o) => !o.listed);
	process.stderr.write(
		`malformed: ${outcomes.length} sent; status codes ${JSON.stringify(countBy(outcomes.map((o) => o.statusCode)))}; ` +
			`${outcomes.length - unlisted.length} with a problems list\n` +
			unlisted.map((o) => `  no problems list: ${o.label} → ${o.statusCode} ${o.text}\n`).join(''),
	);
	expect(not4xx.map((o) => `${o.label}: ${o.statusCode} ${o.text}`)).toEqual([]);
	// Bytes that are not JSON never reach the workflow: n8n's body parser answers 422 with its reason.
	expect(unlisted.filter((o) => !o.unparseable).map((o) => o.label)).toEqual([]);
	// No answer carries a stack trace, n8n's own included (it adds one unless NODE_ENV=production).
	expect(outcomes.filter((o) => o.stack).map((o) => o.label)).toEqual([]);
	for (const o of outcomes.filter((one) => one.unparseable)) {
		expect([o.label, o.statusCode, o.text]).toEqual([o.label, 422, expect.stringContaining('Failed to parse request body')]);
	}
	expect(await rowCounts(owner)).toEqual(before);

	const alive = await n8n.callWebhook('session-created', { method: 'POST', headers: headers(), body: seedLaunch() });
	expect(alive.statusCode).toBe(201);
}, 600_000);

function countBy(values: number[]): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
	return counts;
}
