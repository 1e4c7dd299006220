// pipeline_due_for_analysis gives the closed-window backlog a share of every run (review S3 of
// migration …2520, fixed by …2570). …2520 listed every conversation whose last customer message is
// inside the 24 h window before the whole backlog, so an owner with at least Max Conversations such
// writers at every run never had the backlog (a Page's imported history) analysed, and a writer not
// reached within 24 h fell behind that whole backlog for good. Now the window and the backlog take
// turns: three of the window, then one of the backlog, and so on (the rest of either once the other
// has none); the fallback places and the contacts the model failed on still come after all of them.
// Each "run" is what Analyze + Assign do: read the due list (p_limit = Max Conversations, p_now = the
// run's time) and place what it returned. Times are fixed instants around NOW.
import type { DueConversation } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, minutesAfter, rpc } from './fixtures';

const HOUR = 60;
const DAY = 24 * HOUR;
const LIMIT = 4;

const due = (userId: string, limit: number, now: string) =>
	rpc<DueConversation[]>('pipeline_due_for_analysis', { p_now: now, p_user_id: userId, p_limit: limit, p_max_messages: 1 });

/** Each conversation's person writes at `at` (its last customer message). */
const customerWrote = (userId: string, conversationIds: string[], at: string) =>
	withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'hello', $3 from unnest($2::uuid[]) c`,
			[userId, conversationIds, at],
		),
	);

/** A Page's imported history: `count` conversations, the k-th last written (40 + k) days before NOW. */
async function history(world: Awaited<ReturnType<typeof createPipelineWorld>>, count: number): Promise<string[]> {
	const ids = await world.contacts(count);
	for (const [k, id] of ids.entries()) await customerWrote(world.userId, [id], minutesAfter(-(40 + k) * DAY));
	// Oldest first: the order the backlog is worked through.
	return [...ids].reverse();
}

/** The run's analysis placed: everything it listed, as Assign does. */
const placeAll = (rows: DueConversation[], at: string) =>
	assign(rows.map((row) => analysis(row.conversation_id, 50, { last_message_at: row.last_customer_message_at })), at);

test('the exact order: three of the window, one of the backlog, the rest of the backlog once the window has none, the fallback places last', async () => {
	const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
	const backlog = await history(world, 3);
	// Five writers inside the window, 20 h to 1 h before NOW (the oldest first in the window's order).
	const writers = await world.contacts(5);
	for (const [k, id] of writers.entries()) await customerWrote(world.userId, [id], minutesAfter(-(20 - 4 * k) * HOUR - 1));
	// One the fallback score placed an hour ago, its window open: it waits after all the others.
	const [fallback] = await world.contacts(1);
	await customerWrote(world.userId, [fallback], minutesAfter(-HOUR));
	await assign([analysis(fallback, 15, { is_fallback: true, confidence: 0, model: null, last_message_at: minutesAfter(-HOUR) })], minutesAfter(-HOUR + 1));

	const all = await due(world.userId, 1000, minutesAfter(0));
	expect(all.map((row) => row.conversation_id)).toEqual([...writers.slice(0, 3), backlog[0], ...writers.slice(3), backlog[1], backlog[2], fallback]);
	expect(all.at(-1)?.reason).toBe('fallback_analysis');
	// A run takes the same list's head: Max Conversations 4 gets the backlog's oldest as its 4th.
	expect((await due(world.userId, LIMIT, minutesAfter(0))).map((row) => row.conversation_id)).toEqual(all.slice(0, LIMIT).map((row) => row.conversation_id));
	// Max Conversations 2 (or 3): the window's first, as before.
	expect((await due(world.userId, 2, minutesAfter(0))).map((row) => row.conversation_id)).toEqual(writers.slice(0, 2));
});

test('SKIP_EXISTING: as many new writers at every run as Max Conversations; the backlog still gets one place a run, oldest first', async () => {
	const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
	const backlog = await history(world, 3);
	const listed: string[][] = [];
	for (let run = 0; run < 5; run++) {
		const at = minutesAfter(run * 15);
		await customerWrote(world.userId, await world.contacts(LIMIT), minutesAfter(run * 15 - 1));
		const rows = await due(world.userId, LIMIT, at);
		listed.push(rows.map((row) => (backlog.includes(row.conversation_id) ? `backlog ${backlog.indexOf(row.conversation_id)}` : 'writer')));
		await placeAll(rows, at);
	}
	// …2520: four writers at every run and never the backlog.
	expect(listed).toEqual([
		['writer', 'writer', 'writer', 'backlog 0'],
		['writer', 'writer', 'writer', 'backlog 1'],
		['writer', 'writer', 'writer', 'backlog 2'],
		['writer', 'writer', 'writer', 'writer'],
		['writer', 'writer', 'writer', 'writer'],
	]);
	expect((await due(world.userId, 1000, minutesAfter(5 * 15))).filter((row) => backlog.includes(row.conversation_id))).toEqual([]);
});

test('UPDATE_EXISTING: Max Conversations placed contacts who keep writing; the backlog still gets one place a run', async () => {
	const world = await createPipelineWorld({ mode: 'UPDATE_EXISTING' });
	const backlog = await history(world, 3);
	const active = await world.contacts(LIMIT);
	await customerWrote(world.userId, active, minutesAfter(-30));
	await assign(active.map((id) => analysis(id, 50, { last_message_at: minutesAfter(-30) })), minutesAfter(-20));
	const listed: string[][] = [];
	for (let run = 0; run < 4; run++) {
		const at = minutesAfter(run * 15);
		await customerWrote(world.userId, active, minutesAfter(run * 15 - 1));
		const rows = await due(world.userId, LIMIT, at);
		listed.push(rows.map((row) => (backlog.includes(row.conversation_id) ? `backlog ${backlog.indexOf(row.conversation_id)}` : 'active')));
		await placeAll(rows, at);
	}
	expect(listed).toEqual([
		['active', 'active', 'active', 'backlog 0'],
		['active', 'active', 'active', 'backlog 1'],
		['active', 'active', 'active', 'backlog 2'],
		['active', 'active', 'active', 'active'],
	]);
	expect((await due(world.userId, 1000, minutesAfter(4 * 15))).filter((row) => backlog.includes(row.conversation_id))).toEqual([]);
});

test('more writers than a run analyses: a writer not reached within 24 h is reached later, after the backlog older than them, never left behind it for good', async () => {
	const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
	const backlog = await history(world, 3);
	// A run every 6 hours, 6 new writers each, Max Conversations 4: the window alone outgrows the runs.
	const RUNS = 16;
	const wroteAt = new Map<string, number>();
	const placedAt = new Map<string, number>();
	const kinds: string[][] = [];
	for (let run = 0; run < RUNS; run++) {
		const minute = run * 6 * HOUR;
		const fresh = await world.contacts(6);
		await customerWrote(world.userId, fresh, minutesAfter(minute - 1));
		for (const id of fresh) wroteAt.set(id, minute - 1);
		const rows = await due(world.userId, LIMIT, minutesAfter(minute));
		// Window or backlog, as judged at the run: the last customer message 24 h old or older is the backlog's.
		kinds.push(rows.map((row) => (Date.parse(row.last_customer_message_at) <= Date.parse(minutesAfter(minute - DAY)) ? 'backlog' : 'window')));
		for (const row of rows) placedAt.set(row.conversation_id, run);
		await placeAll(rows, minutesAfter(minute));
	}
	// The imported history first of the backlog, one a run.
	expect(backlog.map((id) => placedAt.get(id))).toEqual([0, 1, 2]);
	// Every run: three of the window (oldest first), then one of the backlog while it has any.
	for (const runKinds of kinds) expect(runKinds.slice(0, 3)).toEqual(['window', 'window', 'window']);
	expect(kinds.filter((runKinds) => runKinds[3] === 'backlog').length).toBeGreaterThan(3);
	// Writers whose window closed before a run reached them were reached from the backlog.
	const reachedLate = [...placedAt].filter(([id, run]) => wroteAt.has(id) && run * 6 * HOUR - wroteAt.get(id)! >= DAY);
	expect(reachedLate.length).toBeGreaterThan(0);
	// The writer waiting longest is in the next run's list: nobody is left behind the backlog for good.
	// (Of those who wrote at the same minute, the lowest id first: Postgres orders uuids as their lower-case hex text.)
	const waiting = [...wroteAt].filter(([id]) => !placedAt.has(id)).sort(([x, a], [y, b]) => a - b || (x < y ? -1 : 1));
	const next = await due(world.userId, LIMIT, minutesAfter(RUNS * 6 * HOUR));
	expect(Date.parse(minutesAfter(RUNS * 6 * HOUR)) - Date.parse(minutesAfter(waiting[0][1]))).toBeGreaterThan(DAY * 60_000);
	expect(next.map((row) => row.conversation_id)).toContain(waiting[0][0]);
});
