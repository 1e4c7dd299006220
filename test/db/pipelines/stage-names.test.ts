// pipeline_stage_names: the stage names a batch's analyses may recommend, in one call: the pipelines
// named, and each conversation's Page pipeline (its owner's pipeline_page_settings, when enabled).
import type { PipelineStageNames } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { createPipelineWorld, rpc } from './fixtures';

const stageNames = (args: { p_pipeline_ids?: string[]; p_conversation_ids?: string[] }) => rpc<PipelineStageNames[]>('pipeline_stage_names', args);

describe('pipeline_stage_names', () => {
	it('answers the Page pipeline of each conversation, and the pipelines named, with their names in stage order', async () => {
		const world = await createPipelineWorld();
		const support = await world.addPipeline('Support', [{ name: 'Inbox' }, { name: 'Solved' }]);
		const [first, second] = await world.contacts(2);
		const rows = await stageNames({ p_pipeline_ids: [support.id], p_conversation_ids: [first, second] });
		const byPipeline = new Map(rows.map((row) => [row.pipeline_id, row]));
		expect(rows).toHaveLength(2);
		expect(byPipeline.get(world.pipeline.id)).toEqual({
			pipeline_id: world.pipeline.id,
			stage_names: ['New Lead', 'Contacted', 'Qualified', 'Proposal', 'Won', 'Lost'],
			conversation_ids: [first, second].sort(),
		});
		expect(byPipeline.get(support.id)).toEqual({ pipeline_id: support.id, stage_names: ['Inbox', 'Solved'], conversation_ids: [] });
	});

	it('gives no Page pipeline to a conversation whose Page has auto-assignment off, nor to one of another owner on the same Page', async () => {
		const world = await createPipelineWorld();
		const [contact] = await world.contacts(1);
		await world.settings({ enabled: false });
		// Another owner's auto-assignment on the same Page is not this conversation's.
		const other = await createPipelineWorld();
		await withDb((db) =>
			db.query('insert into public.pipeline_page_settings (user_id, page_id, pipeline_id) values ($1, $2, $3)', [other.userId, world.pageId, other.pipeline.id]),
		);
		expect(await stageNames({ p_conversation_ids: [contact] })).toEqual([]);
		// Nothing asked, nothing answered.
		expect(await stageNames({})).toEqual([]);
	});
});
