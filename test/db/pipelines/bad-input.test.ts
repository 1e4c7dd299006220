// Bad input never writes half a batch: an unknown conversation, pipeline or stage, a malformed
// item, an automation whose conditions or actions are malformed, stages that would route a contact
// two ways: each is refused with a message naming what is wrong, and nothing is written.
import { createTestUser, serviceClient, userClient, withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, move, places, rpc } from './fixtures';

const UNKNOWN = '00000000-0000-4000-8000-000000000001';

describe('pipeline_assign refuses bad input, and writes nothing', () => {
	it.each([
		['an item that is not an object', () => [42], 'p_items[0]: must be an object (got number)'],
		['a field it does not know', (id: string) => [{ ...analysis(id, 50), leadScore: 50 }], /^p_items\[0\]\.leadScore: not a field of an analysed contact; the fields are conversation_id, lead_score, /],
		['no score', (id: string) => [{ conversation_id: id }], 'p_items[0].lead_score: required, a whole number from 0 to 100 (got nothing)'],
		['a score over 100', (id: string) => [analysis(id, 120)], 'p_items[0].lead_score: required, a whole number from 0 to 100 (got 120)'],
		['a score as text', (id: string) => [{ ...analysis(id, 50), lead_score: 'high' }], 'p_items[0].lead_score: required, a whole number from 0 to 100 (got "high")'],
		['a fractional score', (id: string) => [analysis(id, 50.5)], 'p_items[0].lead_score: required, a whole number from 0 to 100 (got 50.5)'],
		['an unknown status', (id: string) => [{ ...analysis(id, 50), lead_status: 'MAYBE' }], /^p_items\[0\]\.lead_status: must be one of NEW, CONTACTED, .* \(got "MAYBE"\)$/],
		['a confidence over 100', (id: string) => [analysis(id, 50, { confidence: 101 })], 'p_items[0].confidence: must be a number from 0 to 100 (got 101)'],
		['a time without its offset', (id: string) => [analysis(id, 50, { last_message_at: '2026-11-25 11:00' })], /^p_items\[0\]\.last_message_at: must be an ISO 8601 instant with its offset/],
		// The pattern of a time lets these through; no calendar has them.
		['a day no month has', (id: string) => [analysis(id, 50, { last_message_at: '2026-02-30T10:00:00Z' })], /^p_items\[0\]\.last_message_at: must be an ISO 8601 instant with its offset.* \(got "2026-02-30T10:00:00Z"\)$/],
		['an hour past 24', (id: string) => [analysis(id, 50, { last_message_at: '2026-11-25T25:00:00Z' })], /^p_items\[0\]\.last_message_at: must be an ISO 8601 instant with its offset.* \(got "2026-11-25T25:00:00Z"\)$/],
		['a control character in the reasoning', (id: string) => [analysis(id, 50, { reasoning: 'fine\u0007' })], 'p_items[0].reasoning: must be a text of at most 10000 characters without control characters'],
		['an unknown update mode', (id: string) => [{ ...analysis(id, 50), update_mode: 'ALWAYS' }], 'p_items[0].update_mode: must be SKIP_EXISTING or UPDATE_EXISTING (got "ALWAYS")'],
		['a conversation id that is not a uuid', () => [{ conversation_id: 'c-1', lead_score: 5 }], 'p_items[0].conversation_id: required, a conversation id (uuid) (got "c-1")'],
		// The batch is first checked field by field as one string (the ids, the times, the texts): a value
		// holding two, or a character that is wrong only in one item, is still refused by its item and field.
		['two conversation ids in one, joined by a comma', (id: string) => [{ ...analysis(id, 50), conversation_id: `${id},${id}` }], `p_items[0].conversation_id: required, a conversation id (uuid) (got "BAD,BAD")`],
		['a conversation id as a number', (id: string) => [{ ...analysis(id, 50), conversation_id: 42 }], 'p_items[0].conversation_id: required, a conversation id (uuid) (got 42)'],
		['a conversation id that is null', (id: string) => [{ ...analysis(id, 50), conversation_id: null }], 'p_items[0].conversation_id: required, a conversation id (uuid) (got null)'],
		['two times in one, joined by a comma', (id: string) => [analysis(id, 50, { last_message_at: '2026-11-25T11:00:00Z,2026-11-25T12:00:00Z' })], /^p_items\[0\]\.last_message_at: must be an ISO 8601 instant with its offset/],
		['two pipeline ids in one, joined by a comma', (id: string) => [analysis(id, 50, { pipeline_id: `${UNKNOWN},${UNKNOWN}` })], /^p_items\[0\]\.pipeline_id: must be a pipeline id \(uuid\)/],
		['a line break in the recommended stage', (id: string) => [{ ...analysis(id, 50), recommended_stage: 'Won\nLost' }], 'p_items[0].recommended_stage: must be a stage name: one line of at most 200 characters'],
		['a tab in the model name', (id: string) => [analysis(id, 50, { model: 'gemini\t3' })], 'p_items[0].model: must be a model name: one line of 1 to 200 characters'],
		['a control character in the summary', (id: string) => [analysis(id, 50, { summary: 'ok\u001b' })], 'p_items[0].summary: must be a text of at most 10000 characters without control characters'],
		['a fallback flag as text', (id: string) => [{ ...analysis(id, 50), is_fallback: 'yes' }], 'p_items[0].is_fallback: must be true or false (got "yes")'],
	])('%s', async (_what, items, message) => {
		const world = await createPipelineWorld();
		const [good, bad] = await world.contacts(2);
		// A valid item first: it must not be written either.
		const error = await failure(assign([analysis(good, 50), ...(items as (id: string) => never[])(bad)]));
		expect(error.code).toBe('22023');
		const expected = typeof message === 'string' ? message.replace('p_items[0]', 'p_items[1]').replaceAll('BAD', bad) : new RegExp(message.source.replace('p_items\\[0\\]', 'p_items\\[1\\]'));
		expect(error.message).toEqual(typeof expected === 'string' ? expected : expect.stringMatching(expected));
		expect(await places(world.userId)).toEqual([]);
	});

	// A pipeline without stages is no longer refused: its items are skipped, pipeline_has_no_stages
	// (assign-replay-and-empty.test.ts).
	it('an unknown conversation, another owner\'s pipeline, a conversation twice, a batch too long', async () => {
		const world = await createPipelineWorld();
		const stranger = await createPipelineWorld();
		const [first, second] = await world.contacts(2);
		expect(await failure(assign([analysis(first, 50), analysis(UNKNOWN, 50)]))).toMatchObject({
			code: 'P0002',
			message: `p_items[1].conversation_id: conversation ${UNKNOWN} does not exist`,
		});
		expect(await failure(assign([analysis(first, 50), analysis(second, 50, { pipeline_id: stranger.pipeline.id })]))).toMatchObject({
			code: 'P0002',
			message: `p_items[1].pipeline_id: pipeline ${stranger.pipeline.id} does not exist (for this conversation's owner)`,
		});
		expect((await failure(assign([analysis(first, 50), analysis(second, 50), analysis(first, 20)]))).message).toBe(
			`p_items[2].conversation_id: conversation ${first} is listed twice (also p_items[0])`,
		);
		expect((await failure(assign(Array.from({ length: 1001 }, () => analysis(first, 50))))).message).toBe('p_items: at most 1000 contacts per call (got 1001)');
		expect((await failure(rpc('pipeline_assign', { p_items: { conversation_id: first } }))).message).toBe('p_items: must be a JSON array of analysed contacts (got object)');
		expect(await places(world.userId)).toEqual([]);
		expect(await places(stranger.userId)).toEqual([]);
	});
});

describe('pipeline_move refuses bad input, and writes nothing', () => {
	it('an unknown or foreign stage, a stage name the pipeline lacks, a pipeline the contact is not in', async () => {
		const world = await createPipelineWorld();
		const stranger = await createPipelineWorld();
		const [first, second] = await world.contacts(2);
		await assign([analysis(first, 30), analysis(second, 30)]);
		const before = await places(world.userId);
		const cases: Array<[Record<string, unknown>, string]> = [
			[{ conversation_id: second, stage_id: UNKNOWN }, `p_items[1].stage_id: stage ${UNKNOWN} does not exist (for this conversation's owner)`],
			[{ conversation_id: second, stage_id: stranger.pipeline.stages.Won }, `p_items[1].stage_id: stage ${stranger.pipeline.stages.Won} does not exist (for this conversation's owner)`],
			[{ conversation_id: second, stage_name: 'Negotiation' }, `p_items[1].stage_name: no stage named "Negotiation" in pipeline ${world.pipeline.id}`],
			[{ conversation_id: second, stage_name: 'Won', pipeline_id: stranger.pipeline.id }, `p_items[1].pipeline_id: pipeline ${stranger.pipeline.id} does not exist (for this conversation's owner)`],
			[{ conversation_id: UNKNOWN, stage_name: 'Won' }, `p_items[1].conversation_id: conversation ${UNKNOWN} does not exist`],
		];
		for (const [item, message] of cases) {
			const error = await failure(move([{ conversation_id: first, stage_name: 'Won' }, item as never]));
			expect(error.message).toBe(message);
			expect(error.code).toBe('P0002');
		}
		const other = await world.addPipeline('Other', [{ name: 'Start' }]);
		const third = await world.addPipeline('Third', [{ name: 'Start' }]);
		expect(await failure(move([{ conversation_id: second, stage_name: 'Start', pipeline_id: other.id, from_pipeline_id: third.id }]))).toMatchObject({
			code: 'P0002',
			message: `p_items[0].from_pipeline_id: the contact is not in pipeline ${third.id}`,
		});
		// Leaving the stage's own pipeline contradicts the move itself, whether or not the contact is
		// in it (migration …2340): the request's fault, said first.
		expect(await failure(move([{ conversation_id: second, stage_name: 'Start', pipeline_id: other.id, from_pipeline_id: other.id }]))).toMatchObject({
			code: '22023',
			message: `p_items[0].from_pipeline_id: the stage is in pipeline ${other.id}, the pipeline it would leave: give pipeline_id or a stage of another pipeline`,
		});
		expect((await failure(move([{ conversation_id: first } as never]))).message).toBe(
			'p_items[0].stage_id: a move needs the stage: stage_id, or stage_name (with pipeline_id when the contact is in several pipelines)',
		);
		expect((await failure(move([{ conversation_id: first, stage_name: 'Won', actor: 'robot' } as never]))).message).toBe('p_items[0].actor: must be user or ai (got "robot")');
		expect(await places(world.userId)).toEqual(before);
	});
});

describe('automations are checked when they are written', () => {
	// Through the Data API as the owner's app writes them: the error names the field.
	it.each([
		['an unknown trigger', { trigger_type: 'TAGGED' }, 'trigger_type: must be STAGE_CHANGED, ENTERED_PIPELINE, STATUS_CHANGED or SCORE_CROSSED (got TAGGED)'],
		['conditions that are not an object', { trigger_conditions: [] }, 'trigger_conditions: must be a JSON object (got array)'],
		['a condition the trigger does not take', { trigger_conditions: { stage: 'x' } }, 'trigger_conditions.stage: not a condition of STAGE_CHANGED; it takes from_stage_id, to_stage_id'],
		['a stage condition that is not an id', { trigger_conditions: { to_stage_id: 'Won' } }, 'trigger_conditions.to_stage_id: must be a stage id (a uuid) or null (got "Won")'],
		['a stage of another pipeline', { trigger_conditions: { to_stage_id: 'OTHER_STAGE' } }, /^trigger_conditions\.to_stage_id: stage .* is not a stage of this automation's pipeline$/],
		['an unknown status', { trigger_type: 'STATUS_CHANGED', trigger_conditions: { to_status: 'MAYBE' } }, /^trigger_conditions\.to_status: must be one of NEW, .* or null \(got "MAYBE"\)$/],
		['a threshold missing', { trigger_type: 'SCORE_CROSSED', trigger_conditions: { direction: 'up' } }, 'trigger_conditions.threshold: required, a whole number from 1 to 100 (got nothing)'],
		['a direction sideways', { trigger_type: 'SCORE_CROSSED', trigger_conditions: { threshold: 50, direction: 'sideways' } }, 'trigger_conditions.direction: required, up or down (got "sideways")'],
		['no actions', { actions: [] }, 'actions: must be an array of 1 to 20 actions (got 0 actions)'],
		['an unknown action', { actions: [{ type: 'add_tag', tag_id: 'TAG' }, { type: 'email', to: 'x' }] }, /^actions\[1\]\.type: must be add_tag, remove_tag, .* \(got "email"\)$/],
		['an action without its field', { actions: [{ type: 'add_tag' }] }, 'actions[0].tag_id: required for add_tag'],
		['a field the action does not take', { actions: [{ type: 'add_tag', tag_id: 'TAG', color: 'red' }] }, 'actions[0].color: not a field of add_tag; it takes tag_id'],
		['another owner\'s tag', { actions: [{ type: 'add_tag', tag_id: 'OTHER_TAG' }] }, /^actions\[0\]\.tag_id: tag .* does not exist or belongs to another owner$/],
		['a webhook that is not http', { actions: [{ type: 'webhook', url: 'ftp://files.example.test' }] }, 'actions[0].url: must be an http or https URL of at most 2000 characters, without spaces (got "ftp://files.example.test")'],
		['a status that does not exist', { actions: [{ type: 'set_lead_status', status: 'DONE' }] }, /^actions\[0\]\.status: must be one of NEW, .* \(got "DONE"\)$/],
	])('refuses %s', async (_what, change, message) => {
		const world = await createPipelineWorld();
		const stranger = await createPipelineWorld();
		const other = await world.addPipeline('Other', [{ name: 'Elsewhere' }]);
		const resolve = (value: unknown): unknown =>
			JSON.parse(
				JSON.stringify(value)
					.replaceAll('"OTHER_STAGE"', JSON.stringify(other.stages.Elsewhere))
					.replaceAll('"OTHER_TAG"', JSON.stringify(stranger.tags.Hot))
					.replaceAll('"TAG"', JSON.stringify(world.tags.Hot)),
			);
		const row = {
			pipeline_id: world.pipeline.id,
			name: 'Checked',
			trigger_type: 'STAGE_CHANGED',
			trigger_conditions: {},
			actions: [{ type: 'add_tag', tag_id: world.tags.Hot }],
			...(resolve(change) as object),
		};
		const { error } = await userClient(world.userId).from('pipeline_automations').insert(row);
		expect(error?.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
		expect(['23514', '23503']).toContain(error?.code);
		const { data } = await serviceClient().from('pipeline_automations').select('id').eq('user_id', world.userId);
		expect(data).toEqual([]);
	});

	it('accepts a well-formed automation, and the owner\'s app reads it back', async () => {
		const world = await createPipelineWorld();
		const { data, error } = await userClient(world.userId)
			.from('pipeline_automations')
			.insert({
				pipeline_id: world.pipeline.id,
				name: 'Hot leads',
				trigger_type: 'SCORE_CROSSED',
				trigger_conditions: { threshold: 80, direction: 'up' },
				actions: [{ type: 'add_tag', tag_id: world.tags.Hot }, { type: 'notify', message: 'A hot lead', channel: 'slack', to: '#sales' }],
			})
			.select('name, times_triggered, last_triggered_at, is_active')
			.single();
		expect(error).toBeNull();
		expect(data).toEqual({ name: 'Hot leads', times_triggered: 0, last_triggered_at: null, is_active: true });
	});
});

describe('stages that would route a contact two ways are refused', () => {
	const insertStages = (userId: string, pipelineId: string, stages: Array<Record<string, unknown>>) =>
		userClient(userId).from('pipeline_stages').insert(stages.map((stage, i) => ({ pipeline_id: pipelineId, name: `S${i}`, stage_order: i, ...stage })));

	it.each([
		['overlapping score ranges', [{ lead_score_min: 0, lead_score_max: 50 }, { lead_score_min: 50, lead_score_max: 100 }], /^stages "S[01]" \(\d+ to \d+\) and "S[01]" \(\d+ to \d+\) have overlapping lead score ranges$/],
		['a status routed to two stages', [{ lead_statuses: ['WON'] }, { lead_statuses: ['LOST', 'WON'] }], 'lead status WON routes to more than one stage (S0, S1)'],
		['two default stages', [{ is_default: true }, { is_default: true }], 'a pipeline has one default stage at most'],
		['a range upside down', [{ lead_score_min: 60, lead_score_max: 40 }], /pipeline_stages_score_range/],
		['a range past 100', [{ lead_score_min: 60, lead_score_max: 140 }], /pipeline_stages_score_range/],
		['one end of a range only', [{ lead_score_min: 60 }], /pipeline_stages_score_range/],
		['an unknown status', [{ lead_statuses: ['MAYBE'] }], /pipeline_stages_lead_statuses/],
		['the same order twice', [{}, { stage_order: 0 }], /pipeline_stages_order_key/],
		['the same name twice, whatever the case', [{ name: 'Won' }, { name: ' won' }], /pipeline_stages_name_key/],
	])('%s', async (_what, stages, message) => {
		const userId = await createTestUser('stages');
		const { data: pipeline } = await userClient(userId).from('pipelines').insert({ name: 'P' }).select('id').single();
		const { error } = await insertStages(userId, pipeline!.id, stages);
		expect(error?.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
		const { data } = await userClient(userId).from('pipeline_stages').select('id');
		expect(data).toEqual([]);
	});

	it('lets stages swap places in one transaction (the checks run at commit)', async () => {
		const world = await createPipelineWorld();
		await withDb(async (db) => {
			await db.query('begin');
			await db.query('update public.pipeline_stages set stage_order = 2, lead_score_min = 21, lead_score_max = 45 where id = $1', [world.pipeline.stages['New Lead']]);
			await db.query('update public.pipeline_stages set stage_order = 1, lead_score_min = 0, lead_score_max = 20 where id = $1', [world.pipeline.stages.Contacted]);
			await db.query('commit');
		});
		const { data } = await serviceClient().from('pipeline_stages').select('name, stage_order').eq('pipeline_id', world.pipeline.id).order('stage_order').limit(2);
		expect(data).toEqual([{ name: 'Contacted', stage_order: 1 }, { name: 'New Lead', stage_order: 2 }]);
	});
});

describe('deleting', () => {
	it('refuses to delete a stage that holds contacts; deleting the pipeline or the conversation takes their places and history', async () => {
		const world = await createPipelineWorld();
		await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/new' }] });
		const [kept, gone] = await world.contacts(2);
		await assign([analysis(kept, 30), analysis(gone, 30)]);
		const owner = userClient(world.userId);
		const refused = await owner.from('pipeline_stages').delete().eq('id', world.pipeline.stages.Contacted);
		expect(refused.error?.message).toBe('stage "Contacted" still holds contacts: move them to another stage first');
		// An empty stage goes.
		expect((await owner.from('pipeline_stages').delete().eq('id', world.pipeline.stages.Lost).select('id')).data).toHaveLength(1);

		const count = async (table: string, conversationId: string) =>
			(await withDb((db) => db.query<{ n: number }>(`select count(*)::int as n from public.${table} where conversation_id = $1`, [conversationId]))).rows[0].n;
		const traces = async (conversationId: string) => [
			await count('pipeline_contacts', conversationId),
			await count('contact_activities', conversationId),
			await count('pipeline_automation_runs', conversationId),
			await count('pipeline_outbox', conversationId),
		];
		expect(await traces(gone)).toEqual([1, 2, 1, 1]);
		expect((await owner.from('messenger_conversations').delete().eq('id', gone).select('id')).data).toHaveLength(1);
		expect(await traces(gone)).toEqual([0, 0, 0, 0]);
		expect(await traces(kept)).toEqual([1, 2, 1, 1]);

		// History is append-only while its contact and pipeline exist.
		await withDb(async (db) => {
			await expect(db.query(`update public.contact_activities set title = 'edited' where conversation_id = $1`, [kept])).rejects.toThrow(/append-only/);
			await expect(db.query(`delete from public.contact_activities where conversation_id = $1`, [kept])).rejects.toThrow(/append-only/);
		});
		expect((await owner.from('pipelines').delete().eq('id', world.pipeline.id).select('id')).data).toHaveLength(1);
		expect(await traces(kept)).toEqual([0, 0, 0, 0]);
	});
});
