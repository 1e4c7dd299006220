// pipeline_assign's history of a contact the fallback score placed (migration …2160): the record
// says the fallback score placed it, not the model (actor ai, actor_id fallback-score, its own
// title), with the fallback's reasoning (why the model failed) and, in its metadata, is_fallback and
// the model that was asked; the change handed to the automations it fired says the same. The
// model's own placements are logged as before. Times are fixed instants around NOW.
import type { ClaimedOutboxItem } from '../../../nodes/shared/contract';
import { activities, analysis, assign, createPipelineWorld, rpc } from './fixtures';

const claimIds = (execution: string, ids: string[]) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: 300, p_outbox_ids: ids });

/** What Analyze gives when Gemini fails on a new contact (here: every key throttled). */
const REASONING = 'The model could not analyse this conversation (Gemini: quota); the score is counted from the messages.';

// Before, both contacts' records read actor_id gemini-3-flash, "AI auto-assigned to pipeline": the
// history said the model placed a contact it never judged.
test('a contact the fallback score placed: its history and the change its automations get say the fallback score, not the model', async () => {
	const world = await createPipelineWorld();
	await world.automation({ name: 'New lead', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead' }] });
	const [byFallback, byModel] = await world.contacts(2);
	const rows = (await assign([
		analysis(byFallback, 30, { is_fallback: true, confidence: 0, recommended_stage: null, lead_status: 'CONTACTED', summary: 'Fallback score from 2 customer message(s), recency and keywords.', reasoning: REASONING }),
		analysis(byModel, 30, { reasoning: 'Asked for a quote for 3 units.' }),
	])) as unknown as Array<{ conversation_id: string; outcome: string; outbox_ids: string[] }>;
	expect(rows.map((row) => [row.conversation_id, row.outcome])).toEqual([
		[byFallback, 'assigned'],
		[byModel, 'assigned'],
	]);

	const [placedByFallback] = await activities(byFallback);
	expect(placedByFallback).toMatchObject({
		type: 'STAGE_CHANGED',
		title: 'Placed by the fallback score (the model failed)',
		description: REASONING,
		from_stage_id: null,
		to_stage_id: world.pipeline.stages.Contacted,
		actor: 'ai',
		actor_id: 'fallback-score',
		metadata: expect.objectContaining({ is_fallback: true, model: 'gemini-3-flash', confidence: 0, lead_score: 30, outcome: 'assigned' }),
	});
	const [placedByModel] = await activities(byModel);
	expect(placedByModel).toMatchObject({
		type: 'STAGE_CHANGED',
		title: 'AI auto-assigned to pipeline',
		description: 'Asked for a quote for 3 units.',
		actor: 'ai',
		actor_id: 'gemini-3-flash',
		metadata: expect.objectContaining({ is_fallback: false, model: 'gemini-3-flash' }),
	});

	// The notify each placement fired: who made the change, as the history says.
	const items = await claimIds('fallback-history', rows.flatMap((row) => row.outbox_ids));
	expect(new Map(items.map((item) => [item.conversation_id, item.payload.change]))).toEqual(
		new Map([
			[byFallback, expect.objectContaining({ trigger_type: 'ENTERED_PIPELINE', actor: 'ai', actor_id: 'fallback-score', reason: REASONING })],
			[byModel, expect.objectContaining({ trigger_type: 'ENTERED_PIPELINE', actor: 'ai', actor_id: 'gemini-3-flash', reason: 'Asked for a quote for 3 units.' })],
		]),
	);
	await rpc('pipeline_complete_outbox', { p_execution_id: 'fallback-history', p_items: items.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })) });
});
