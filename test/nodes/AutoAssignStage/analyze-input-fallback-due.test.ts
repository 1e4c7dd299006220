// Analyze From the Input after a quota failure: the advice says what becomes of the conversation.
// In the shipped workflows/messenger-inbound.json (Analyze Conversations From the Input with Skip
// Analyses Assign Would Not Use, then Assign Stages), a conversation of a Page with auto-assignment on
// that got the fallback score is placed by it and stays due (pipeline_due_for_analysis, reason
// fallback_analysis), so the auto-assign workflow's Due for Analysis analyses it again by itself.
// Review RMM1 F1: the advice said only "For the model's analysis, run it again once a key is back",
// as if nothing made it due. On a Page without auto-assignment nothing does: there it is run again.
// Review RMMM1 F1: the advice then said a conversation "placed by the fallback score" stays due, but
// pipeline_due_for_analysis lists it only while no one has moved it since (a person's move ends that,
// and on a SKIP_EXISTING Page nothing else makes it due): it now says "still where the fallback score
// placed it (no one moved it since)".
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { createPipelineWorld, minutesAfter, move, places, rpc, NOW, type PipelineWorld } from '../../db/pipelines/fixtures';
import { withDb } from '../../helpers/stack';
import { geminiCredentials, runStage, supabaseCredentials } from './support/workflow';

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

const STAYS_DUE =
	'It stays due, and Due for Analysis (the auto-assign workflow) analyses it again in a later run once a key is back (fallback_retry_after_seconds), if its Page has auto-assignment on and it is one of: not in the pipeline yet (and never moved out of it), still where the fallback score placed it (no one moved it since), or on an UPDATE_EXISTING Page with customer messages since its previous analysis. Otherwise, for the model\'s analysis, run it again then.';

async function customerWrote(world: PipelineWorld, id: string, at: string): Promise<void> {
	await withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', 'How much is the premium plan?', $3::timestamptz)`, [
			world.userId,
			id,
			at,
		]),
	);
}

async function conversationWithMessage(world: PipelineWorld): Promise<string> {
	const id = await world.contact();
	await customerWrote(world, id, minutesAfter(-30));
	return id;
}

async function assign(item: IDataObject) {
	const assigned = await runStage([item], { operation: 'assign', updateMode: 'page', handOutAutomations: false }, supabaseCredentials());
	expect(assigned.result.error).toBeUndefined();
	return assigned.contacts;
}

// Every key of the credential resting for its quota (429, 45 s): each call falls back.
async function analyzeFromInput(id: string, skipUnused: boolean) {
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });
	const { result, contacts } = await runStage(
		[{ conversation_id: id }],
		{ operation: 'analyze', source: 'input', conversationId: '={{ $json.conversation_id }}', skipUnused, options: { retryDelayMs: 10, maxQuotaWaitMs: 0, concurrency: 1 } },
		geminiCredentials(sims.gemini.baseUrl, [`key-${randomUUID()}`]),
	);
	expect(result.error).toBeUndefined();
	expect(contacts).toHaveLength(1);
	return contacts[0];
}

const due = (userId: string) =>
	rpc<Array<{ conversation_id: string; reason: string }>>('pipeline_due_for_analysis', { p_limit: 10, p_user_id: userId, p_max_messages: 5, p_now: NOW });

it('as in messenger-inbound.json (Page with auto-assignment on, then Assign): the fallback place stays due, and the advice says Due for Analysis analyses it again', async () => {
	const world = await createPipelineWorld();
	const id = await conversationWithMessage(world);

	const item = await analyzeFromInput(id, true);
	expect(item).toMatchObject({ analysed: true, fallback: true, fallback_reason: 'quota', fallback_refused_keys: 0 });
	expect(item.fallback_retry_after_seconds).toBeGreaterThanOrEqual(1);
	expect(item.fallback_retry_after_seconds).toBeLessThanOrEqual(45);
	expect(String(item.fallback_description)).toBe(
		`Nothing to fix for this conversation: it got the fallback score. ${STAYS_DUE} If it happens often, add API keys of other Google Cloud projects to the Leadflow Gemini API credential (one per line; keys of one project share its quota), lower Concurrency, or raise the quota at Google.`,
	);

	expect(await assign(item)).toEqual([expect.objectContaining({ conversation_id: id, outcome: 'assigned' })]);

	expect((await due(world.userId)).map((row) => ({ conversation_id: row.conversation_id, reason: row.reason }))).toEqual([{ conversation_id: id, reason: 'fallback_analysis' }]);
});

it('a Page without auto-assignment: nothing makes it due, and the same advice says to run it again', async () => {
	const world = await createPipelineWorld();
	await world.settings({ enabled: false });
	const id = await conversationWithMessage(world);

	const item = await analyzeFromInput(id, false);
	expect(item).toMatchObject({ fallback: true, fallback_reason: 'quota' });
	expect(String(item.fallback_description)).toContain(STAYS_DUE);
	expect(await due(world.userId)).toEqual([]);
});

it('placed by the fallback score, then moved by a person (SKIP_EXISTING): not due any more, and the advice does not say a fallback place stays due', async () => {
	const world = await createPipelineWorld({ mode: 'SKIP_EXISTING' });
	const id = await conversationWithMessage(world);

	// As in messenger-inbound.json: the fallback score places it, and it is due (provisional).
	expect(await assign(await analyzeFromInput(id, true))).toEqual([expect.objectContaining({ conversation_id: id, outcome: 'assigned' })]);
	expect((await due(world.userId)).map((row) => row.reason)).toEqual(['fallback_analysis']);

	// A person moves it (after the fallback's analysis: that ends provisional), then the customer writes again.
	const [placed] = await places(world.userId);
	expect(placed.analysis_is_fallback).toBe(true);
	const movedAt = new Date(placed.analysed_at!.getTime() + 60_000).toISOString();
	expect(await move([{ conversation_id: id, stage_name: 'Proposal', pipeline_id: world.pipeline.id }], movedAt)).toEqual([
		expect.objectContaining({ outcome: 'moved', stage_name: 'Proposal' }),
	]);
	await customerWrote(world, id, minutesAfter(-10));

	// The next inbound message: the quota again. Assign keeps it where the person put it.
	const item = await analyzeFromInput(id, true);
	expect(item).toMatchObject({ fallback: true, fallback_reason: 'quota' });
	expect(await assign(item)).toEqual([expect.objectContaining({ conversation_id: id, outcome: 'kept', reason: 'fallback_analysis', stage_name: 'Proposal' })]);
	expect(await due(world.userId)).toEqual([]);

	// The advice says which fallback place stays due: one no one moved since (this one is not).
	expect(String(item.fallback_description)).toContain(STAYS_DUE);
	expect(String(item.fallback_description)).not.toMatch(/not in the pipeline yet, placed by the fallback score/);
});
