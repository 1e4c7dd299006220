// A sender killed while Facebook holds its sends leaves nothing stuck and nothing resent: the
// workflow runs in a child process, the Graph simulator holds the first send, the child is killed
// with SIGKILL, the held send is released (Facebook did receive it), and after the lease ran out
// the next run's claim turns every contact left in sending into failed send_uncertain, while the
// same items sent again are duplicates that never reach Graph.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { ledgerOf, PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend, SEQUENTIAL } from './support/workflow';

const LEASE_SECONDS = 5;
let sims: RunningSimulators;
let child: ChildProcess | undefined;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	await sims.stop();
});

const credentials = () => ({
	leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl),
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
});

function startChild(job: unknown): ChildProcess {
	const file = path.join(mkdtempSync(path.join(tmpdir(), 'leadflow-send-')), 'job.json');
	writeFileSync(file, JSON.stringify(job));
	// `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild, which SIGKILL
	// on the CLI would leave running.
	return spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'child-send.ts'), file], {
		cwd: path.resolve(__dirname, '..', '..', '..'),
		stdio: ['ignore', 'pipe', 'pipe'],
	});
}

const exited = (process: ChildProcess) => new Promise<NodeJS.Signals | number | null>((resolve) => process.once('exit', (code, signal) => resolve(signal ?? code)));

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

test('killed mid-send: nothing stuck, nothing resent, the contacts show send_uncertain', async () => {
	const batch = await readyContacts({ count: 3 });
	await sims.graph.control.addFault({ match: { path: '/messages' }, effect: { kind: 'hold' } });
	// One call at a time, so exactly one send is held when the process dies.
	// The claim is held the Timeout and 5 s longer than calls may start (to record them): 5 s keeps it short.
	const parameters = { ...SEQUENTIAL, options: { ...SEQUENTIAL.options, leaseSeconds: LEASE_SECONDS, timeoutSeconds: 5 } };

	child = startChild({ items: batch.items, parameters, credentials: credentials() });
	const childExit = exited(child);
	let childErrors = '';
	child.stderr?.on('data', (chunk: Buffer) => (childErrors += chunk.toString()));
	await sims.graph.control
		.waitForRequests((requests) => requests.some((request) => request.outcome === 'held'), { timeoutMs: 50_000 })
		.catch((error: Error) => {
			throw new Error(`${error.message}; the sending process said: ${childErrors || '(nothing)'}`);
		});
	// The batch took the guard for all three before calling Graph.
	expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['sending', 'sending', 'sending']);

	child.kill('SIGKILL');
	expect(await childExit).toBe('SIGKILL');
	// Facebook received the held send after all: it is delivered although the sender is gone.
	expect(await sims.graph.control.release()).toBe(1);
	await sims.graph.control.clearFaults();
	expect(await sims.graph.control.messages()).toHaveLength(1);

	// The lease runs out (5 s + 1 s for the rate + 5 s of Timeout + 5 s to record)…
	await waitUntil(async () => {
		const { rows } = await withDb((db) =>
			db.query(`select count(*)::int n from public.ai_automation_contact_states where id = any($1::uuid[]) and locked_until > now()`, [batch.stateIds]),
		);
		return rows[0].n === 0;
	}, 20_000);

	// …and the next run's claim reaps: every contact left in sending becomes failed send_uncertain
	// and none of them is claimed again.
	const { data: claimed, error } = await serviceClient().rpc('automation_claim', {
		p_rule_id: batch.ruleId,
		p_limit: 10,
		p_execution_id: `exec-${randomUUID()}`,
	});
	expect(error).toBeNull();
	expect(claimed).toEqual([]);
	const states = await statesOf(batch.stateIds);
	expect(states.map((state) => [state.current_stage, state.error_code, state.retry_at])).toEqual([
		['failed', 'send_uncertain', null],
		['failed', 'send_uncertain', null],
		['failed', 'send_uncertain', null],
	]);
	expect((await ledgerOf(batch.ruleId)).map((row) => row.status)).toEqual(['uncertain', 'uncertain', 'uncertain']);

	// The same items sent again (a retried execution) are duplicates: Graph is not called.
	const again = await runSend(batch.items, FAST, credentials());
	expect(again.skipped.map((item) => item.send)).toEqual(batch.items.map(() => ({ outcome: 'duplicate', reason: 'uncertain', followUpNumber: 1 })));
	expect(await sims.graph.control.requests()).toHaveLength(1);
	expect(await sims.graph.control.messages()).toHaveLength(1);
}, 90_000);
