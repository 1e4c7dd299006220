// A lost lease in workflows/tag-monitor-send.json's answer: another execution holds the contact
// (it took it over), so nothing failed: the run that holds it sends it, or the next run claims it.
// Summarise Run counted it as failed when Generate Follow-Up found it (its Failed output, error
// lease_lost) and as skipped when Facebook Send did (its Skipped output, send.outcome lease_lost).
// Both are now skipped, `skippedByReason.lease_lost` (docs/follow-up.md, "What Trigger Now answers").
// Through n8n's engine in-process against the local stack and the simulators: one contact is taken
// over while its follow-up is being generated (the Gemini call held meanwhile), another just before
// Facebook Send's begin (a pass-through to the stack's Supabase that writes the take-over before it
// forwards automation_begin_send), the third is sent.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { testStack, withDb } from '../helpers/stack';
import { graphSends, pipelineCredentials, triggerNow } from './support/pipeline';
import { dueContacts } from './support/seeds';

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

/** Another execution takes the contact over (what a claim after this run's lease does). */
const takeOver = (stateId: string) =>
	withDb((db) => db.query(`update public.ai_automation_contact_states set locked_by = 'another-execution' where id = $1`, [stateId]));

/** The stack's Supabase, with `beforeBegin` run (once) before the first automation_begin_send is forwarded. */
async function supabaseWithHook(beforeBegin: () => Promise<unknown>) {
	const upstream = new URL(testStack().supabaseUrl);
	let hooked = false;
	const server = createServer((incoming, outgoing) => {
		const forward = () => {
			const forwarded = request(
				{ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
				(answer) => {
					outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
					answer.pipe(outgoing);
				},
			);
			forwarded.on('error', (error) => {
				outgoing.writeHead(502);
				outgoing.end(String(error));
			});
			incoming.pipe(forwarded);
		};
		if (!hooked && (incoming.url ?? '').split('?')[0] === '/rest/v1/rpc/automation_begin_send') {
			hooked = true;
			incoming.pause();
			void beforeBegin().then(forward, (error: unknown) => {
				outgoing.writeHead(500);
				outgoing.end(String(error));
			});
			return;
		}
		forward();
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

test('Trigger Now: a contact taken over during generation and one taken over before the send are both skipped lease_lost, none failed', async () => {
	const seed = await dueContacts(3, 500, 'lease-lost');
	await sims.gemini.control.reset();
	await sims.graph.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'hold' } });
	let beforeSend: string | undefined;
	const supabase = await supabaseWithHook(async () => {
		if (beforeSend) await takeOver(beforeSend);
	});
	try {
		const credentials = pipelineCredentials(sims, seed.owner.pageId);
		credentials.leadflowSupabaseApi = { ...(credentials.leadflowSupabaseApi as object), url: supabase.url };
		const run = triggerNow(credentials, { ruleId: seed.ruleId });

		// The three generations are under way: take one contact over, and name the one taken over before the send.
		await sims.gemini.control.waitForRequests((requests) => requests.filter((one) => one.outcome === 'held').length === 3, { timeoutMs: 30_000 });
		const states = await withDb((db) => db.query<{ id: string }>('select id from public.ai_automation_contact_states where rule_id = $1 order by id', [seed.ruleId]));
		expect(states.rows).toHaveLength(3);
		const [duringGeneration, sent, beforeBegin] = states.rows.map((row) => row.id);
		await takeOver(duringGeneration);
		beforeSend = beforeBegin;
		await sims.gemini.control.clearFaults();
		expect(await sims.gemini.control.release()).toBe(3);

		const { result, summary } = await run;
		expect(result.response?.statusCode).toBe(200);
		expect(summary).toMatchObject({ claimed: 3, sent: 1, skipped: 2, failed: 0, skippedByReason: { lease_lost: 2 }, failedByReason: {} });
		// Each was found by its own node: Generate Follow-Up (Failed) and Facebook Send (Skipped).
		const generated = result.nodeBranches['Generate Follow-Up'] ?? [];
		expect((generated[1] ?? []).map((item) => [item.state_id, (item.error as { code?: unknown } | undefined)?.code])).toEqual([[duringGeneration, 'lease_lost']]);
		const sends = await graphSends(sims);
		expect(sends).toHaveLength(1);
		const { rows: after } = await withDb((db) =>
			db.query<{ id: string; current_stage: string; locked_by: string | null }>('select id, current_stage, locked_by from public.ai_automation_contact_states where rule_id = $1', [seed.ruleId]),
		);
		const byId = new Map(after.map((row) => [row.id, row]));
		expect(byId.get(sent)?.current_stage).toBe('sent');
		// The two taken over are still the other execution's: nothing of this run failed them.
		expect([byId.get(duringGeneration)?.locked_by, byId.get(beforeBegin)?.locked_by]).toEqual(['another-execution', 'another-execution']);
	} finally {
		await supabase.stop();
	}
});
