// A healthy but slow database (review RC1b F1): queue_begin_send reaches the database and waits there
// (a row lock held by another transaction: any slow statement will do) past Send's time limit (5 s
// with Lease = Timeout + 30 s, or 5 s after Stop). Send gives up, takes the marks back by the call's
// key (queue_send_not_made) and reports the messages released not_checked; the begin statement runs
// on. Since 20261201002890 the key is taken back in the database: the late begin lets nothing go, so
// the message, never sent, is not left begun (it came back with a later claim, not dead uncertain).
import type { IDataObject } from 'n8n-workflow';
import { Client } from 'pg';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { serviceClient, testStack, untilWaitingForLock, withDb } from '../../helpers/stack';
import { leadsOf, prepareDue, queueOwner } from './support/queue';
import { whatsappSimulator } from './support/send';

const sims = whatsappSimulator();

function sendComplete(entries: IDataObject[], send: IDataObject): WorkflowJson {
	const credentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
	const step = (id: string, name: string, x: number, parameters: IDataObject) => ({ id, name, type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [x, 0], parameters, credentials });
	return {
		name: 'send+complete',
		nodes: [
			{ id: 'q1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'q2', name: 'Entries', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ entries }), options: {} } },
			{ id: 'q3', name: 'One Per Entry', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [400, 0], parameters: { fieldToSplitOut: 'entries', options: {} } },
			step('c3', 'Send', 600, { resource: 'message', operation: 'send', options: send }),
			step('c4', 'Complete', 800, { resource: 'message', operation: 'complete' }),
		],
		connections: {
			Start: { main: [[{ node: 'Entries', type: 'main', index: 0 }]] },
			Entries: { main: [[{ node: 'One Per Entry', type: 'main', index: 0 }]] },
			'One Per Entry': { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

const row = (id: string) =>
	withDb(async (db) => (await db.query('select status, send_started_at is not null as begun, lease_holder from public.whatsapp_message_queue where id = $1', [id])).rows[0]);

/** Holds the message's row in another transaction for `ms`, or until release(). end() also when a test fails. */
async function holdRow(id: string, ms: number): Promise<{ released: Promise<void>; release: () => Promise<void>; end: () => Promise<void> }> {
	const locker = new Client({ connectionString: testStack().dbUrl });
	await locker.connect();
	await locker.query('begin');
	await locker.query('select id from public.whatsapp_message_queue where id = $1 for update', [id]);
	let timer: NodeJS.Timeout | undefined;
	let committed: Promise<void> | undefined;
	const release = () => {
		clearTimeout(timer);
		return (committed ??= locker.query('commit').then(() => undefined));
	};
	const released = new Promise<void>((resolve) => (timer = setTimeout(() => void release().then(resolve), ms)));
	return {
		released,
		release,
		end: async () => {
			clearTimeout(timer);
			await locker.end();
		},
	};
}

/** Resolves once a queue_begin_send statement waits for a row lock. */
async function beginWaits(): Promise<void> {
	for (let i = 0; i < 600; i++) {
		const n = await withDb(async (db) => Number((await db.query("select count(*) from pg_stat_activity where query ilike '%queue_begin_send%' and wait_event_type = 'Lock' and pid <> pg_backend_pid()")).rows[0].count));
		if (n > 0) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error('no queue_begin_send ever waited for the row');
}

/** Waits until no queue_begin_send statement runs any more (the late one committed or rolled back). */
async function beginsDone(): Promise<void> {
	for (let i = 0; i < 100; i++) {
		const n = await withDb(async (db) => Number((await db.query("select count(*) from pg_stat_activity where query ilike '%queue_begin_send%' and state <> 'idle' and pid <> pg_backend_pid()")).rows[0].count));
		if (n === 0) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

async function claimOf(owner: string, count: number): Promise<IDataObject[]> {
	const { data, error } = await serviceClient().rpc('queue_claim', { p_worker: 'slow-w1', p_limit: 10, p_lease_seconds: 300, p_user_id: owner });
	expect(error).toBeNull();
	const claimed = (data as IDataObject[]).map((one) => ({ ...one, worker: 'slow-w1' }));
	expect(claimed).toHaveLength(count);
	return claimed;
}

test('the second group\'s queue_begin_send waits 8 s in the database (Lease = Timeout + 30 s): given up at 5 s, its late commit leaves no mark', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 2);
	await prepareDue(owner);
	const claimed = await claimOf(owner, 2);
	const id = String(claimed[1].item_id);
	// Held 8 s from the moment the second group's begin waits for it, not from before the run starts:
	// on a loaded machine the run took over 3 s to reach that group, the begin then waited under its
	// 5 s limit and got through ('sent', 'sent').
	const lock = await holdRow(id, 60_000);
	try {
		const waiting = beginWaits().then(() => new Promise((resolve) => setTimeout(resolve, 8000))).then(() => lock.release());
		const run = await runWorkflow(sendComplete(claimed, { concurrency: 1, leaseSeconds: 31, timeoutMs: 1000 }), {
			credentials: sims.credentials(),
		});
		const sendOut = (run.nodeOutputs.Send ?? []) as IDataObject[];
		expect(sendOut.map((o) => o.outcome)).toEqual(['sent', 'released']);
		await waiting;
		await beginsDone();
	} finally {
		await lock.end();
	}
	// Never sent, so not begun: the next claim after its lease hands it out again (before: begun, dead uncertain).
	expect(await row(id)).toMatchObject({ begun: false });
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(1);
	const later = await serviceClient({ now: new Date(Date.now() + 600_000) }).rpc('queue_claim', { p_worker: 'slow-w2', p_limit: 10, p_lease_seconds: 300, p_user_id: owner });
	expect(later.error).toBeNull();
	expect((later.data as IDataObject[]).map((one) => one.item_id)).toEqual([id]);
}, 90_000);

test('the first group\'s queue_begin_send waits 8 s in the database (Lease = Timeout + 30 s): stopped by its time limit at 5 s, not repeated (review RC1b F2)', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 1);
	await prepareDue(owner);
	const claimed = await claimOf(owner, 1);
	const id = String(claimed[0].item_id);
	// Held 8 s from the moment the begin waits for it (as in the first test: not from before the run starts).
	const lock = await holdRow(id, 60_000);
	const realFetch = globalThis.fetch;
	let begins = 0;
	globalThis.fetch = (async (url: unknown, init?: unknown) => {
		if (String(url).includes('queue_begin_send')) begins++;
		return realFetch(url as never, init as never);
	}) as typeof fetch;
	try {
		const waiting = beginWaits().then(() => new Promise((resolve) => setTimeout(resolve, 8000))).then(() => lock.release());
		let run: Awaited<ReturnType<typeof runWorkflow>>;
		try {
			run = await runWorkflow(sendComplete(claimed, { concurrency: 1, leaseSeconds: 31, timeoutMs: 1000 }), {
				credentials: sims.credentials(),
			});
		} finally {
			globalThis.fetch = realFetch;
		}
		// One statement, not one more every few seconds piling up behind the first on the same row.
		expect(begins).toBe(1);
		const sendOut = (run.nodeOutputs.Send ?? []) as IDataObject[];
		expect(sendOut.map((o) => [o.outcome, (o.error as IDataObject | undefined)?.code])).toEqual([['released', 'not_checked']]);
		await waiting;
		await beginsDone();
	} finally {
		await lock.end();
	}
	expect(await row(id)).toMatchObject({ begun: false });
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(0);
}, 90_000);

test('Stop 0.5 s into a queue_begin_send that waits 12 s in the database: given up 5 s after Stop, its late commit leaves no mark', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 1);
	await prepareDue(owner);
	const claimed = await claimOf(owner, 1);
	const id = String(claimed[0].item_id);
	const lock = await holdRow(id, 12000);
	const realFetch = globalThis.fetch;
	const stop = new AbortController();
	let stopping = false;
	globalThis.fetch = (async (url: unknown, init?: unknown) => {
		if (!stopping && String(url).includes('queue_begin_send')) {
			stopping = true;
			setTimeout(() => stop.abort(), 500);
		}
		return realFetch(url as never, init as never);
	}) as typeof fetch;
	try {
		await runWorkflow(sendComplete(claimed, {}), {
			cancel: stop.signal,
			credentials: sims.credentials(),
		});
	} finally {
		globalThis.fetch = realFetch;
	}
	await lock.released;
	await beginsDone();
	await lock.end();
	expect(await row(id)).toMatchObject({ begun: false });
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(0);
}, 90_000);

test('queue_send_not_made with a key takes it back: a queue_begin_send with it that comes later lets nothing go; another key still does', async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	await leadsOf(owner, 1);
	await prepareDue(owner);
	const claimed = await claimOf(owner, 1);
	const id = String(claimed[0].item_id);
	const phone = String(claimed[0].phone);
	const key = '6f1c2b0e-0000-4000-8000-000000000001';
	const db = serviceClient();
	expect((await db.rpc('queue_send_not_made', { p_worker: 'slow-w1', p_item_ids: [id], p_begin_key: key })).error).toBeNull();
	const late = await db.rpc('queue_begin_send', { p_worker: 'slow-w1', p_item_ids: [id], p_phones: [phone], p_begin_key: key });
	expect(late.error?.message).toMatch(/p_begin_key: this call's key was taken back/);
	expect(await row(id)).toMatchObject({ status: 'claimed', begun: false });
	const fresh = await db.rpc('queue_begin_send', { p_worker: 'slow-w1', p_item_ids: [id], p_phones: [phone], p_begin_key: '6f1c2b0e-0000-4000-8000-000000000002' });
	expect(fresh.error).toBeNull();
	expect((fresh.data as IDataObject[]).map((one) => one.send)).toEqual([true]);
});

// Review RMC1 F2 (of 20261201002890): queue_send_not_made deletes the keys taken back more than two days
// ago, then waits for its own key's running begin, keeping the deleted rows locked. Another Send's
// queue_send_not_made finding the same aged key waited for that row, so for the first Send's slow begin
// (8 s here, against ~0.01 s). Since 20261201002891 the cleanup skips rows another call holds.
test('one Send\'s queue_send_not_made never waits for another Send\'s slow begin through the cleanup of an aged taken-back key', async () => {
	const claimedBy = async () => {
		const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
		await leadsOf(owner, 1);
		await prepareDue(owner);
		return (await claimOf(owner, 1))[0];
	};
	const a = await claimedBy();
	const b = await claimedBy();
	// As the node calls them: the service role (its grants are what a hosted project gives).
	const asService = async () => {
		const client = new Client({ connectionString: testStack().dbUrl });
		await client.connect();
		await client.query('set role service_role');
		return client;
	};
	const pidOf = async (client: Client) => Number((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
	await withDb((db) => db.query("insert into leadflow_private.queue_begin_keys_taken_back values (gen_random_uuid(), now() - interval '3 days')"));
	const lock = await holdRow(String(a.item_id), 8000);
	const [begin, takeBackA, takeBackB] = [await asService(), await asService(), await asService()];
	const [beginPid, takeBackAPid] = [await pidOf(begin), await pidOf(takeBackA)];
	try {
		// Send A's begin waits for the row lock; Send A gives up and takes its key back (waits for that begin, by design).
		const keyA = '6f1c2b0e-0000-4000-8000-0000000000a1';
		const beginDone = begin.query("select * from public.queue_begin_send('slow-w1', array[$1]::uuid[], array[$2]::text[], '{}', 300, now(), $3::uuid)", [a.item_id, a.phone, keyA]).catch((error: Error) => error);
		await untilWaitingForLock(beginPid);
		const takenBackA = takeBackA.query("select * from public.queue_send_not_made('slow-w1', array[$1]::uuid[], now(), $2::uuid)", [a.item_id, keyA]);
		await untilWaitingForLock(takeBackAPid);
		// Send B (another owner, message and key) takes its own key back: at once.
		const started = Date.now();
		await takeBackB.query("select * from public.queue_send_not_made('slow-w1', array[$1]::uuid[], now(), $2::uuid)", [b.item_id, '6f1c2b0e-0000-4000-8000-0000000000b1']);
		expect(Date.now() - started).toBeLessThan(4000);
		await lock.released;
		await beginDone;
		await takenBackA;
		// (The begin committed first, then Send A's take-back cleared what it set.)
		expect(await row(String(a.item_id))).toMatchObject({ status: 'claimed', begun: false });
	} finally {
		await lock.end();
		for (const client of [begin, takeBackA, takeBackB]) await client.end();
	}
	// The aged key was deleted all the same (by Send A's call).
	expect(await withDb(async (db) => Number((await db.query("select count(*) from leadflow_private.queue_begin_keys_taken_back where taken_back_at < now() - interval '2 days'")).rows[0].count))).toBe(0);
}, 60_000);
