// workflows/auto-assign.json as users run it: the JSON as shipped, on its Schedule Trigger (every 15
// minutes after an import), with nothing set but the credentials (here the stack and the Gemini
// simulator). Every other scheduled test of it sets the owner of Analyze Due Conversations and Claim
// Waiting Automations (or switches the claim off), or fails before either runs; the schedule leaves
// the owner empty: every owner's due conversations, every owner's waiting automations. That reaches
// every owner of the database, so this file has a stack of its own. Times are relative to the
// database's clock, never a date.
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { runWorkflow, type TestCredentials } from '../harness';
import { serviceClient, testStack, useStackOfItsOwn, withDb } from '../helpers/stack';
import { analysis, createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';

const WORKFLOW = 'workflows/auto-assign.json';

useStackOfItsOwn();

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

const credentials = (): TestCredentials => ({
	httpHeaderAuth: { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` },
	leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
	leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
});

/** Conversations of `world` whose customer wrote `secondsAgo` before the database's now: due an analysis. */
async function writing(world: PipelineWorld, count: number, secondsAgo: number): Promise<string[]> {
	const contacts = await world.contacts(count);
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, 'inbound', 'How much is the course?', now() - make_interval(secs => $3) from unnest($2::uuid[]) c`,
			[world.userId, contacts, secondsAgo],
		),
	);
	return contacts;
}

const placed = async (world: PipelineWorld) =>
	new Map((await places(world.userId)).map((place) => [String(place.conversation_id), String(place.stage_id)]));

test('the schedule, as shipped: every owner\'s due conversations analysed and placed once, each automation handed out once (a waiting one of a third owner too); the next run does nothing', async () => {
	const worlds = [await createPipelineWorld(), await createPipelineWorld()];
	for (const world of worlds) await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: `https://crm.example.test/${world.userId}` }] });
	const due = [await writing(worlds[0], 3, 600), await writing(worlds[1], 2, 300)];
	const silent = await worlds[0].contacts(1);
	// A third owner's contact placed earlier without its action handed out (as messenger-inbound.json
	// leaves them): Claim Waiting Automations hands it out on the schedule.
	const waiting = await createPipelineWorld();
	await waiting.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead' }] });
	const [earlier] = await waiting.contacts(1);
	const { error } = await serviceClient().rpc('pipeline_assign', { p_items: [analysis(earlier, 50, { last_message_at: new Date(Date.now() - 3_600_000).toISOString() })] });
	expect(error).toBeNull();
	// Every analysis scores 50: Qualified (46–70) in each owner's pipeline.
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: JSON.stringify({ lead_status: 'CONTACTED', lead_score: 50, confidence: 80, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Engaged.' }) } });

	const run = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials() });

	expect(run.error).toBeUndefined();
	expect(run.mode).toBe('trigger');
	expect(run.status).toBe('success');
	// Every owner's due conversations, each once, none of another owner's or the silent one.
	const analysed = (run.nodeOutputs['Analyze Due Conversations'] ?? []).map((item) => String(item.conversation_id)).sort();
	expect(analysed).toEqual(due.flat().sort());
	for (const [index, world] of worlds.entries()) {
		const stages = await placed(world);
		expect([...stages.keys()].sort()).toEqual([...due[index]].sort());
		for (const contact of due[index]) expect(stages.get(contact)).toBe(world.pipeline.stages.Qualified);
		expect(stages.has(silent[0])).toBe(false);
	}
	// The automations: one webhook per contact placed (handed out by Assign Stages), and the third
	// owner's waiting notify (by Claim Waiting Automations), each once, on Send automation (replace me).
	const handedOut = (run.nodeOutputs['Send automation (replace me)'] ?? []) as IDataObject[];
	const byContact = handedOut.map((item) => [String((item.contact as IDataObject).conversation_id), String(item.kind)]).sort();
	expect(byContact).toEqual([...due.flat().map((contact) => [contact, 'webhook']), [earlier, 'notify']].sort());
	// The summary counts what the database holds.
	expect(run.nodeOutputs['Summarise Run']).toEqual([{ analysed: 5, fallback: 0, assigned: 5, moved: 0, kept: 0, skipped: 0, automations: 5 }]);
	const { rows } = await withDb((db) =>
		db.query<{ user_id: string; n: number }>('select user_id, count(*)::int as n from public.pipeline_contacts where user_id = any($1::uuid[]) group by 1', [[...worlds, waiting].map((world) => world.userId)]),
	);
	expect(new Map(rows.map((row) => [row.user_id, row.n]))).toEqual(new Map([[worlds[0].userId, 3], [worlds[1].userId, 2], [waiting.userId, 1]]));

	// The next scheduled run: nothing due, nothing waiting, no model call, nothing placed again.
	await sims.gemini.control.clearRequests();
	const next = await runWorkflow(WORKFLOW, { trigger: 'schedule', credentials: credentials() });
	expect(next.error).toBeUndefined();
	expect(next.status).toBe('success');
	// Nothing for Analyze: the run ends there (a scheduled run answers nobody, so it needs no summary).
	expect(next.executedNodes).toEqual(['Every 15 Minutes', 'Claim Waiting Automations', 'Analyze Due Conversations']);
	expect(next.nodeOutputs['Send automation (replace me)'] ?? []).toEqual([]);
	expect(await sims.gemini.control.requests()).toEqual([]);
	expect(await placed(worlds[0])).toEqual(new Map(due[0].map((contact) => [contact, worlds[0].pipeline.stages.Qualified])));
});
