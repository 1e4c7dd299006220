// The sync job in the database: one unfinished job per Page, pages recorded with the cursor moving in
// the same transaction, resumed at its cursor after a crash (lease run out) or a failure, incremental
// from the last completed job, progress readable by the owner while it runs.
import type { SupabaseClient } from '@supabase/supabase-js';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { NOW, createWorld } from '../follow-up/fixtures';
import type { MessengerEvent, SyncJob, SyncPageResult } from '../../../nodes/shared/contract';
import { connectPage, counts, echo, inbound } from './fixtures';

const service = serviceClient({ now: NOW });
const after = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

async function rpc<T>(client: SupabaseClient, name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await client.rpc(name, args);
	if (error) throw Object.assign(new Error(`${name}: ${error.message}`), { code: error.code });
	return data as T;
}

const begin = async (pageId: string, holder: string, options: { now?: Date; full?: boolean; owner?: string; lease?: number } = {}) =>
	(
		await rpc<SyncJob[]>(service, 'messenger_sync_begin', {
			p_page_id: pageId,
			p_holder: holder,
			p_owner: options.owner ?? null,
			p_full: options.full ?? false,
			p_lease_seconds: options.lease ?? 60,
			p_now: (options.now ?? NOW).toISOString(),
		})
	)[0];

const recordPage = async (
	job: SyncJob,
	holder: string,
	events: MessengerEvent[],
	page: {
		next?: string | null;
		conversations?: number;
		read?: Array<{ psid: string; updated_at: string }>;
		newest?: Date;
		done?: boolean;
		/** false: a part of the page that is not its last (p_page_done). */
		pageDone?: boolean | null;
		errors?: number;
		now?: Date;
	},
) =>
	(
		await rpc<SyncPageResult[]>(service, 'messenger_sync_record_page', {
			p_job_id: job.job_id,
			p_holder: holder,
			p_events: events,
			p_next_cursor: page.next ?? null,
			p_conversations: page.conversations ?? 0,
			...(page.read !== undefined && { p_read: page.read }),
			p_newest_updated_at: page.newest?.toISOString() ?? null,
			p_errors: page.errors ?? 0,
			p_done: page.done ?? false,
			...(page.pageDone !== undefined && { p_page_done: page.pageDone }),
			p_lease_seconds: 60,
			p_now: (page.now ?? NOW).toISOString(),
		})
	)[0];

let psid = 5_000_000_000 + (Date.now() % 1_000_000) * 100;
const person = () => String(++psid);

async function connectedWorld() {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	return world;
}

describe('a sync job', () => {
	it('records its pages, moves its cursor with them, and completes; the owner reads its progress', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-1');
		expect(job).toMatchObject({ status: 'running', resumed: false, since: null, cursor: null, pages_read: 0, user_id: world.userId });

		const [a, b] = [person(), person()];
		const page1 = await recordPage(job, 'exec-1', [inbound(world.pageId, a, -5), echo(world.pageId, a, -4, null), inbound(world.pageId, b, -3)], {
			next: 'cursor-2',
			conversations: 2,
			newest: new Date(NOW.getTime() - 3 * 3_600_000),
		});
		expect(page1).toMatchObject({ status: 'running', pages_read: 1, conversations: 2, messages: 3, page_messages: 3, page_new_conversations: 2, cursor: 'cursor-2' });

		const { data: progress } = await userClient(world.userId).from('messenger_sync_jobs').select('status, pages_read, messages, cursor').eq('id', job.job_id);
		expect(progress).toEqual([{ status: 'running', pages_read: 1, messages: 3, cursor: 'cursor-2' }]);

		const page2 = await recordPage(job, 'exec-1', [inbound(world.pageId, person(), -10)], { conversations: 1, done: true, newest: new Date(NOW.getTime() - 10 * 3_600_000) });
		expect(page2).toMatchObject({ status: 'completed', pages_read: 2, conversations: 3, messages: 4, cursor: null });
		// A sync never takes an echo for a person: the sending app is unknown.
		expect((await counts(world.pageId)).stops).toBe(0);
		const stored = await withDb((db) => db.query('select finished_at, newest_updated_at, holder from public.messenger_sync_jobs where id = $1', [job.job_id]));
		expect(stored.rows[0]).toEqual({ finished_at: NOW, newest_updated_at: new Date(NOW.getTime() - 3 * 3_600_000), holder: null });
	});

	it('counts a page recorded in parts (more than 10,000 messages) once, with its last part (p_page_done); only a last part completes the job', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-parts', { full: true });
		const [a, b, c] = [person(), person(), person()];
		// Page 1 in two parts: the first keeps the cursor on the page (the first page: null).
		const part1 = await recordPage(job, 'exec-parts', [inbound(world.pageId, a, -6), echo(world.pageId, a, -5, null)], { pageDone: false });
		expect(part1).toMatchObject({ status: 'running', pages_read: 0, conversations: 0, messages: 2, page_messages: 2, cursor: null });
		const part2 = await recordPage(job, 'exec-parts', [inbound(world.pageId, b, -4)], { next: 'cursor-2', conversations: 2, pageDone: true });
		expect(part2).toMatchObject({ status: 'running', pages_read: 1, conversations: 2, messages: 3, page_messages: 1, cursor: 'cursor-2' });

		// A part that is not the page's last cannot complete the job; p_page_done is true or false.
		await expect(recordPage(job, 'exec-parts', [inbound(world.pageId, c, -3)], { done: true, pageDone: false })).rejects.toMatchObject({
			code: '22023',
			message: expect.stringContaining('p_done'),
		});
		await expect(recordPage(job, 'exec-parts', [], { next: 'cursor-2', pageDone: null })).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('p_page_done') });

		// Page 2, the last, in two parts (the second without p_page_done: true by default).
		expect(await recordPage(job, 'exec-parts', [inbound(world.pageId, c, -3)], { next: 'cursor-2', pageDone: false })).toMatchObject({ pages_read: 1, messages: 4, cursor: 'cursor-2' });
		const last = await recordPage(job, 'exec-parts', [inbound(world.pageId, c, -2)], { conversations: 1, done: true });
		expect(last).toMatchObject({ status: 'completed', pages_read: 2, conversations: 3, messages: 5, duplicates: 0, cursor: null });
	});

	it('keeps how far it has read each conversation whole (p_read), only forward, with the page; messenger_sync_read_until answers it, nothing for a conversation never read whole', async () => {
		const world = await connectedWorld();
		const [a, b, webhookOnly, unknown] = [person(), person(), person(), person()];
		// A conversation only the webhook recorded has no read_until.
		await recordPage(await begin(world.pageId, 'exec-read'), 'exec-read', [inbound(world.pageId, webhookOnly, -9)], { conversations: 1, done: true });
		const job = await begin(world.pageId, 'exec-read-2');
		const readUntil = async (psids: string[]) =>
			(await rpc<Array<{ psid: string; read_until: string }>>(service, 'messenger_sync_read_until', { p_job_id: job.job_id, p_psids: psids }))
				.map((row) => [row.psid, new Date(row.read_until).getTime()])
				.sort();
		const at = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000).toISOString();
		await recordPage(job, 'exec-read-2', [inbound(world.pageId, a, -2), inbound(world.pageId, b, -3)], {
			next: 'cursor-2',
			conversations: 2,
			read: [{ psid: a, updated_at: at(-2) }, { psid: b, updated_at: at(-3) }, { psid: unknown, updated_at: at(-1) }],
		});
		expect(await readUntil([a, b, webhookOnly, unknown])).toEqual([[a, Date.parse(at(-2))], [b, Date.parse(at(-3))]].sort());
		// Read again, at a later update, or an earlier one (never backwards).
		await recordPage(job, 'exec-read-2', [inbound(world.pageId, a, -1)], { next: 'cursor-3', conversations: 2, read: [{ psid: a, updated_at: at(-1) }, { psid: b, updated_at: at(-4) }] });
		expect(await readUntil([a, b])).toEqual([[a, Date.parse(at(-1))], [b, Date.parse(at(-3))]].sort());
		await expect(recordPage(job, 'exec-read-2', [], { read: { psid: a } as never })).rejects.toMatchObject({ code: '22023' });
		// Gone with its conversation.
		await withDb((db) => db.query('delete from public.messenger_conversations where page_id = $1 and sender_id = $2', [world.pageId, a]));
		expect(await readUntil([a, b])).toEqual([[b, Date.parse(at(-3))]]);
	});

	it('after a crash (its lease ran out) the next sync resumes at the cursor: page 3 after page 2', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-crashed', { lease: 60 });
		await recordPage(job, 'exec-crashed', [inbound(world.pageId, person(), -1)], { next: 'cursor-2', conversations: 1 });
		await recordPage(job, 'exec-crashed', [inbound(world.pageId, person(), -2)], { next: 'cursor-3', conversations: 1 });

		// While the lease lasts, another run may not take it.
		await expect(begin(world.pageId, 'exec-next', { now: after(30) })).rejects.toMatchObject({ code: '55P03' });

		const resumed = await begin(world.pageId, 'exec-next', { now: after(61 + 60) });
		expect(resumed).toMatchObject({ job_id: job.job_id, resumed: true, cursor: 'cursor-3', pages_read: 2, conversations: 2, messages: 2 });
		// The crashed run, if it comes back, no longer holds the job.
		await expect(recordPage(job, 'exec-crashed', [], { next: 'cursor-4', now: after(125) })).rejects.toMatchObject({ code: '55P03' });
	});

	it('its holder renews the lease mid-page (messenger_sync_renew_lease), so no other start takes the job over; anyone else, or a job no longer running, is refused (55P03)', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-long-page', { lease: 60 });
		const renew = (holder: string, now: Date) =>
			rpc<Array<{ job_id: string; held_until: string }>>(service, 'messenger_sync_renew_lease', { p_job_id: job.job_id, p_holder: holder, p_lease_seconds: 60, p_now: now.toISOString() });
		expect(await renew('exec-long-page', after(40))).toEqual([{ job_id: job.job_id, held_until: expect.any(String) }]);
		expect(new Date((await renew('exec-long-page', after(90)))[0].held_until).getTime()).toBe(after(150).getTime());
		// Past the first lease (60 s) the job is still its runner's.
		await expect(begin(world.pageId, 'exec-next', { now: after(120) })).rejects.toMatchObject({ code: '55P03' });
		await expect(renew('exec-next', after(121))).rejects.toMatchObject({ code: '55P03', message: expect.stringContaining('is not held by exec-next') });
		// The runner records its page, held all along.
		expect(await recordPage(job, 'exec-long-page', [inbound(world.pageId, person(), -1)], { next: 'cursor-2', conversations: 1, now: after(140) })).toMatchObject({ pages_read: 1 });

		// Once its lease ran out, another start takes the job, and the old runner's heartbeat is refused.
		const taken = await begin(world.pageId, 'exec-next', { now: after(140 + 61) });
		expect(taken).toMatchObject({ job_id: job.job_id, resumed: true });
		await expect(renew('exec-long-page', after(202))).rejects.toMatchObject({ code: '55P03' });
		await expect(
			rpc(service, 'messenger_sync_renew_lease', { p_job_id: job.job_id, p_holder: 'exec-next', p_lease_seconds: 5, p_now: after(203).toISOString() }),
		).rejects.toMatchObject({ code: '22023' });
	});

	it('a full sync does not replace a sync another run holds: refused (55P03) while its lease lasts, started over once it ran out', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-running', { lease: 60 });
		await recordPage(job, 'exec-running', [inbound(world.pageId, person(), -1)], { next: 'cursor-2', conversations: 1 });

		await expect(begin(world.pageId, 'exec-full', { full: true, now: after(30) })).rejects.toMatchObject({
			code: '55P03',
			message: expect.stringMatching(/full sync .* cannot start: a sync of it is running \(held by exec-running until /),
		});
		const untouched = await withDb((db) => db.query('select status, holder, held_until, cursor, finished_at from public.messenger_sync_jobs where id = $1', [job.job_id]));
		expect(untouched.rows[0]).toEqual({ status: 'running', holder: 'exec-running', held_until: after(60), cursor: 'cursor-2', finished_at: null });

		const full = await begin(world.pageId, 'exec-full', { full: true, now: after(61) });
		expect(full).toMatchObject({ status: 'running', resumed: false, cursor: null, since: null, pages_read: 0 });
		expect(full.job_id).not.toBe(job.job_id);
		const replaced = await withDb((db) => db.query('select status, holder, finished_at from public.messenger_sync_jobs where id = $1', [job.job_id]));
		expect(replaced.rows[0]).toEqual({ status: 'cancelled', holder: null, finished_at: after(61) });
		// The replaced run, if it comes back, no longer holds anything.
		await expect(recordPage(job, 'exec-running', [], { next: 'cursor-3', now: after(62) })).rejects.toMatchObject({ code: '55P03' });
	});

	it('a failed job (e.g. a refused token) is resumed at its cursor by the next sync; a full sync starts over instead', async () => {
		const world = await connectedWorld();
		const job = await begin(world.pageId, 'exec-a');
		await recordPage(job, 'exec-a', [inbound(world.pageId, person(), -1)], { next: 'cursor-2', conversations: 1, errors: 2 });
		const [failed] = await rpc<Array<{ status: string; cursor: string; errors: number; last_error: string }>>(service, 'messenger_sync_fail', {
			p_job_id: job.job_id,
			p_holder: 'exec-a',
			p_error: 'The Page token is invalid or expired (Graph 190)',
			p_now: NOW.toISOString(),
		});
		expect(failed).toMatchObject({ status: 'failed', cursor: 'cursor-2', errors: 3, last_error: 'The Page token is invalid or expired (Graph 190)' });

		const resumed = await begin(world.pageId, 'exec-b');
		expect(resumed).toMatchObject({ job_id: job.job_id, resumed: true, status: 'running', cursor: 'cursor-2' });

		const full = await begin(world.pageId, 'exec-b', { full: true });
		expect(full).toMatchObject({ resumed: false, cursor: null, since: null, pages_read: 0 });
		expect(full.job_id).not.toBe(job.job_id);
		const old = await withDb((db) => db.query('select status from public.messenger_sync_jobs where id = $1', [job.job_id]));
		expect(old.rows[0].status).toBe('cancelled');
	});

	it('the next job is incremental: it reads what changed after the newest conversation the last completed job saw', async () => {
		const world = await connectedWorld();
		const first = await begin(world.pageId, 'exec-1');
		const newest = new Date(NOW.getTime() - 3_600_000);
		await recordPage(first, 'exec-1', [], { conversations: 5, newest, done: true });

		const second = await begin(world.pageId, 'exec-2', { now: after(3600) });
		expect(second).toMatchObject({ resumed: false, since: newest.toISOString().replace('.000Z', '+00:00') });
		expect(second.job_id).not.toBe(first.job_id);
		// A full sync ignores it.
		await recordPage(second, 'exec-2', [], { done: true, now: after(3601) });
		expect((await begin(world.pageId, 'exec-3', { full: true, now: after(3700) })).since).toBeNull();
	});

	it('messages the webhook recorded already are duplicates, counted apart', async () => {
		const world = await connectedWorld();
		const someone = person();
		const seen = inbound(world.pageId, someone, -2);
		const { error } = await service.rpc('messenger_record_events', { p_events: [seen], p_now: NOW.toISOString() });
		expect(error).toBeNull();
		const job = await begin(world.pageId, 'exec-1');
		const page = await recordPage(job, 'exec-1', [seen, inbound(world.pageId, someone, -1)], { conversations: 1, done: true });
		expect(page).toMatchObject({ page_messages: 1, page_duplicates: 1, page_new_conversations: 0, messages: 1, duplicates: 1 });
	});

	it('a Page not connected cannot be synced without an owner; with one it is connected', async () => {
		const world = await createWorld();
		await expect(begin(world.pageId, 'exec-1')).rejects.toMatchObject({ code: 'P0002', message: expect.stringContaining('not connected') });
		const job = await begin(world.pageId, 'exec-1', { owner: world.userId });
		expect(job.user_id).toBe(world.userId);
	});

	it('refuses bad arguments by name', async () => {
		const world = await connectedWorld();
		await expect(begin('12x', 'exec')).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('p_page_id') });
		await expect(begin(world.pageId, ' ')).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('p_holder') });
		const job = await begin(world.pageId, 'exec');
		await expect(recordPage(job, 'exec', [], { conversations: -1 })).rejects.toMatchObject({ code: '22023' });
		await expect(recordPage(job, 'exec', [{ type: 'message', page_id: world.pageId, psid: 'x' } as unknown as MessengerEvent], {})).rejects.toMatchObject({
			code: '22023',
			message: expect.stringContaining('p_events[0].psid'),
		});
		// Nothing of the refused page counted.
		const stored = await withDb((db) => db.query('select pages_read from public.messenger_sync_jobs where id = $1', [job.job_id]));
		expect(stored.rows[0].pages_read).toBe(0);
	});
});
