// workflows/leadflow-console.json through n8n's engine in-process against the local stack: the page
// is public and holds no data or key; the JSON endpoints answer only with the webhook key (403
// without, and nothing runs), their numbers are the database's, and bad input is a 400 naming it,
// with the node's hint: what to do.
import { randomUUID } from 'node:crypto';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient, testStack } from '../helpers/stack';
import { createWorld } from '../db/follow-up/fixtures';
import { buildConsole } from '../../scripts/build-console';

const WORKFLOW = 'workflows/leadflow-console.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;

beforeAll(() => {
	buildConsole();
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
});

const call = (startNode: string, query: Record<string, string | string[]>, headers: Record<string, string> = { [KEY.name]: KEY.value }) =>
	runWorkflow(WORKFLOW, { startNode, webhook: { method: 'GET', headers, query }, credentials });

test('the page is HTML with its script inlined, and holds no key or data', async () => {
	const result = await call('Console Page Request', {}, {});
	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	expect(String(result.response?.headers?.['content-type'] ?? '')).toMatch(/^text\/html/);
	const html = String(result.response?.body);
	expect(html).toMatch(/^<!doctype html>/);
	expect(html).toContain('id="panel-followups"');
	expect(html).not.toContain('/*CONSOLE_JS*/');
	expect(html).not.toContain(KEY.value);
	// No request leaves the instance: no absolute URL to load anything from.
	expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
});

test('the monitor answers the database\'s numbers for a rule, a page at a time', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Console workflow rule' });
	await world.contacts(3, { name: 'Due Person' });
	await world.contacts(2, { name: 'Late Person', lastMessageHoursAgo: 30 });

	// The workflow judges at the database's clock: compare with the same call (the instant the rule's
	// hours open again moves with that clock).
	const result = await call('Monitor Request', { ruleId, limit: '2' });
	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as { rule: { id: string }; stats: Record<string, unknown>; contacts: { total: number; rows: unknown[] } };
	const { data } = await serviceClient().rpc('automation_monitor_page', { p_rule_id: ruleId, p_limit: 2 });
	expect(body.rule.id).toBe(ruleId);
	const withoutClock = (stats: Record<string, unknown>) => ({ ...stats, next_active_at: undefined });
	expect(withoutClock(body.stats)).toEqual(withoutClock(data.stats));
	expect(body.stats.total_with_tags).toBe(5);
	expect(body.contacts.total).toBe(5);
	expect(body.contacts.rows).toHaveLength(2);
});

test('without the key, or with a wrong one, n8n refuses (403) and nothing runs', async () => {
	for (const headers of [{}, { [KEY.name]: 'guess' }]) {
		const monitor = await call('Monitor Request', {}, headers);
		expect(monitor.response?.statusCode).toBe(403);
		expect(monitor.executedNodes).toEqual([]);
		const timeline = await call('Timeline Request', {}, headers);
		expect(timeline.response?.statusCode).toBe(403);
		expect(timeline.executedNodes).toEqual([]);
	}
});

test.each([
	// Every refusal of a parameter names its field (`field`): an id that is not a UUID, a status, a page size, a reason.
	[{ ruleId: 'rule-1' }, /rule ID "rule-1" is not a UUID/, 'Use the id of a rule from the answer\'s rules list, or leave ruleId out for the list only.', 'ruleId'],
	[{ status: 'sent' }, /status "sent" is not one of/, 'Leave status out for every status.', 'status'],
	[{ limit: '501' }, /page size \(limit\) must be a whole number from 1 to 500/, 'Pass limit=50 or another whole number in that range.', 'limit'],
	[{ offset: '-3' }, /offset must be a whole number/, 'Pass offset=0 or another whole number in that range.', 'offset'],
	[{ reason: 'Not-A-Code' }, /reason "Not-A-Code" is not a reason code/, 'Use a key of stats.skipped_by_reason, or leave reason out.', 'reason'],
])('bad input %j answers 400 naming it, with what to do', async (query, message, hint, field) => {
	const result = await call('Monitor Request', query);
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual({ status: 400, error: expect.stringMatching(message), field, hint });
});

test('a rule that does not exist (e.g. deleted in another tab) answers 404 naming it, not a 400', async () => {
	const result = await call('Monitor Request', { ruleId: '00000000-0000-4000-8000-000000000000' });
	expect(result.response?.statusCode).toBe(404);
	expect(result.response?.body).toEqual({
		status: 404,
		error: expect.stringMatching(/no automation rule with ID 00000000-0000-4000-8000-000000000000/),
		hint: 'Pick a rule from the answer\'s rules list (ask without ruleId).',
	});
});

test('the timeline answers a contact\'s stage events; a bad contact id is a 400', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Timeline rule' });
	const [contact] = await world.contacts(1, { name: 'Never Run' });
	const empty = await call('Timeline Request', { ruleId, conversationId: contact });
	expect(empty.response?.statusCode).toBe(200);
	expect(empty.response?.body).toEqual({ events: [] });
	const bad = await call('Timeline Request', { ruleId, conversationId: 'nope' });
	expect(bad.response?.statusCode).toBe(400);
	expect(bad.response?.body).toEqual({ status: 400, error: expect.stringMatching(/conversation ID "nope" is not a UUID/), field: 'conversationId', hint: 'Use the conversation ID from the monitor\'s answer.' });
});

// Before, textParameter read String(value): ?search[]=a&search[]=b searched "a,b" and
// offsets[]=<stage>:20 passed as one pair.
test('a text parameter sent as a list (search[]=…, status[]=…, offsets[]=…, known[]=…) is a 400 naming it, never read as its joined text', async () => {
	const world = await createWorld();
	const cases: [string, Record<string, string | string[]>, string][] = [
		['Monitor Request', { search: ['a', 'b'] }, 'search'],
		['Monitor Request', { status: ['due'] }, 'status'],
		['Queue Request', { userId: world.userId, search: ['a', 'b'] }, 'search'],
		['Pipeline Request', { search: ['a', 'b'] }, 'search'],
		['Pipeline Request', { pipelineId: randomUUID(), offsets: [`${randomUUID()}:20`] }, 'offsets'],
		['Pipeline Request', { known: ['0123456789abcdef0123456789abcdef'] }, 'known'],
	];
	for (const [startNode, query, field] of cases) {
		const result = await call(startNode, query);
		const got = Array.isArray(query[field]) ? `an array of ${query[field].length}` : '';
		expect({ startNode, query, status: result.response?.statusCode, body: result.response?.body }).toEqual({
			startNode,
			query,
			status: 400,
			body: { status: 400, error: `${field} must be text, and got ${got}`, field, hint: `Send ${field} once, as text (?${field}=… in a query, "${field}": "…" in a JSON body), not a list, object, number, true or false.` },
		});
	}
});

test('an ID sent as a list (ruleId[]=…, userId[]=…) is a 400 naming the field, never read as the id it holds or as not given', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Listed id rule' });
	const [contact] = await world.contacts(1, { name: 'Listed Person' });
	const owner = randomUUID();
	const cases: [string, Record<string, string | string[]>, string][] = [
		['Monitor Request', { ruleId: [ruleId] }, 'ruleId'],
		['Timeline Request', { ruleId: [ruleId], conversationId: contact }, 'ruleId'],
		['Timeline Request', { ruleId, conversationId: [contact] }, 'conversationId'],
		['Queue Request', { userId: [owner] }, 'userId'],
		['Pipeline Request', { pipelineId: [randomUUID()] }, 'pipelineId'],
	];
	for (const [startNode, query, field] of cases) {
		const result = await call(startNode, query);
		expect({ startNode, query, status: result.response?.statusCode, body: result.response?.body }).toEqual({
			startNode,
			query,
			status: 400,
			body: { status: 400, error: expect.stringMatching(new RegExp(`\\(${field}\\) must be one UUID as text, and got an array of 1$`)), field, hint: expect.stringMatching(new RegExp(`^Send ${field} once, as one UUID in text \\(\\?${field}=<id> in a query, `)) },
		});
	}
});
