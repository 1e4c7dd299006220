// The ledger is the queue's single source of truth: every insert and status change of a lead, a
// backlog item and a message has its row, in order, so replaying an item's rows gives its current
// state, whatever sequence of operations got it there (random sequences from a seeded generator:
// a failure names its seed and replays exactly). No API role may change or delete a ledger row,
// and no writer can move an item outside the status machine.
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import type { ClaimedMessage, SendResult } from '../../../nodes/shared/contract';
import { anonClient, serviceClient, userClient, withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, ledger, leadItems, messages, NOW, phone, prepare, takeLead } from './fixtures';

/** The random operations of one run, applied to a new owner; returns the owner. */
async function randomRun(seed: number, steps: number): Promise<{ userId: string; log: string[] }> {
	const rng: RandomGenerator = xoroshiro128plus(seed);
	const int = (min: number, max: number) => unsafeUniformIntDistribution(min, max, rng);
	const pick = <T>(values: T[]): T => values[int(0, values.length - 1)];
	const userId = await createOwner({ daily_capacity: 8, max_attempts: 2, retry_backoff_seconds: 600, send_from: '08:00', send_until: '20:00' });
	const log: string[] = [];
	let now = Date.parse(NOW);
	const iso = () => new Date(now).toISOString();
	const leadIds: string[] = [];
	const phones: string[] = [];
	const held = new Map<string, { worker: string; item: ClaimedMessage }>();

	for (let step = 0; step < steps; step++) {
		// The first day's leads are prepared on Wednesday; from step 3 on the clock is in Thursday's
		// sending hours and moves by minutes (now and then by hours: leases run out, days change).
		if (step === 3) now = Date.parse('2026-11-26T08:00:00.000Z');
		const op = step < 2 ? (['add', 'prepare'] as const)[step] : pick(['add', 'add', 'prepare', 'claim', 'claim', 'claim', 'complete', 'complete', 'complete', 'complete', 'crash', 'take', 'owner', 'time', 'time']);
		log.push(`${step}:${op}@${iso()}`);
		if (op === 'add') {
			// New leads, and now and then a phone seen before (deduplicated: existing).
			const items = leadItems(userId, int(1, 4), () => int(0, 100)).map((item) => (phones.length && int(0, 3) === 0 ? { ...item, phone: pick(phones) } : item));
			const rows = await addLeads(items, iso());
			for (const [i, row] of rows.entries()) {
				if (row.outcome === 'created') leadIds.push(row.lead_id);
				phones.push(items[i].phone!);
			}
		} else if (op === 'prepare') {
			await prepare(userId, iso());
		} else if (op === 'claim') {
			const worker = pick(['w1', 'w2', 'w3']);
			for (const item of await claim(worker, userId, iso(), int(1, 5), pick([60, 600, 3600]))) held.set(item.item_id, { worker, item });
		} else if (op === 'complete' && held.size) {
			// Reports from the holder, or from a worker whose item was taken meanwhile (refused).
			const reports = new Map<string, SendResult[]>();
			for (const [itemId, { worker }] of [...held].slice(0, int(1, held.size))) {
				const outcome = pick(['sent', 'failed', 'failed', 'failed', 'released', 'permanent'] as const);
				const result: SendResult =
					outcome === 'sent'
						? { item_id: itemId, outcome, message_id: `wamid.${seed}.${step}.${itemId.slice(0, 4)}` }
						: outcome === 'released'
							? { item_id: itemId, outcome }
							: { item_id: itemId, outcome: 'failed', error: { code: '131000', message: 'random failure', permanent: outcome === 'permanent' } };
				reports.set(worker, [...(reports.get(worker) ?? []), result]);
				held.delete(itemId);
			}
			for (const [worker, results] of reports) await complete(worker, results, iso());
		} else if (op === 'crash') {
			// A worker dies holding its items: they come back when their leases run out.
			const worker = pick(['w1', 'w2', 'w3']);
			for (const [itemId, holder] of [...held]) if (holder.worker === worker) held.delete(itemId);
		} else if (op === 'take' && leadIds.length) {
			// A lead nobody may message (do_not_contact, not_interested, invalid) keeps its status; what
			// waits for it is cancelled all the same.
			await takeLead(pick(leadIds), { now: iso(), reason: `seed ${seed}` });
		} else if (op === 'owner' && leadIds.length) {
			// The owner's app changes a lead's status directly (back to new included).
			const status = pick(['new', 'engaged', 'booked', 'do_not_contact', 'not_interested']);
			const { error } = await userClient(userId, { now: new Date(now) }).from('leads').update({ status }).eq('id', pick(leadIds));
			expect(error).toBeNull();
		} else if (op === 'time') {
			now += pick([1, 5, 15, 60, 4 * 60]) * 60_000;
		}
	}
	return { userId, log };
}

/** Each item's current state, and the state its ledger rows replay to. */
async function replay(userId: string) {
	const rows = await ledger(userId);
	const replayed = new Map<string, { status: string | null; attempts: number | null; rows: number; chained: boolean }>();
	for (const row of rows) {
		const key = `${row.queue}:${row.item_id}`;
		const state = replayed.get(key) ?? { status: null, attempts: null, rows: 0, chained: true };
		// Each row starts where the previous one ended (the first from nothing: the insert).
		state.chained &&= row.from_status === state.status;
		replayed.set(key, { status: row.to_status, attempts: row.attempt, rows: state.rows + 1, chained: state.chained });
	}
	const current = await withDb(async (db) =>
		(
			await db.query<{ key: string; status: string; attempts: number | null }>(
				`select 'leads:' || id as key, status, null::int as attempts from public.leads where user_id = $1
				 union all select 'lead_processing_queue:' || id, status, attempts from public.lead_processing_queue where user_id = $1
				 union all select 'whatsapp_message_queue:' || id, status, attempts from public.whatsapp_message_queue where user_id = $1`,
				[userId],
			)
		).rows,
	);
	return { rows, replayed, current: new Map(current.map((row) => [row.key, { status: row.status, attempts: row.attempts }])) };
}

describe('the ledger is complete', () => {
	const reached = new Set<string>();

	it.each([[1], [7], [2026], [424242]])('random operations (seed %i): replaying each item\'s ledger rows gives its current state', async (seed) => {
		const { userId, log } = await randomRun(seed, 120);
		const { rows, replayed, current } = await replay(userId);
		expect(rows.length).toBeGreaterThan(0);
		const mismatches = [...current].flatMap(([key, state]) => {
			const replay = replayed.get(key);
			const ok = replay && replay.chained && replay.status === state.status && (key.startsWith('leads:') || replay.attempts === state.attempts);
			return ok ? [] : [{ key, state, replay }];
		});
		// Nothing in the ledger that is not in the tables either.
		const orphans = [...replayed.keys()].filter((key) => !current.has(key));
		expect({ seed, mismatches, orphans }).toEqual({ seed, mismatches: [], orphans: [] });
		expect(log).toHaveLength(120);
		for (const row of rows) reached.add(row.queue === 'whatsapp_message_queue' ? `${row.to_status} (${row.reason})` : `${row.queue}: ${row.reason}`);
	});

	it('those runs went through every status and every kind of change (else the property would be too easy)', () => {
		const wanted = [
			'queued (prepared)',
			'claimed (claimed)',
			'claimed (lease_expired)',
			'sent (sent)',
			'failed (send_failed)',
			'dead (max_attempts)',
			'dead (permanent_error)',
			'queued (released)',
			'cancelled (human_takeover)',
			'cancelled (lead_not_interested)',
			'lead_processing_queue: reopened',
			'leads: message_sent',
			'leads: message_dead',
			'leads: human_takeover',
		];
		expect(wanted.filter((change) => !reached.has(change))).toEqual([]);
	});

	it('each row says who acted and why: the automation with its worker, a person with their id, the owner\'s app as a user', async () => {
		const userId = await createOwner({ daily_capacity: 2 });
		const [first, second] = await addLeads(leadItems(userId, 2, (i) => 50 + i));
		await prepare(userId);
		const at = '2026-11-26T09:00:00.000Z';
		const [item] = await claim('worker-7', userId, at, 1);
		await complete('worker-7', [{ item_id: item.item_id, outcome: 'sent', message_id: 'wamid.abc' }], at);
		await takeLead(first.lead_id === item.lead_id ? second.lead_id : first.lead_id, { actorId: userId, reason: 'Called back', now: at });
		const rows = (await ledger(userId)).filter((row) => row.queue === 'whatsapp_message_queue');
		expect(rows.map((row) => [row.from_status, row.to_status, row.actor, row.worker, row.reason])).toEqual([
			[null, 'queued', 'automation', null, 'prepared'],
			[null, 'queued', 'automation', null, 'prepared'],
			['queued', 'claimed', 'automation', 'worker-7', 'claimed'],
			['claimed', 'sent', 'automation', 'worker-7', 'sent'],
			['queued', 'cancelled', 'user', null, 'human_takeover'],
		]);
		expect(rows[3].detail).toEqual({ message_id: 'wamid.abc' });
		expect(rows[4]).toMatchObject({ actor_id: userId, detail: { note: 'Called back', take_over_id: expect.any(String) } });
		expect(rows[3].at.toISOString()).toBe(at);
		// A message cancelled by its lead's change carries the lead's time.
		expect(rows[4].at.toISOString()).toBe(at);
		const cancelled = (await messages(userId)).find((message) => message.id === rows[4].item_id)!;
		expect({ status: cancelled.status, completed_at: cancelled.completed_at?.toISOString() }).toEqual({ status: 'cancelled', completed_at: at });
		// The owner's app changing a lead directly: actor user, their id.
		await userClient(userId, { now: new Date(at) }).from('leads').update({ status: 'booked' }).eq('id', item.lead_id);
		const last = (await ledger(userId)).at(-1)!;
		expect(last).toMatchObject({ queue: 'leads', item_id: item.lead_id, from_status: 'contacted', to_status: 'booked', actor: 'user', actor_id: userId, reason: 'updated' });
	});
});

describe('the ledger is append-only', () => {
	let userId: string;
	let rowId: string;

	beforeAll(async () => {
		userId = await createOwner();
		await addLeads([{ user_id: userId, name: 'Ledger', phone: phone() }]);
		rowId = (await ledger(userId))[0].id;
	});

	it.each([
		['the owner', () => userClient(userId)],
		['the service role', () => serviceClient()],
		['anon', () => anonClient()],
	])('%s can neither insert, update nor delete a ledger row', async (_who, client) => {
		const api = client();
		const update = await api.from('queue_ledger').update({ reason: 'forged' }).eq('id', rowId).select('id');
		expect(update.error?.code).toBe('42501');
		const remove = await api.from('queue_ledger').delete().eq('id', rowId).select('id');
		expect(remove.error?.code).toBe('42501');
		const insert = await api.from('queue_ledger').insert({ user_id: userId, queue: 'leads', item_id: userId, lead_id: userId, to_status: 'new', actor: 'user', reason: 'forged', at: NOW });
		expect(insert.error?.code).toBe('42501');
		expect((await ledger(userId)).map((row) => row.reason)).toEqual(['added', 'added']);
	});

	it('even the database owner cannot update, delete or truncate it (a trigger refuses); rows go only with their lead', async () => {
		const attempts = await withDb(async (db) => {
			const codes: string[] = [];
			for (const sql of [
				`update public.queue_ledger set reason = 'forged' where id = ${rowId}`,
				`delete from public.queue_ledger where id = ${rowId}`,
				'truncate public.queue_ledger',
			]) {
				try {
					await db.query(sql);
					codes.push('allowed');
				} catch (error) {
					codes.push((error as { code: string }).code);
				}
			}
			return codes;
		});
		expect(attempts).toEqual(['42501', '42501', '42501']);
		expect(await ledger(userId)).toHaveLength(2);
		// Deleting the lead (the owner's right) takes its history with it.
		const { error } = await userClient(userId).from('leads').delete().eq('user_id', userId);
		expect(error).toBeNull();
		expect(await ledger(userId)).toEqual([]);
	});
});

describe('the status machine', () => {
	it('no writer can move a message outside it: a sent message never goes back, a queued one is never sent without a claim', async () => {
		const userId = await createOwner({ daily_capacity: 2 });
		await addLeads(leadItems(userId, 2));
		await prepare(userId);
		const at = '2026-11-26T16:00:00.000Z';
		const [a, b] = await claim('w-machine', userId, at);
		await complete('w-machine', [{ item_id: a.item_id, outcome: 'sent', message_id: 'wamid.1' }], at);
		const service = serviceClient();
		const back = await service.from('whatsapp_message_queue').update({ status: 'queued', completed_at: null }).eq('id', a.item_id);
		expect(back.error?.code).toBe('23514');
		expect(back.error?.message).toBe(`whatsapp_message_queue: item ${a.item_id} cannot go from sent to queued`);
		await complete('w-machine', [{ item_id: b.item_id, outcome: 'released' }], at);
		const skip = await service.from('whatsapp_message_queue').update({ status: 'sent', message_id: 'wamid.2', completed_at: at }).eq('id', b.item_id);
		expect(skip.error?.message).toBe(`whatsapp_message_queue: item ${b.item_id} cannot go from queued to sent`);
		const inserted = await service.from('lead_processing_queue').insert({ user_id: userId, lead_id: b.lead_id, status: 'sent', scheduled_for: at, dedupe_key: 'forged', created_at: at, updated_at: at });
		expect(inserted.error?.code).toBe('23514');
		// What a message says is checked when it is queued, and fixed from then on.
		const rewrite = await service.from('whatsapp_message_queue').update({ message: { type: 'text', text: 'Something else' } }).eq('id', b.item_id);
		expect(rewrite.error?.message).toBe(`whatsapp_message_queue: the message of item ${b.item_id} cannot change once queued`);
		const bad = await service.from('whatsapp_message_queue').insert({
			user_id: userId, lead_id: b.lead_id, day: '2026-11-27', phone: '+14155550100', message: { type: 'text', text: '' }, scheduled_for: at, dedupe_key: 'x:bad', created_at: at, updated_at: at,
		});
		expect(bad.error?.message).toMatch(/^message\.text: required/);
	});
});
