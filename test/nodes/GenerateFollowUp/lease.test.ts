// GenerateFollowUp holds its contacts with a short lease renewed while it works (a heartbeat), not
// with one lease for the whole batch: against the local stack and the Gemini simulator made slow,
// the lease of the contacts being generated never ends further than Lease (Seconds) ahead and keeps
// moving forward, one call per renewal for the whole batch, none after the results are recorded;
// and a worker killed mid-batch stops renewing, so its contacts are claimable again once that short
// lease has run out, not after the time the whole batch could have taken.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { startChildWorker, stopChildWorkers } from '../../helpers/child-workers';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { claimedContacts, statesOf } from './support/claimed';
import { runGenerate } from './support/workflow';

const MODEL = 'gemini-3-flash';
/** The node's lease in these tests: renewed every 2 s. */
const LEASE_SECONDS = 6;
/** The claim's lease: shorter than the node's, so what holds the contacts after the claim is the node's. */
const CLAIM_LEASE_SECONDS = 5;

let sims: RunningSimulators;
let counter: RpcCounter;

beforeAll(async () => {
	sims = await startSimulators();
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	stopChildWorkers();
	await sims.stop();
	await counter.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	counter.reset();
});

function credentials(supabaseUrl: string) {
	return {
		leadflowGeminiApi: { apiKeys: `lease-key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: MODEL },
		leadflowSupabaseApi: { url: supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
	};
}

const parameters = (options: IDataObject): IDataObject => ({ options: { retryDelayMs: 10, leaseSeconds: LEASE_SECONDS, concurrency: 1, ...options } });

interface Lease {
	/** The database's now, epoch ms. */
	now: number;
	stage: string;
	lockedBy: string | null;
	/** epoch ms */
	lockedUntil: number;
}

/** The contacts' leases as the database sees them, by its own clock. */
function leasesOf(stateIds: string[]): Promise<Lease[]> {
	return withDb(async (db) => {
		const { rows } = await db.query<{ id: string; now: Date; stage: string; locked_by: string | null; locked_until: Date }>(
			`select id, clock_timestamp() as now, current_stage as stage, locked_by, locked_until
			   from public.ai_automation_contact_states where id = any ($1::uuid[])`,
			[stateIds],
		);
		return stateIds.map((id) => {
			const row = rows.find((candidate) => candidate.id === id)!;
			return { now: row.now.getTime(), stage: row.stage, lockedBy: row.locked_by, lockedUntil: row.locked_until?.getTime() };
		});
	});
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stageCalls = () => counter.paths.filter((path) => path.startsWith('/rest/v1/rpc/automation_')).map((path) => path.replace('/rest/v1/rpc/automation_', ''));

it('while Gemini is slow, the short lease is renewed for the whole batch in one call each time, and no more once the results are recorded', async () => {
	const batch = await claimedContacts(3, {}, CLAIM_LEASE_SECONDS);
	const claimEnds = Date.parse(String(batch.items[0].lease_expires_at));
	// One call at a time, 2.5 s each: about 7.5 s of generation, past the claim's lease.
	await sims.gemini.control.setLatency(2_500, ':generateContent');
	const run = runGenerate(batch.items, parameters({ timeoutMs: 20_000 }), credentials(counter.url));
	let finished = false;
	void run.finally(() => (finished = true));

	const samples: Lease[] = [];
	let taken: unknown[] | undefined;
	while (!finished) {
		const leases = await leasesOf(batch.stateIds);
		if (!finished && leases.every((lease) => lease.stage === 'generating')) samples.push(...leases);
		// Once the claim's lease has ended, another run's claim finds the contacts held still.
		if (taken === undefined && leases[0].now > claimEnds + 1_000 && leases.every((lease) => lease.stage === 'generating')) {
			const { data, error } = await serviceClient().rpc('automation_claim', { p_rule_id: batch.ruleId, p_limit: 10, p_execution_id: `exec-${randomUUID()}` });
			expect(error).toBeNull();
			taken = data as unknown[];
		}
		await sleep(250);
	}
	const { generated, failed } = await run;
	expect(failed).toEqual([]);
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send', 'ready_to_send']);
	expect(taken).toEqual([]);

	// Never held further ahead than the node's lease (the claim's lease aside), always ahead of now.
	expect(samples.length).toBeGreaterThan(10);
	for (const sample of samples) {
		expect(sample.lockedBy).toBe(batch.executionId);
		expect(sample.lockedUntil).toBeGreaterThan(sample.now);
		expect(sample.lockedUntil - sample.now).toBeLessThanOrEqual(Math.max(LEASE_SECONDS * 1_000, claimEnds - sample.now) + 250);
	}
	// ... and moved forward as the batch went on, past the claim's lease and the first one.
	const ends = [...new Set(samples.map((sample) => sample.lockedUntil))].sort((a, b) => a - b);
	expect(ends.length).toBeGreaterThanOrEqual(3);
	expect(ends.at(-1)! - ends[0]).toBeGreaterThanOrEqual(3_000);
	expect(ends.at(-1)!).toBeGreaterThan(claimEnds + 2_000);

	// One call per renewal for the three contacts, every one between the move to generating and the record.
	const calls = stageCalls();
	expect(calls[0]).toBe('mark_generating');
	expect(calls.at(-1)).toBe('record_generation');
	const renewals = calls.slice(1, -1);
	expect(new Set(renewals)).toEqual(new Set(['renew_generating']));
	expect(renewals.length).toBeGreaterThanOrEqual(2);
	expect(renewals.length).toBeLessThanOrEqual(5);

	// No timer left behind: two renewal periods later, nothing more was renewed.
	const recorded = await leasesOf(batch.stateIds);
	await sleep(((LEASE_SECONDS * 1_000) / 3) * 2 + 500);
	expect(stageCalls()).toEqual(calls);
	expect((await leasesOf(batch.stateIds)).map((lease) => [lease.stage, lease.lockedUntil])).toEqual(recorded.map((lease) => ['ready_to_send', lease.lockedUntil]));
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['ready_to_send', 'ready_to_send', 'ready_to_send']);
});

it('a worker killed mid-batch stops renewing: its contacts are claimable again once the short lease has run out, not after the whole batch', async () => {
	const batch = await claimedContacts(3, {}, CLAIM_LEASE_SECONDS);
	// Gemini hangs: the batch could take minutes (3 contacts, one at a time, 60 s timeout each).
	await sims.gemini.control.setLatency(15_000, ':generateContent');
	const worker = startChildWorker<unknown>('test/nodes/GenerateFollowUp/support/child-generate.ts', {
		items: batch.items,
		parameters: parameters({ timeoutMs: 60_000, maxRetries: 0 }),
		credentials: credentials(testStack().supabaseUrl),
	});
	await worker.ready;
	worker.child.stdin?.write('go\n');
	await sims.gemini.control.waitForRequests(1, { timeoutMs: 30_000 });

	// The worker renews: the lease moves forward past the first one it set.
	const first = await leasesOf(batch.stateIds);
	expect(first.map((lease) => [lease.stage, lease.lockedBy])).toEqual(Array(3).fill(['generating', batch.executionId]));
	let renewed = first;
	for (let tries = 0; tries < 40 && renewed[0].lockedUntil <= first[0].lockedUntil; tries++) {
		await sleep(250);
		renewed = await leasesOf(batch.stateIds);
	}
	expect(renewed[0].lockedUntil).toBeGreaterThan(first[0].lockedUntil);

	// The worker dies.
	worker.child.kill('SIGKILL');
	await new Promise((resolve) => (worker.child.exitCode !== null || worker.child.signalCode !== null ? resolve(null) : worker.child.once('exit', resolve)));
	const atDeath = await leasesOf(batch.stateIds);
	for (const lease of atDeath) {
		expect(lease).toMatchObject({ stage: 'generating', lockedBy: batch.executionId });
		expect(lease.lockedUntil - lease.now).toBeLessThanOrEqual(LEASE_SECONDS * 1_000 + 250);
	}
	const death = atDeath[0].now;
	const claimAt = async (ms: number) => {
		const { data, error } = await serviceClient().rpc('automation_claim', {
			p_rule_id: batch.ruleId,
			p_limit: 10,
			p_execution_id: `exec-${randomUUID()}`,
			p_now: new Date(death + ms).toISOString(),
		});
		expect(error).toBeNull();
		return (data as IDataObject[]).map((item) => String(item.state_id)).sort();
	};
	// Still held just after the death; free once the short lease has run out (the reaper requeues
	// them at the next claim), seconds later rather than at the end of the batch's minutes.
	expect(await claimAt(0)).toEqual([]);
	expect(await claimAt(LEASE_SECONDS * 1_000 + 1_000)).toEqual([...batch.stateIds].sort());
});

it('a renewal that fails (the gateway answers 503) does not fail the batch: the next one renews the lease', async () => {
	const batch = await claimedContacts(2, {}, CLAIM_LEASE_SECONDS);
	const claimEnds = Date.parse(String(batch.items[0].lease_expires_at));
	await sims.gemini.control.setLatency(4_000, ':generateContent');
	counter.failNext('automation_renew_generating', 1);
	const { generated, failed } = await runGenerate(batch.items, parameters({ timeoutMs: 20_000 }), credentials(counter.url));

	expect(failed).toEqual([]);
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send']);
	// About 8 s of generation, a renewal every 2 s: the first was refused, the next ones held the
	// contacts past the claim's lease and the node's first one (which ended about 6 s in).
	const renewals = stageCalls().filter((call) => call === 'renew_generating');
	expect(renewals.length).toBeGreaterThanOrEqual(3);
	for (const lease of await leasesOf(batch.stateIds)) {
		expect(lease).toMatchObject({ stage: 'ready_to_send', lockedBy: batch.executionId });
		expect(lease.lockedUntil).toBeGreaterThan(claimEnds + 3_000);
	}
});

it('a batch of two claims: when the renewal of one holder fails, the other holder is still renewed in the same beat', async () => {
	// Items merged from two runs' claims: two holders, one renewal call each per beat, the first
	// holder's first.
	const first = await claimedContacts(1, {}, CLAIM_LEASE_SECONDS);
	const second = await claimedContacts(1, {}, CLAIM_LEASE_SECONDS);
	await sims.gemini.control.setLatency(2_500, ':generateContent');
	counter.failNext('automation_renew_generating', 1);
	const { generated, failed } = await runGenerate([...first.items, ...second.items], parameters({ timeoutMs: 20_000 }), credentials(counter.url));

	expect(failed).toEqual([]);
	expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send']);
	// The renewals in the order they were asked: the first beat asked for the first holder (answered
	// 503) and then for the second, rather than giving up on the beat at the first failure.
	const holders = counter.requests
		.filter((request) => request.path.endsWith('/rpc/automation_renew_generating'))
		.map((request) => (JSON.parse(request.body) as { p_execution_id: string }).p_execution_id);
	expect(holders.slice(0, 2)).toEqual([first.executionId, second.executionId]);
	expect(holders.length).toBeGreaterThanOrEqual(4);
	expect((await statesOf([...first.stateIds, ...second.stateIds])).map((state) => state.current_stage)).toEqual(['ready_to_send', 'ready_to_send']);
});
