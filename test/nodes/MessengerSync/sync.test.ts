// Leadflow Messenger Sync in n8n's engine against the local stack and the Graph simulator's
// Conversations endpoint: pages read with their cursors and recorded, the progress row, a sync that
// stopped after page 2 resumed at page 3, a second sync reading only what changed (the last sync's
// newest second included), long conversations read from their own edge, a long conversation a full
// sync skipped (it moved to the top meanwhile) read whole by the next, a page of more than 10,000
// messages recorded in parts and counted once, throttling that backs off and completes, the Page's
// rate kept, a refused token stopping with a credential error, a conversation whose messages Graph
// refuses for it alone counted, named and left unread while the others are imported, Graph's paging
// followed by its next link (an empty page too) and never read for ever. The rate and the backoffs are judged by when the calls reach the
// Graph simulator, as Facebook judges them: the file runs alone on the machine, the simulators in
// processes of their own (test/helpers/quiet-machine.ts, test/helpers/simulators-process.ts).
import { randomUUID } from 'node:crypto';
import type { IDataObject, INode, INodeParameters } from 'n8n-workflow';
import type { ConversationInput, LoggedRequest, RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { runsAlone } from '../../helpers/quiet-machine';
import { startSimulatorsProcess } from '../../helpers/simulators-process';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { createWorld } from '../../db/follow-up/fixtures';
import { connectPage, counts } from '../../db/messenger/fixtures';

// Judges when requests arrive: alone on the machine (see the helper).
runsAlone();

const TOKEN = 'sync-page-token';
let sims: RunningSimulators;

beforeAll(async () => {
	// In a process of their own: the arrival times they log are what this file judges (see the helper).
	sims = await startSimulatorsProcess();
});
afterAll(async () => {
	await sims.stop();
});
beforeEach(async () => {
	await sims.graph.control.reset();
	await sims.graph.control.setConversationRate(0);
});

function workflow(parameters: INodeParameters): WorkflowJson {
	const start: INode = { id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
	const sync: INode = {
		id: 'sync',
		name: 'Messenger Sync',
		type: 'n8n-nodes-leadflow.messengerSync',
		typeVersion: 1,
		position: [240, 0],
		parameters,
		credentials: { leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' }, leadflowSupabaseApi: { id: 'sb', name: 'Supabase' } },
	};
	return { name: 'Messenger Sync test', nodes: [start, sync], connections: { Start: { main: [[{ node: 'Messenger Sync', type: 'main', index: 0 }]] } } };
}

const fast = { requestsPerSecond: 50, backoffMs: 20, timeoutMs: 2000 };

async function runSync(pageId: string, options: INodeParameters = {}, parameters: INodeParameters = {}, token = TOKEN) {
	const stack = testStack();
	const result = await runWorkflow(workflow({ mode: 'incremental', options: { ...fast, ...options }, ...parameters }), {
		credentials: {
			leadflowFacebookPageApi: { pageId, accessToken: token, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		},
	});
	return { result, output: result.nodeOutputs['Messenger Sync']?.[0] as IDataObject | undefined };
}

const conversationCalls = async (): Promise<LoggedRequest[]> => (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/conversations'));

let psid = 8_100_000_000 + (Date.now() % 1_000_000) * 100;

/** Conversations updated `hoursAgo` before now, each with its messages (person first, the Page answering). */
function conversation(hoursAgo: number, messages = 3, name = 'Ana Souza'): ConversationInput {
	// Graph's times are whole seconds.
	const updated = Math.floor((Date.now() - hoursAgo * 3_600_000) / 1000) * 1000;
	const id = String(++psid);
	return {
		psid: id,
		name,
		updatedTime: updated,
		messages: Array.from({ length: messages }, (_, k) => ({ id: `m_sync_${id}_${k}`, text: `message ${k}`, from: k % 2 === 0 ? 'person' : 'page', createdTime: updated - (messages - 1 - k) * 60_000 })),
	};
}

async function connected() {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	return world;
}

test('reads the Page page by page with the cursors, records every conversation and message once, and reports the job', async () => {
	const world = await connected();
	const input = [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5)];
	await sims.graph.control.addConversations(world.pageId, input);

	const { result, output } = await runSync(world.pageId, { pageSize: 2 });
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', resumed: false, since: null, pages_read: 3, conversations: 5, messages: 15, duplicates: 0, errors: 0 });
	const calls = await conversationCalls();
	expect(calls.map((call) => call.query.after ?? null)).toEqual([null, expect.any(String), expect.any(String)]);
	expect(calls[0].query).toMatchObject({ platform: 'messenger', limit: '2', fields: 'participants,updated_time,messages.limit(100){id,message,from,to,created_time}' });

	const stored = await withDb((db) =>
		db.query<{ sender_id: string; sender_name: string; inbound: number; outbound: number; last_customer_message_at: Date }>(
			`select c.sender_id, c.sender_name, c.last_customer_message_at,
			        count(*) filter (where m.direction = 'inbound')::int as inbound, count(*) filter (where m.direction = 'outbound')::int as outbound
			   from public.messenger_conversations c join public.messenger_messages m on m.conversation_id = c.id
			  where c.page_id = $1 group by c.id order by c.sender_id`,
			[world.pageId],
		),
	);
	expect(stored.rows.map((row) => [row.sender_id, row.sender_name, row.inbound, row.outbound])).toEqual(input.map((c) => [c.psid, 'Ana Souza', 2, 1]));
	// The window is the person's last message (the first and third of each conversation are theirs).
	expect(stored.rows[0].last_customer_message_at.getTime()).toBe(input[0].updatedTime);
	expect((await counts(world.pageId)).stops).toBe(0);
});

test('a sync stopped by an error after page 2 is resumed at page 3 by the next run; nothing is recorded twice', async () => {
	const world = await connected();
	// Page 3 (conversations 5 and 6) holds a conversation longer than the expansion: its own
	// messages edge fails with Facebook's temporary error, and this run has no retries.
	const input = [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5, 5), conversation(6)];
	await sims.graph.control.addConversations(world.pageId, input);
	await sims.graph.control.addFault({ match: { path: `t_${world.pageId}_${input[4].psid}/messages` }, trigger: { mode: 'always' }, effect: { kind: 'graphError', code: 2 } });

	const stopped = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 0 });
	expect(stopped.result.error?.message).toMatch(/Facebook kept refusing after 1 tries \(Graph 2/);
	expect(stopped.result.error?.description).toMatch(/stopped at page 3; the next sync of the Page resumes there/);
	const job = await withDb((db) => db.query('select status, pages_read, cursor, errors, last_error from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([expect.objectContaining({ status: 'failed', pages_read: 2, errors: 1, last_error: expect.stringContaining('Graph 2') })]);
	const calls = await conversationCalls();
	expect(calls).toHaveLength(3);
	expect(calls[2].query.after).toBe(job.rows[0].cursor);
	expect((await counts(world.pageId)).messages).toBe(12);

	await sims.graph.control.clearFaults();
	await sims.graph.control.clearRequests();
	const resumed = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3 });
	expect(resumed.output).toMatchObject({ status: 'completed', resumed: true, pages_read: 3, conversations: 6, messages: 20, duplicates: 0, errors: 1 });
	const again = await conversationCalls();
	expect(again.map((call) => call.query.after)).toEqual([job.rows[0].cursor]);
	expect((await counts(world.pageId)).messages).toBe(20);
});

test('a page of more than 10,000 messages (recorded in two database calls) counts as one page read: in the output, the job row, and where a stopped sync says it stopped', async () => {
	const world = await connected();
	// One conversation a call: page 1 is a conversation of 10,001 messages (two calls of at most
	// 10,000 events), page 2 a short one, whose list call (the one with a cursor) fails and is not retried.
	const input = [conversation(1, 10_001), conversation(2)];
	await sims.graph.control.addConversations(world.pageId, input);
	await sims.graph.control.addFault({ match: { path: `${world.pageId}/conversations`, param: 'after' }, trigger: { mode: 'always' }, effect: { kind: 'graphError', code: 2 } });
	const options = { pageSize: 1, requestsPerSecond: 100, maxRetries: 0 };

	const stopped = await runSync(world.pageId, options, { mode: 'full' });
	expect(stopped.result.error?.description).toMatch(/stopped at page 2; the next sync of the Page resumes there/);
	const job = await withDb((db) => db.query('select status, pages_read, conversations, messages from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([{ status: 'failed', pages_read: 1, conversations: 1, messages: 10_001 }]);

	await sims.graph.control.clearFaults();
	await sims.graph.control.clearRequests();
	const resumed = await runSync(world.pageId, options);
	expect(resumed.output).toMatchObject({ status: 'completed', resumed: true, pages_read: 2, conversations: 2, messages: 10_004, duplicates: 0 });
	expect(await conversationCalls()).toHaveLength(1);
}, 60_000);

test('a failed job whose cursor Graph no longer accepts (#100) starts again from the first page with its since, and completes; nothing is recorded twice', async () => {
	const world = await connected();
	const input = [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5)];
	await sims.graph.control.addConversations(world.pageId, input);
	await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 2 } });
	// The first call fails (Facebook's temporary error, no retries): the job is failed, to be resumed.
	const first = await runSync(world.pageId, { pageSize: 2, maxRetries: 0 });
	expect(first.output).toBeUndefined();
	await sims.graph.control.clearFaults();
	// The failed job's cursor is one Graph has since invalidated (its conversation deleted, or kept too long).
	await withDb((db) => db.query(`update public.messenger_sync_jobs set cursor = 'no-longer-valid' where page_id = $1 and status = 'failed'`, [world.pageId]));
	await sims.graph.control.clearRequests();

	const resumed = await runSync(world.pageId, { pageSize: 2 });
	expect(resumed.result.error).toBeUndefined();
	expect(resumed.output).toMatchObject({ status: 'completed', resumed: true, since: null, conversations: 5, messages: 15 });
	expect(resumed.output?.this_run).toMatchObject({ restarted_from_first_page: true });
	const calls = await conversationCalls();
	// Graph answers the bad cursor with (#100) The after cursor is not valid (HTTP 400).
	expect(calls.map((call) => [call.status, call.query.after ?? null])).toEqual([
		[400, 'no-longer-valid'],
		[200, null],
		[200, expect.any(String)],
		[200, expect.any(String)],
	]);
	expect((await counts(world.pageId)).messages).toBe(15);
});

test('a cursor refused again after the restart (once a run) fails the job saying so, and what the next sync does; the next sync resumes at the cursor it stopped at', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5)]);
	await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 2 } });
	await runSync(world.pageId, { pageSize: 2, maxRetries: 0 });
	await withDb((db) => db.query(`update public.messenger_sync_jobs set cursor = 'no-longer-valid' where page_id = $1 and status = 'failed'`, [world.pageId]));
	// Every page read with a cursor is refused this time: the job's, then page 2's after the restart.
	await sims.graph.control.clearFaults();
	await sims.graph.control.addFault({ match: { path: '/conversations', param: 'after' }, effect: { kind: 'graphError', code: 100, message: '(#100) The after cursor is not valid' } });
	await sims.graph.control.clearRequests();

	const refused = await runSync(world.pageId, { pageSize: 2 });
	expect(refused.result.error?.message).toBe('Facebook refused the Conversations cursor again after this run started over from the first page (Graph 100: (#100) The after cursor is not valid)');
	expect(refused.result.error?.description).toBe(
		'The sync stopped at page 2 counted from the first page. The next sync of the Page tries the cursor it stopped at and, if Facebook refuses it, reads the job again from the first page (messages already recorded come back as duplicates).',
	);
	expect((await conversationCalls()).map((call) => call.query.after ?? null)).toEqual(['no-longer-valid', null, expect.any(String)]);
	const job = await withDb((db) => db.query(`select status, pages_read, cursor from public.messenger_sync_jobs where page_id = $1 and status = 'failed'`, [world.pageId]));
	expect(job.rows).toEqual([{ status: 'failed', pages_read: 1, cursor: expect.any(String) }]);

	await sims.graph.control.clearFaults();
	await sims.graph.control.clearRequests();
	const next = await runSync(world.pageId, { pageSize: 2 });
	expect(next.output).toMatchObject({ status: 'completed', resumed: true, conversations: 5, messages: 15 });
	expect((await conversationCalls()).map((call) => call.query.after ?? null)).toEqual([job.rows[0].cursor, expect.any(String)]);
	expect((await counts(world.pageId)).messages).toBe(15);
});

test('a second sync reads only what changed since the first', async () => {
	const world = await connected();
	const old = [conversation(5), conversation(6), conversation(7), conversation(8)];
	await sims.graph.control.addConversations(world.pageId, old);
	expect((await runSync(world.pageId, { pageSize: 2 })).output).toMatchObject({ status: 'completed', conversations: 4, messages: 12 });

	// One person wrote again (their conversation moves to the top) and someone new wrote.
	const again = { ...old[2], updatedTime: Date.now() - 60_000, messages: [...old[2].messages, { id: `m_sync_${old[2].psid}_new`, text: 'Still available?', from: 'person' as const, createdTime: Date.now() - 60_000 }] };
	const fresh = conversation(0.5);
	await sims.graph.control.addConversations(world.pageId, [again, fresh]);
	await sims.graph.control.clearRequests();

	const second = await runSync(world.pageId, { pageSize: 2 });
	// The two changed conversations, and the first sync's newest one again (its second is read again:
	// Graph's times are whole seconds), then the next is older: only two pages were read.
	expect(second.output).toMatchObject({ status: 'completed', resumed: false, since: expect.any(String), pages_read: 2, conversations: 3 });
	expect((await conversationCalls()).length).toBe(2);
	expect(second.output).toMatchObject({ messages: 4, duplicates: 3 + 3 });
	expect((await counts(world.pageId)).messages).toBe(12 + 4);
});

test('an incremental sync reads what changed in the second of the last sync’s newest conversation (Graph’s times are whole seconds)', async () => {
	const world = await connected();
	type Message = ConversationInput['messages'][number];
	// A whole second a minute ago: Ana's conversation, updated in it, read whole by a full sync.
	const second = Math.floor((Date.now() - 60_000) / 1000) * 1000;
	const ana = String(++psid);
	const asked: Message = { id: `m_tie_${ana}_1`, text: 'Is it still available?', from: 'person', createdTime: second - 60_000 };
	const answered: Message = { id: `m_tie_${ana}_2`, text: 'Yes!', from: 'page', createdTime: second };
	await sims.graph.control.addConversations(world.pageId, [{ psid: ana, name: 'Ana Souza', updatedTime: second, messages: [answered, asked] }]);
	expect((await runSync(world.pageId, { messagesPerConversation: 1 }, { mode: 'full' })).output).toMatchObject({ status: 'completed', conversations: 1, messages: 2 });

	// Later in that same second (Graph still shows it): Ana writes again, and Bruno writes for the
	// first time. Ana's messages of that second come in the order given, the one recorded first, so
	// her newest page of one message holds only a message recorded already.
	const again: Message = { id: `m_tie_${ana}_3`, text: 'How much is it?', from: 'person', createdTime: second };
	const bruno = String(++psid);
	await sims.graph.control.addConversations(world.pageId, [
		{ psid: ana, name: 'Ana Souza', updatedTime: second, messages: [answered, again, asked] },
		{ psid: bruno, name: 'Bruno Lima', updatedTime: second, messages: [{ id: `m_tie_${bruno}_1`, text: 'Hello', from: 'person', createdTime: second }] },
	]);
	const { output } = await runSync(world.pageId, { messagesPerConversation: 1 });
	expect(output).toMatchObject({ status: 'completed', conversations: 2, messages: 2, duplicates: 2 });
	const stored = await withDb((db) =>
		db.query<{ sender_id: string; facebook_message_id: string }>(
			'select c.sender_id, m.facebook_message_id from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1 order by 2',
			[world.pageId],
		),
	);
	expect(stored.rows).toEqual([
		{ sender_id: ana, facebook_message_id: `m_tie_${ana}_1` },
		{ sender_id: ana, facebook_message_id: `m_tie_${ana}_2` },
		{ sender_id: ana, facebook_message_id: `m_tie_${ana}_3` },
		{ sender_id: bruno, facebook_message_id: `m_tie_${bruno}_1` },
	]);
});

test('a conversation longer than the expansion: its older messages come from its own edge, every one recorded', async () => {
	const world = await connected();
	const long = conversation(1, 7);
	await sims.graph.control.addConversations(world.pageId, [long, conversation(2, 2)]);
	const { output } = await runSync(world.pageId, { messagesPerConversation: 3 });
	expect(output).toMatchObject({ status: 'completed', conversations: 2, messages: 9 });
	const edgeCalls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'));
	expect(edgeCalls.map((call) => [call.path, call.query.limit])).toEqual([
		[`/v25.0/t_${world.pageId}_${long.psid}/messages`, '3'],
		[`/v25.0/t_${world.pageId}_${long.psid}/messages`, '3'],
	]);
});

test('throttling mid-sync (613, then the Page’s own rate: 32) backs off and completes', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, Array.from({ length: 8 }, (_, n) => conversation(n + 1, 1)));
	await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 2 }, effect: { kind: 'graphError', code: 613 } });
	// The simulator allows 4 calls a second; the node is set to 20: Facebook refuses the excess with 32.
	await sims.graph.control.setConversationRate(4);
	const { result, output } = await runSync(world.pageId, { pageSize: 1, requestsPerSecond: 20, backoffMs: 100, maxRetries: 8 });
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', conversations: 8, messages: 8, pages_read: 8 });
	const run = output?.this_run as IDataObject;
	expect(run.throttled).toBeGreaterThanOrEqual(3);
	expect(output?.errors).toBe(run.throttled);
	const stats = await sims.graph.control.conversationStats();
	expect(stats.throttled[world.pageId]).toBe((run.throttled as number) - 2);
});

test('the use-case limits a Page token meets (80001 Pages, then 80006 Messenger) back off, retry and the sync completes', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, [conversation(1), conversation(2), conversation(3)]);
	for (const code of [80001, 80006]) {
		await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code } });
	}
	const { result, output } = await runSync(world.pageId, { pageSize: 1, backoffMs: 200, maxRetries: 2 });
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', conversations: 3, messages: 9, pages_read: 3, errors: 2 });
	expect(output?.this_run).toMatchObject({ calls: 5, throttled: 2, retries: 2 });
	const calls = await conversationCalls();
	expect(calls.map((call) => [call.outcome, call.query.after ?? null])).toEqual([
		['fault', null],
		['fault', null],
		['answered', null],
		['answered', expect.any(String)],
		['answered', expect.any(String)],
	]);
	// Each retry waited out its backoff: 200 ms, then twice that.
	const at = calls.map((call) => Date.parse(call.receivedAt));
	expect(at[1] - at[0]).toBeGreaterThanOrEqual(200);
	expect(at[2] - at[1]).toBeGreaterThanOrEqual(400);
	const job = await withDb((db) => db.query('select status, errors from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([{ status: 'completed', errors: 2 }]);
});

test('at the Page’s rate (2 calls a second, the setting’s default) Facebook never throttles', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, Array.from({ length: 4 }, (_, n) => conversation(n + 1, 1)));
	await sims.graph.control.setConversationRate(2);
	const { output } = await runSync(world.pageId, { pageSize: 1, requestsPerSecond: 2 });
	expect(output).toMatchObject({ status: 'completed', conversations: 4, errors: 0 });
	const times = (await conversationCalls()).map((call) => Date.parse(call.receivedAt));
	expect(times).toHaveLength(4);
	for (let k = 2; k < times.length; k++) expect(times[k] - times[k - 2]).toBeGreaterThanOrEqual(1000);
	expect((await sims.graph.control.conversationStats()).throttled[world.pageId]).toBeUndefined();
});

test('a 2xx answer that is no list (a proxy’s page, other JSON) is no answer: retried, then the job fails saying so, never completed with the rest unread', async () => {
	const world = await connected();
	const long = conversation(2, 5);
	await sims.graph.control.addConversations(world.pageId, [conversation(1), long, conversation(3)]);
	// Once: retried, and the sync completes with everything.
	await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', body: '<html>Gateway says hi</html>' } });
	const retried = await runSync(world.pageId, { pageSize: 2, maxRetries: 1 }, { mode: 'full' });
	expect(retried.result.error).toBeUndefined();
	expect(retried.output).toMatchObject({ status: 'completed', conversations: 3, messages: 11, errors: 1 });
	expect(retried.output?.this_run).toMatchObject({ retries: 1 });

	// Always, on a long conversation's own edge: the job fails, its older messages not taken as none.
	await sims.graph.control.clearFaults();
	await sims.graph.control.addFault({ match: { path: `t_${world.pageId}_${long.psid}/messages` }, trigger: { mode: 'always' }, effect: { kind: 'answer', body: { something: 'else' } } });
	const edge = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 1 }, { mode: 'full' });
	expect(edge.result.error?.message).toBe('Facebook gave no usable answer after 2 tries (HTTP 200 without a list of messages (no data array))');
	let jobs = await withDb((db) => db.query(`select status, last_error from public.messenger_sync_jobs where page_id = $1 and status <> 'completed'`, [world.pageId]));
	expect(jobs.rows).toEqual([{ status: 'failed', last_error: edge.result.error?.message }]);

	// Always, on the list itself: the job fails; it is not completed as an empty list.
	await sims.graph.control.clearFaults();
	await sims.graph.control.addFault({ match: { path: '/conversations' }, trigger: { mode: 'always' }, effect: { kind: 'answer', body: { unexpected: true } } });
	const list = await runSync(world.pageId, { pageSize: 2, maxRetries: 1 }, { mode: 'full' });
	expect(list.result.error?.message).toBe('Facebook gave no usable answer after 2 tries (HTTP 200 without a list of conversations (no data array))');
	jobs = await withDb((db) => db.query(`select status from public.messenger_sync_jobs where page_id = $1 and status in ('running', 'failed')`, [world.pageId]));
	expect(jobs.rows).toEqual([{ status: 'failed' }]);
});

test('messages Graph gives that cannot be read (an id with a space, one too long, a conversation without its person) are not recorded and are counted in the errors, never silently dropped', async () => {
	const world = await connected();
	const fine = conversation(1);
	const odd = conversation(2);
	odd.messages[0] = { ...odd.messages[0], id: 'm with spaces' };
	odd.messages[1] = { ...odd.messages[1], id: `m_${'x'.repeat(600)}` };
	// The Page talking to itself: no participant but the Page, so no person to record its messages for.
	const alone = { ...conversation(3, 2), psid: world.pageId };
	await sims.graph.control.addConversations(world.pageId, [fine, odd, alone]);
	const { result, output } = await runSync(world.pageId);
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', conversations: 3, messages: 4, errors: 4 });
	expect(output?.this_run).toMatchObject({ unreadable_messages: 4 });
	const job = await withDb((db) => db.query('select status, errors from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([{ status: 'completed', errors: 4 }]);
	expect((await counts(world.pageId)).messages).toBe(4);
});

test('a conversation whose messages edge Graph refuses for good (100/33) is counted in the errors, named, and left unread: the others are imported, the job completes, and the next sync that lists it reads it whole', async () => {
	const world = await connected();
	// Three pages of two; page 1's second conversation is longer than the expansion (3 of its 7 messages).
	const input = [conversation(1), conversation(2, 7), conversation(3), conversation(4), conversation(5), conversation(6)];
	const refused = input[1];
	const thread = `t_${world.pageId}_${refused.psid}`;
	await sims.graph.control.addConversations(world.pageId, input);
	// Graph refuses that conversation's own messages edge, every time (the person's account is gone, say).
	const words = `Unsupported get request. Object with ID '${thread}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;
	await sims.graph.control.addFault({ match: { path: `${thread}/messages` }, trigger: { mode: 'always' }, effect: { kind: 'graphError', code: 100, subcode: 33, message: words } });

	const { result, output } = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 1 }, { mode: 'full' });
	expect(result.error).toBeUndefined();
	// Every conversation, each message the list gave (3 each), the refused one's newest 3 included; one error.
	expect(output).toMatchObject({ status: 'completed', pages_read: 3, conversations: 6, messages: 18, errors: 1 });
	expect((output?.this_run as IDataObject).refused_conversations).toEqual([{ conversation_id: thread, psid: refused.psid, error: `Graph 100/33: ${words}` }]);
	// Refused once, not retried (it is no throttle), and the other pages were read.
	const edgeCalls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'));
	expect(edgeCalls.map((call) => [call.path, call.status])).toEqual([[`/v25.0/${thread}/messages`, 400]]);
	expect(await conversationCalls()).toHaveLength(3);
	const job = await withDb((db) => db.query('select status, errors, last_error from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([{ status: 'completed', errors: 1, last_error: null }]);
	// Left unread: no sync has read it whole, so the next that lists it reads it to its first message.
	const readWhole = async () =>
		(
			await withDb((db) =>
				db.query<{ sender_id: string }>(
					'select c.sender_id from leadflow_private.messenger_sync_read r join public.messenger_conversations c on c.id = r.conversation_id where c.page_id = $1 order by 1',
					[world.pageId],
				),
			)
		).rows.map((row) => row.sender_id);
	expect(await readWhole()).toEqual(input.filter((c) => c !== refused).map((c) => c.psid).sort());

	// The person writes again (the conversation moves to the top) and Graph answers its edge now.
	await sims.graph.control.clearFaults();
	const at = Math.floor(Date.now() / 1000) * 1000;
	await sims.graph.control.addConversations(world.pageId, [{ ...refused, updatedTime: at, messages: [...refused.messages, { id: `m_sync_${refused.psid}_again`, text: 'Hello?', from: 'person', createdTime: at }] }]);
	const next = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3 });
	expect(next.result.error).toBeUndefined();
	expect(next.output).toMatchObject({ status: 'completed', errors: 0 });
	expect((next.output?.this_run as IDataObject).refused_conversations).toEqual([]);
	const stored = await withDb((db) =>
		db.query<{ n: number }>('select count(*)::int as n from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1 and c.sender_id = $2', [world.pageId, refused.psid]),
	);
	expect(stored.rows[0].n).toBe(8);
	expect(await readWhole()).toContain(refused.psid);
});

/** How many of the conversation's messages the database holds. */
const storedOf = async (pageId: string, psid: string) =>
	(await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from public.messenger_messages m join public.messenger_conversations c on c.id = m.conversation_id where c.page_id = $1 and c.sender_id = $2', [pageId, psid]))).rows[0].n;

// 52a0537 took a refused cursor of one conversation's messages (Meta invalidates one when its message
// is deleted) for the conversation's own refusal: left unread with only the list's 3 messages, and
// the job's newest moved past it by a newer conversation, so no incremental sync listed it again.
test('a cursor of one conversation’s messages that Graph refuses once (a message deleted) is no refusal of the conversation: its edge is read again from the newest message, every message recorded once', async () => {
	const world = await connected();
	const input = [conversation(0.5), conversation(1, 7), conversation(2), conversation(3)];
	const long = input[1];
	const thread = `t_${world.pageId}_${long.psid}`;
	await sims.graph.control.addConversations(world.pageId, input);
	await sims.graph.control.addFault({ match: { path: `${thread}/messages` }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'graphError', code: 100, message: '(#100) The after cursor is not valid' } });

	const { result, output } = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 1 });
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', conversations: 4 });
	expect((output?.this_run as IDataObject).refused_conversations).toEqual([]);
	expect(await storedOf(world.pageId, long.psid)).toBe(7);
	// The refused cursor, then the edge from its newest message (no cursor), then on down by its cursors.
	const edgeCalls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'));
	expect(edgeCalls.slice(0, 2).map((call) => [call.status, 'after' in call.query])).toEqual([[400, true], [200, false]]);
	expect(edgeCalls.slice(2).every((call) => call.status === 200 && 'after' in call.query)).toBe(true);
});

test('a conversation left unread (its edge refused for good) never moves the job’s newest past itself, on its page or a later one: the next incremental sync lists it again and reads it whole once Graph answers', async () => {
	const world = await connected();
	// Page 1: two conversations read whole; page 2: the refused one (older than both), then another.
	const input = [conversation(0.5), conversation(0.7), conversation(1, 7), conversation(2)];
	const refused = input[2];
	const thread = `t_${world.pageId}_${refused.psid}`;
	await sims.graph.control.addConversations(world.pageId, input);
	const words = `Unsupported get request. Object with ID '${thread}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;
	await sims.graph.control.addFault({ match: { path: `${thread}/messages` }, trigger: { mode: 'always' }, effect: { kind: 'graphError', code: 100, subcode: 33, message: words } });

	const first = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 1 });
	expect(first.output).toMatchObject({ status: 'completed', conversations: 4 });
	expect((first.output?.this_run as IDataObject).refused_conversations).toEqual([expect.objectContaining({ conversation_id: thread })]);
	const newest = await withDb((db) => db.query<{ newest_updated_at: Date }>('select newest_updated_at from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(newest.rows.map((row) => row.newest_updated_at.getTime())).toEqual([refused.updatedTime]);
	expect(await storedOf(world.pageId, refused.psid)).toBe(3);

	// Graph answers its edge again; nothing changed in the conversation, so only the job's newest brings it back.
	await sims.graph.control.clearFaults();
	const next = await runSync(world.pageId, { pageSize: 2, messagesPerConversation: 3, maxRetries: 1 });
	expect(next.output).toMatchObject({ status: 'completed', errors: 0 });
	expect((next.output?.this_run as IDataObject).refused_conversations).toEqual([]);
	expect(await storedOf(world.pageId, refused.psid)).toBe(7);
});

test('an empty page of conversations with a next link and no cursors (Meta: a page may be empty and still have one) is followed by the link’s cursor: the job reads on, never completed with the rest unread', async () => {
	const world = await connected();
	const input = [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5), conversation(6)];
	await sims.graph.control.addConversations(world.pageId, input);
	// The cursor after the fourth conversation, as Graph pages the list (asked of the simulator itself).
	const listed = await fetch(`${sims.graph.baseUrl}/v25.0/${world.pageId}/conversations?platform=messenger&fields=id&limit=4&access_token=${TOKEN}`);
	const fourth = ((await listed.json()) as { paging: { cursors: { after: string } } }).paging.cursors.after;
	await sims.graph.control.clearRequests();
	// Page 2 comes back empty (Graph filtered what it held), with only a `next` link to the page after it.
	const link = `${sims.graph.baseUrl}/v25.0/${world.pageId}/conversations?limit=2&after=${encodeURIComponent(fourth)}`;
	await sims.graph.control.addFault({ match: { path: '/conversations', param: 'after' }, trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', body: { data: [], paging: { next: link } } } });

	const { result, output } = await runSync(world.pageId, { pageSize: 2 }, { mode: 'full' });
	expect(result.error).toBeUndefined();
	// Pages 1 and 3 read (page 2 was empty): the conversations Graph showed, every one.
	expect(output).toMatchObject({ status: 'completed', pages_read: 3, conversations: 4, messages: 12, errors: 0 });
	expect((await conversationCalls()).map((call) => call.query.after ?? null)).toEqual([null, expect.any(String), fourth]);
	expect((await counts(world.pageId)).conversations).toBe(4);
});

test('a next page of conversations without a cursor, or with the same cursor again, stops the job at that page (failed, resumed there by the next sync), never completes it nor reads it for ever', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, [conversation(1), conversation(2), conversation(3), conversation(4), conversation(5)]);
	const listCall = { path: '/conversations', param: 'after' };
	await sims.graph.control.addFault({ match: listCall, trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', body: { data: [], paging: { next: `${sims.graph.baseUrl}/v25.0/${world.pageId}/conversations?limit=2` } } } });
	const noCursor = await runSync(world.pageId, { pageSize: 2 }, { mode: 'full' });
	expect(noCursor.result.error?.message).toBe('Facebook said more conversations follow (paging.next) but gave no cursor to read them by');
	expect(noCursor.result.error?.description).toBe('The sync stopped at page 2; the next sync of the Page resumes there.');
	const job = async () => (await withDb((db) => db.query('select status, pages_read, last_error from public.messenger_sync_jobs where page_id = $1 and status <> \'completed\'', [world.pageId]))).rows;
	expect(await job()).toEqual([{ status: 'failed', pages_read: 1, last_error: noCursor.result.error?.message }]);

	// Resumed at page 2, whose answer names its own cursor as the next page's.
	const [resumedAt] = (await conversationCalls()).slice(-1).map((call) => call.query.after as string);
	await sims.graph.control.addFault({ match: listCall, trigger: { mode: 'count', count: 1 }, effect: { kind: 'answer', body: { data: [], paging: { cursors: { after: resumedAt }, next: `${sims.graph.baseUrl}/v25.0/${world.pageId}/conversations?after=${resumedAt}` } } } });
	const same = await runSync(world.pageId, { pageSize: 2 });
	expect(same.result.error?.message).toBe('Facebook gave the cursor this page of conversations was read with as the next page\'s: reading on would read it again for ever');
	expect(await job()).toEqual([{ status: 'failed', pages_read: 1, last_error: same.result.error?.message }]);

	// Graph pages as it should again: the job is resumed there and completes.
	const done = await runSync(world.pageId, { pageSize: 2 });
	expect(done.output).toMatchObject({ status: 'completed', resumed: true, pages_read: 3, conversations: 5, messages: 15 });
});

test('a messages edge answering an empty page with a next link follows it; a next page that is the same page again leaves that conversation unread (an error, named), never read for ever', async () => {
	const world = await connected();
	const long = conversation(1, 7);
	const thread = `t_${world.pageId}_${long.psid}`;
	await sims.graph.control.addConversations(world.pageId, [long, conversation(2)]);
	// Its own edge answers an empty page whose next link names the same cursor each time.
	const link = `${sims.graph.baseUrl}/v25.0/${thread}/messages?limit=3&after=stuck`;
	await sims.graph.control.addFault({ match: { path: `${thread}/messages` }, trigger: { mode: 'always' }, effect: { kind: 'answer', body: { data: [], paging: { cursors: { after: 'stuck' }, next: link } } } });

	const { result, output } = await runSync(world.pageId, { messagesPerConversation: 3 }, { mode: 'full' });
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', conversations: 2, messages: 6, errors: 1 });
	expect((output?.this_run as IDataObject).refused_conversations).toEqual([
		{ conversation_id: thread, psid: long.psid, error: 'Facebook gave the cursor this page of its messages was read with as the next page\'s' },
	]);
	// The empty page was followed once (its cursor was new), then not again.
	const edgeCalls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'));
	expect(edgeCalls.map((call) => call.query.after)).toEqual([expect.any(String), 'stuck']);
	expect(edgeCalls[0].query.after).not.toBe('stuck');
}, 60_000);

test('a page that takes longer than the lease (a long conversation read slowly) keeps the job: the lease is renewed mid-page, another start is refused, the page is recorded', async () => {
	const world = await connected();
	// One conversation of 8 messages read one at a time at half a call a second: 8 calls, about 17 s, for one page; the lease is 10 s.
	await sims.graph.control.addConversations(world.pageId, [conversation(1, 8)]);
	const running = runSync(world.pageId, { requestsPerSecond: 0.5, messagesPerConversation: 1, leaseSeconds: 10 });
	const started = Date.now();
	const job = async () => (await withDb((db) => db.query<{ id: string; status: string }>('select id, status from public.messenger_sync_jobs where page_id = $1', [world.pageId]))).rows[0];
	while ((await job()) === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
	// Past the first lease, before the page is recorded: another start (another n8n execution) is refused.
	await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 12_000 - Date.now())));
	expect((await job()).status).toBe('running');
	const { error } = await serviceClient().rpc('messenger_sync_begin', { p_page_id: world.pageId, p_holder: 'another-execution', p_lease_seconds: 60 });
	expect(error).toMatchObject({ code: '55P03' });

	const { result, output } = await running;
	expect(result.error).toBeUndefined();
	expect(output).toMatchObject({ status: 'completed', pages_read: 1, conversations: 1, messages: 8 });
	expect((output?.this_run as IDataObject).lease_renewals).toBeGreaterThanOrEqual(2);
}, 60_000);

test('a long conversation that gets a message while a full sync reads later pages is skipped by it (it moved to the top, already read); the next incremental reads its whole history', async () => {
	const world = await connected();
	// Six conversations, two per call: the long one (150 messages, more than one call holds) on page 3.
	// The newest (page 1) is long too, read whole by the full sync.
	const input = [conversation(1, 150), conversation(2), conversation(3), conversation(4), conversation(5, 150), conversation(6)];
	const [first, , , , moving] = input;
	await sims.graph.control.addConversations(world.pageId, input);
	/** The same conversation with one new message from the person, now: it moves to the top of the list. */
	const wroteAgain = (c: ConversationInput, label: string): ConversationInput => {
		const at = Math.floor(Date.now() / 1000) * 1000;
		return { ...c, updatedTime: at, messages: [...c.messages, { id: `m_sync_${c.psid}_${label}`, text: 'Still there?', from: 'person', createdTime: at }] };
	};
	const stored = async () =>
		Object.fromEntries(
			(
				await withDb((db) =>
					db.query<{ sender_id: string; n: number }>(
						`select c.sender_id, count(m.id)::int as n from public.messenger_conversations c join public.messenger_messages m on m.conversation_id = c.id
						  where c.page_id = $1 group by c.sender_id`,
						[world.pageId],
					),
				)
			).rows.map((row) => [row.sender_id, row.n]),
		);

	// One call a second: once page 1 is recorded, the person of page 3's conversation writes again.
	const full = runSync(world.pageId, { pageSize: 2, requestsPerSecond: 1 }, { mode: 'full' });
	const pagesRead = async () => (await withDb((db) => db.query<{ pages_read: number }>('select pages_read from public.messenger_sync_jobs where page_id = $1', [world.pageId]))).rows[0]?.pages_read ?? 0;
	while ((await pagesRead()) < 1) await new Promise((resolve) => setTimeout(resolve, 20));
	await sims.graph.control.addConversations(world.pageId, [wroteAgain(moving, 'during')]);
	const fullRun = await full;
	expect(fullRun.result.error).toBeUndefined();
	// The full sync completes without it: its new place (the top) was read before it moved there.
	expect(fullRun.output).toMatchObject({ status: 'completed', pages_read: 3, conversations: 5, errors: 0 });
	expect((await stored())[moving.psid]).toBeUndefined();
	expect((await stored())[first.psid]).toBe(150);

	// The newest conversation gets a message too; the incremental sync reads both changed conversations.
	await sims.graph.control.addConversations(world.pageId, [wroteAgain(first, 'after')]);
	await sims.graph.control.clearRequests();
	const incremental = await runSync(world.pageId, { pageSize: 2 });
	expect(incremental.result.error).toBeUndefined();
	expect(incremental.output).toMatchObject({ status: 'completed', conversations: 2, errors: 0 });
	expect(Date.parse(incremental.output?.since as string)).toBe(first.updatedTime);
	// Every message of the skipped conversation, its older ones included; the other one's new message.
	expect(await stored()).toMatchObject({ [moving.psid]: 151, [first.psid]: 151 });
	expect(incremental.output).toMatchObject({ messages: 152 });
	// Its older messages from its own edge; the conversation the full sync had read whole needs none.
	const edgeCalls = (await sims.graph.control.requests()).filter((request) => request.path.endsWith('/messages'));
	expect(edgeCalls.map((call) => call.path)).toEqual([`/v25.0/t_${world.pageId}_${moving.psid}/messages`]);
});

test('a refused token (190) stops the sync with a credential error; the job is failed and resumable', async () => {
	const world = await connected();
	await sims.graph.control.addConversations(world.pageId, [conversation(1)]);
	const { result } = await runSync(world.pageId, {}, {}, 'not-the-token');
	expect(result.error?.message).toBe('The Page token is invalid or expired: reconnect the credential');
	expect(result.error?.description).toMatch(/Generate a new Page access token/);
	const job = await withDb((db) => db.query('select status, last_error from public.messenger_sync_jobs where page_id = $1', [world.pageId]));
	expect(job.rows).toEqual([{ status: 'failed', last_error: 'The Page token is invalid or expired: reconnect the credential' }]);
	expect((await conversationCalls())).toHaveLength(1);
	expect((await runSync(world.pageId)).output).toMatchObject({ status: 'completed', resumed: true, conversations: 1 });
});

test('a Page not connected needs the Owner ID, which connects it', async () => {
	const world = await createWorld();
	await sims.graph.control.configure({ pageTokens: { [world.pageId]: TOKEN } });
	await sims.graph.control.addConversations(world.pageId, [conversation(1)]);
	const refused = await runSync(world.pageId);
	expect(refused.result.error?.message).toMatch(/cannot be synced: it is not connected to an owner/);
	const { output } = await runSync(world.pageId, {}, { owner: world.userId });
	expect(output).toMatchObject({ status: 'completed', conversations: 1 });
	const bad = await runSync(world.pageId, {}, { owner: 'someone' });
	expect(bad.result.error?.message).toBe('The Owner ID "someone" is not a user id');
	// The owner rule Queue Ledger and Auto Assign Stage share (nodes/shared/owner-id.ts): a list holding
	// the id (an expression mapping an array) is refused naming the parameter, never read as that id.
	const list = await runSync(world.pageId, {}, { owner: `={{ ["${world.userId}"] }}` });
	expect(list.result.error?.message).toBe('Owner ID must be text (got an array of 1)');
	expect((list.result.run?.data.resultData.error as { field?: unknown } | undefined)?.field).toBe('owner');
	// The database's refusal of an Owner ID that is no user of the project (a Page not connected yet)
	// names the parameter too.
	const lone = await createWorld();
	const nobody = randomUUID();
	const unknown = await runSync(lone.pageId, {}, { owner: nobody });
	expect(unknown.result.error?.message).toContain(`p_owner: ${nobody} is not a user of this project`);
	expect((unknown.result.run?.data.resultData.error as { field?: unknown } | undefined)?.field).toBe('owner');
});
