// A Facebook Page's send rate in the database (limit_take_send_slots, limit_pause_sends): slots
// 1.1 / rate apart, never before the database's now, never a burst after an idle time, a pause
// that holds every taker back, separate connections taking turns without ever sharing a slot, and
// bad input refused naming its argument with nothing written. Judged at fixed instants (p_now), so
// nothing here depends on the machine's clock or how busy it is.
import { randomInt } from 'node:crypto';
import { serviceClient, userClient, createTestUser, withDb } from '../../helpers/stack';

const NOW = new Date('2026-12-02T10:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
/** A Page id no other test uses, so the rows of parallel test files never meet. */
const newPage = () => `9${Date.now()}${randomInt(1_000_000)}`.slice(0, 20);
const GRAPH = 'http://graph.test';

interface Taken {
	starts_in_ms: number[];
	database_now: string;
	next_in_ms: number;
	paused_until: string | null;
}

async function take(page: string, count: number, perSecond: number, nowMs = 0, leadMs?: number): Promise<Taken> {
	const { data, error } = await serviceClient().rpc('limit_take_send_slots', {
		p_page_id: page,
		p_count: count,
		p_per_second: perSecond,
		p_graph_url: GRAPH,
		p_now: at(nowMs),
		...(leadMs !== undefined && { p_lead_ms: leadMs }),
	});
	if (error) throw new Error(error.message);
	const rows = data as Taken[];
	expect(rows).toHaveLength(1);
	return rows[0];
}

async function pause(page: string, ms: number, nowMs = 0, reason: string | null = 'Graph 613: rate limit') {
	const { data, error } = await serviceClient().rpc('limit_pause_sends', { p_page_id: page, p_pause_ms: ms, p_reason: reason, p_graph_url: GRAPH, p_now: at(nowMs) });
	if (error) throw new Error(error.message);
	return (data as Array<{ paused_until: string; paused_for_ms: number }>)[0];
}

/** When each slot starts, in ms after NOW (microseconds kept). */
const offsets = (taken: Taken, nowMs = 0) => taken.starts_in_ms.map((ms) => ms + nowMs);

async function rowOf(page: string) {
	const { rows } = await withDb((db) => db.query('select * from leadflow_private.limit_send_rates where graph_url = $1 and page_id = $2', [GRAPH, page]));
	return rows[0];
}

describe('limit_take_send_slots', () => {
	it('hands out slots 1.1 / rate apart, the first at now, and the next call continues where the last ended', async () => {
		const page = newPage();
		const first = await take(page, 3, 10);
		expect(first).toEqual({ starts_in_ms: [0, 110, 220], database_now: expect.any(String), next_in_ms: 330, paused_until: null });
		expect(Date.parse(first.database_now)).toBe(NOW.getTime());
		// 100 ms later: the next slot follows the last one handed out, counted from the new now.
		const second = await take(page, 1, 10, 100);
		expect(second).toMatchObject({ starts_in_ms: [230], next_in_ms: 340 });
	});

	it('only slots starting within 250 ms are handed out; with none free that soon, none, and when the next one is', async () => {
		const page = newPage();
		// 300 a second: slots 3.667 ms apart, 69 of them start within 250 ms.
		const many = await take(page, 1000, 300);
		expect(many.starts_in_ms).toHaveLength(69);
		// (The database keeps intervals in microseconds: 3.667 ms.)
		expect(many.starts_in_ms.at(-1)).toBeCloseTo(68 * 3.667, 6);
		many.starts_in_ms.slice(1).forEach((ms, index) => expect(ms - many.starts_in_ms[index]).toBeCloseTo(3.667, 6));
		// Asked again at once: every slot within 250 ms is taken, so none, and the next is 253 ms away.
		const none = await take(page, 10, 300);
		expect(none.starts_in_ms).toEqual([]);
		expect(none.next_in_ms).toBeCloseTo(69 * 3.667, 6);
		// 10 ms later, the two that start before 260 ms fit (253.0 and 256.7).
		const later = await take(page, 10, 300, 10);
		expect(later.starts_in_ms.map((ms) => Math.round((ms + 10) * 10) / 10)).toEqual([253, 256.7]);
	});

	it('no burst after an idle time: a Page unused for a minute starts again at now', async () => {
		const page = newPage();
		await take(page, 3, 10);
		expect(offsets(await take(page, 3, 10, 60_000), 60_000)).toEqual([60_000, 60_110, 60_220]);
	});

	it('Pages are independent, and so are the same Page id at two Graph URLs', async () => {
		const [a, b] = [newPage(), newPage()];
		await take(a, 3, 10);
		expect((await take(b, 1, 10)).starts_in_ms).toEqual([0]);
		const { data, error } = await serviceClient().rpc('limit_take_send_slots', { p_page_id: a, p_count: 1, p_per_second: 10, p_graph_url: 'http://other.test', p_now: at(0) });
		expect(error).toBeNull();
		expect((data as Taken[])[0].starts_in_ms).toEqual([0]);
	});

	it('separate connections taking slots at once never share one, and any second of a long run holds at most the rate', async () => {
		const page = newPage();
		// 8 callers × 5 slots at 100 a second, all judged at one instant (so their offsets compare).
		const calls = await Promise.all(Array.from({ length: 8 }, () => take(page, 5, 100)));
		const times = calls.flatMap((taken) => taken.starts_in_ms).sort((x, y) => x - y);
		expect(times).toHaveLength(23); // 250 ms / 11 ms: the 23 that fit; the rest get none
		times.slice(1).forEach((time, index) => expect(time - times[index]).toBeCloseTo(11, 6));
		expect(Number((await rowOf(page)).slots_taken)).toBe(23);
		// Taking on through 3 seconds, every 100 ms: never more than 100 slots in any second.
		const run = [...times];
		for (let now = 100; now <= 3000; now += 100) run.push(...offsets(await take(page, 50, 100, now), now));
		for (let i = 0; i + 100 < run.length; i++) expect(run[i + 100] - run[i]).toBeGreaterThanOrEqual(1000);
	});
});

describe('limit_pause_sends', () => {
	it('no slot before the pause ends, for every taker; a shorter pause does not shorten it; after it, slots resume at the rate', async () => {
		const page = newPage();
		await take(page, 2, 10);
		expect(await pause(page, 2000, 50)).toEqual({ paused_until: expect.any(String), paused_for_ms: 2000 });
		// During the pause nothing is handed out, and the next slot is at its end.
		const during = await take(page, 2, 10, 100);
		expect(during).toMatchObject({ starts_in_ms: [], next_in_ms: 1950 });
		expect(Date.parse(during.paused_until ?? '')).toBe(NOW.getTime() + 2050);
		// A second throttle asking for less keeps the longer pause and its reason.
		expect(await pause(page, 500, 200, 'Graph 4: app limit')).toMatchObject({ paused_for_ms: 1850 });
		expect(await rowOf(page)).toMatchObject({ pause_reason: 'Graph 613: rate limit' });
		// Within 250 ms of its end, the first slot comes, starting when it ends (the next, at 2160, is
		// more than 250 ms away).
		expect(offsets(await take(page, 2, 10, 1900), 1900)).toEqual([2050]);
		// Once it has ended, no pause is reported.
		expect(await take(page, 1, 10, 5000)).toMatchObject({ starts_in_ms: [0], paused_until: null });
	});

	it('a pause on a Page nobody sent for yet holds its first slot back too', async () => {
		const page = newPage();
		await pause(page, 1000);
		expect(await take(page, 1, 10, 10)).toMatchObject({ starts_in_ms: [], next_in_ms: 990 });
		expect(offsets(await take(page, 1, 10, 800), 800)).toEqual([1000]);
	});
});

describe('limit_take_send_slots with a lead (a worker whose answers come back late, …2760)', () => {
	it('hands out no slot before now plus the lead, and as much as without one: the 250 ms counted from there', async () => {
		const page = newPage();
		const led = await take(page, 10, 10, 0, 190);
		expect(led).toMatchObject({ starts_in_ms: [190, 300, 410], next_in_ms: 520 });
		// The slots skipped for the lead are nobody's: the next take, without a lead, continues after them.
		expect(await take(page, 1, 10, 300)).toMatchObject({ starts_in_ms: [220] });
		// A lead that ends before the next free slot changes nothing.
		expect(await take(page, 2, 10, 400, 50)).toMatchObject({ starts_in_ms: [230], next_in_ms: 340 });
	});

	it('a pause still holds every slot back, lead or not', async () => {
		const page = newPage();
		await pause(page, 1000);
		expect(await take(page, 1, 10, 0, 900)).toMatchObject({ starts_in_ms: [1000] });
	});
});

describe('bad input is refused naming the argument, and nothing is written', () => {
	it.each([
		['a Page id with letters', { p_page_id: 'page-1' }, 'p_page_id must be a Facebook Page id (digits only, at most 32; got page-1)'],
		['no slots', { p_count: 0 }, 'p_count must be between 1 and 1000 slots (got 0)'],
		['too many slots', { p_count: 1001 }, 'p_count must be between 1 and 1000 slots (got 1001)'],
		['a rate of 0', { p_per_second: 0 }, 'p_per_second must be above 0 and at most 10000 messages a second (got 0)'],
		['a Graph URL with a space', { p_graph_url: 'http://graph test' }, 'p_graph_url must be the Graph API base URL (1 to 500 characters, no spaces)'],
		['a negative lead', { p_lead_ms: -1 }, 'p_lead_ms must be between 0 and 2000 ms (got -1)'],
		['a lead over 2 s', { p_lead_ms: 2001 }, 'p_lead_ms must be between 0 and 2000 ms (got 2001)'],
	])('limit_take_send_slots: %s', async (_what, override, message) => {
		const page = newPage();
		const { error } = await serviceClient().rpc('limit_take_send_slots', { p_page_id: page, p_count: 5, p_per_second: 10, p_graph_url: GRAPH, ...override });
		expect(error).toMatchObject({ code: '22023', message });
		expect(await rowOf(page)).toBeUndefined();
	});

	it.each([
		['a pause of 0 ms', { p_pause_ms: 0 }, 'p_pause_ms must be between 1 and 86400000 milliseconds (got 0)'],
		['a reason on two lines', { p_reason: 'Graph 4\nagain' }, 'p_reason must be one line of at most 500 characters'],
	])('limit_pause_sends: %s', async (_what, override, message) => {
		const page = newPage();
		const { error } = await serviceClient().rpc('limit_pause_sends', { p_page_id: page, p_pause_ms: 1000, p_graph_url: GRAPH, ...override });
		expect(error).toMatchObject({ code: '22023', message });
		expect(await rowOf(page)).toBeUndefined();
	});

	it('a signed-in user may not take or pause a Page\'s slots', async () => {
		const user = await createTestUser('limits');
		const { error } = await userClient(user).rpc('limit_take_send_slots', { p_page_id: newPage(), p_count: 1, p_per_second: 10 });
		expect(error?.code).toBe('42501');
	});
});
