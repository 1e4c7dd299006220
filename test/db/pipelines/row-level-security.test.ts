// Row level security on every pipeline table, through supabase-js as each caller sees it: the
// owner (their JWT) reads their rows and writes only the configuration; a stranger's JWT sees none
// of them; anonymous callers reach nothing; only the pipeline functions write places, history,
// runs and the outbox.
import { anonClient, serviceClient, userClient } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, type PipelineWorld } from './fixtures';

const TABLES = [
	'pipelines',
	'pipeline_stages',
	'pipeline_page_settings',
	'pipeline_contacts',
	'contact_activities',
	'pipeline_automations',
	'pipeline_automation_runs',
	'pipeline_outbox',
] as const;

let owner: PipelineWorld;
let stranger: PipelineWorld;

beforeAll(async () => {
	owner = await createPipelineWorld();
	stranger = await createPipelineWorld();
	for (const world of [owner, stranger]) {
		await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/new' }] });
		await assign([analysis(await world.contact(), 50)]);
	}
});

describe('row level security on the pipeline tables', () => {
	it.each(TABLES)('%s: the owner reads their rows, a stranger none of them', async (table) => {
		const own = await userClient(owner.userId).from(table).select('user_id');
		expect(own.error).toBeNull();
		expect(own.data!.length).toBeGreaterThan(0);
		expect(new Set(own.data!.map((row) => row.user_id))).toEqual(new Set([owner.userId]));
		const theirs = await userClient(stranger.userId).from(table).select('user_id').eq('user_id', owner.userId);
		expect(theirs.error).toBeNull();
		expect(theirs.data).toEqual([]);
		// The service role (n8n) sees both.
		const both = await serviceClient().from(table).select('user_id').in('user_id', [owner.userId, stranger.userId]);
		expect(new Set(both.data!.map((row) => row.user_id))).toEqual(new Set([owner.userId, stranger.userId]));
	});

	it.each(TABLES)('%s: anonymous callers reach nothing', async (table) => {
		const { data, error } = await anonClient().from(table).select('*');
		expect(data ?? []).toEqual([]);
		expect(error?.code).toBe('42501');
	});

	it('the owner configures pipelines, but cannot write into another owner\'s pipeline', async () => {
		const app = userClient(owner.userId);
		const created = await app.from('pipelines').insert({ name: 'Partners' }).select('id, user_id').single();
		expect(created.error).toBeNull();
		expect(created.data!.user_id).toBe(owner.userId);
		const foreign = await app.from('pipeline_stages').insert({ user_id: owner.userId, pipeline_id: stranger.pipeline.id, name: 'Sneaky', stage_order: 99 });
		expect(foreign.error?.code).toBe('23503');
		const asStranger = await app.from('pipeline_stages').insert({ user_id: stranger.userId, pipeline_id: stranger.pipeline.id, name: 'Sneaky', stage_order: 99 });
		expect(asStranger.error?.code).toBe('42501');
		const renamed = await userClient(stranger.userId).from('pipelines').update({ name: 'Mine now' }).eq('id', owner.pipeline.id).select('id');
		expect(renamed.data).toEqual([]);
	});

	it('places, history, runs and the outbox are written by the functions only, not by the owner nor the service role', async () => {
		const [place] = (await serviceClient().from('pipeline_contacts').select('*').eq('user_id', owner.userId)).data!;
		const forged = { ...place, id: undefined, pipeline_id: owner.pipeline.id, stage_id: owner.pipeline.stages.Won };
		for (const client of [userClient(owner.userId), serviceClient()]) {
			expect((await client.from('pipeline_contacts').insert(forged)).error?.code).toBe('42501');
			expect((await client.from('pipeline_contacts').update({ lead_score: 99 }).eq('id', place.id)).error?.code).toBe('42501');
			expect(
				(
					await client.from('contact_activities').insert({
						user_id: owner.userId, conversation_id: place.conversation_id, pipeline_id: owner.pipeline.id, type: 'ANALYSED', title: 'forged', actor: 'ai', occurred_at: new Date(0).toISOString(),
					})
				).error?.code,
			).toBe('42501');
		}
		expect((await userClient(owner.userId).rpc('pipeline_assign', { p_items: [] })).error?.code).toBe('42501');
		expect((await anonClient().rpc('pipeline_claim_outbox', { p_execution_id: 'x' })).error?.code).toBe('42501');
	});
});
