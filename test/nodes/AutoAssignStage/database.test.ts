// AutoAssignStage's Assign and Move through n8n's engine against the local stack: one database call
// per batch, outcomes per contact with the priority that decided, moves by stage id or name, bad
// input refused before anything is written, and the Automations output handing each webhook /
// notify action out once.
import type { IDataObject } from 'n8n-workflow';
import { createPipelineWorld, places, type PipelineWorld } from '../../db/pipelines/fixtures';
import { runStage, supabaseCredentials } from './support/workflow';

let world: PipelineWorld;

beforeAll(async () => {
	world = await createPipelineWorld();
});

const analysed = (conversationId: string, score: number, extra: IDataObject = {}): IDataObject => ({
	conversation_id: conversationId,
	lead_score: score,
	lead_status: 'CONTACTED',
	confidence: 80,
	summary: 'Asked the price.',
	reasoning: 'Engaged.',
	model: 'gemini-3-flash',
	fallback: false,
	...extra,
});

const assign = (extra: IDataObject = {}): IDataObject => ({ operation: 'assign', handOutAutomations: false, ...extra });

it('assign: a batch placed in one call, each with its outcome and the priority that decided', async () => {
	const [low, mid, won] = await world.contacts(3);
	const { result, contacts } = await runStage(
		[analysed(low, 10), analysed(mid, 50, { fallback: true }), analysed(won, 90, { lead_status: 'won' })],
		assign(),
		supabaseCredentials(),
	);

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([
		expect.objectContaining({ item_index: 0, conversation_id: low, outcome: 'assigned', stage_name: 'New Lead', priority: 'score_range' }),
		expect.objectContaining({ item_index: 1, conversation_id: mid, outcome: 'assigned', stage_name: 'Qualified', priority: 'score_range' }),
		expect.objectContaining({ item_index: 2, conversation_id: won, outcome: 'assigned', stage_name: 'Won', priority: 'status' }),
	]);
	const stored = (await places(world.userId)) as unknown as Array<{ conversation_id: string; analysis_is_fallback: boolean }>;
	expect(stored.find((place) => place.conversation_id === mid)?.analysis_is_fallback).toBe(true);

	const again = await runStage([analysed(low, 30), analysed(mid, 55)], assign(), supabaseCredentials());
	expect(again.contacts).toEqual([
		expect.objectContaining({ conversation_id: low, outcome: 'moved', from_stage_name: 'New Lead', stage_name: 'Contacted' }),
		expect.objectContaining({ conversation_id: mid, outcome: 'kept', reason: 'same_stage', stage_name: 'Qualified' }),
	]);
});

it('assign: one bad item stops the node naming it, and nothing of the batch is written', async () => {
	const [good, other] = await world.contacts(2);
	const { result } = await runStage([analysed(good, 50), analysed(other, 140)], assign(), supabaseCredentials());

	expect(result.error?.message).toMatch(/lead_score must be a whole number from 0 to 100 \(got 140\)/);
	const stored = (await places(world.userId)) as unknown as Array<{ conversation_id: string }>;
	expect(stored.some((place) => place.conversation_id === good)).toBe(false);
});

it('assign: a conversation listed twice is refused for its second item, before anything is written; with Continue On Fail the others are placed', async () => {
	const [first, second] = await world.contacts(2);
	const items = [analysed(first, 10), analysed(second, 50), analysed(first.toUpperCase(), 90)];
	const stopped = await runStage(items, assign(), supabaseCredentials());
	expect(stopped.result.error?.message).toBe(`conversation_id: conversation ${first} is listed twice (also item 0)`);
	const placedIds = async () => ((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).map((place) => place.conversation_id);
	expect(await placedIds()).not.toEqual(expect.arrayContaining([first]));
	expect(await placedIds()).not.toEqual(expect.arrayContaining([second]));

	const continued = await runStage(items, assign(), supabaseCredentials(), { continueOnFail: true });
	expect(continued.contacts).toEqual([
		{ error: expect.objectContaining({ code: 'invalid_input', message: `conversation_id: conversation ${first} is listed twice (also item 0)` }) },
		expect.objectContaining({ item_index: 0, conversation_id: first, outcome: 'assigned', stage_name: 'New Lead' }),
		expect.objectContaining({ item_index: 1, conversation_id: second, outcome: 'assigned', stage_name: 'Qualified' }),
	]);
});

it('assign: a contact the database refuses is named by its input item; with Continue On Fail it alone fails and the rest of the batch is written', async () => {
	const [good, alsoGood] = await world.contacts(2);
	const unknown = '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f';
	const items = [analysed(good, 10), analysed(unknown, 50), analysed(alsoGood, 50)];
	const stopped = await runStage(items, assign(), supabaseCredentials());
	expect(stopped.result.error?.message).toBe(`pipeline_assign failed: item 1 (p_items[1]).conversation_id: conversation ${unknown} does not exist`);
	const placedIds = async () => ((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).map((place) => place.conversation_id);
	expect(await placedIds()).not.toEqual(expect.arrayContaining([good]));

	const continued = await runStage(items, assign(), supabaseCredentials(), { continueOnFail: true });
	expect(continued.contacts).toEqual([
		{ error: expect.objectContaining({ code: 'not_found', message: `pipeline_assign failed: item 1 (p_items[1]).conversation_id: conversation ${unknown} does not exist` }) },
		expect.objectContaining({ item_index: 0, conversation_id: good, outcome: 'assigned' }),
		expect.objectContaining({ item_index: 2, conversation_id: alsoGood, outcome: 'assigned' }),
	]);
	expect(await placedIds()).toEqual(expect.arrayContaining([good, alsoGood]));
});

it('assign: a contact of a Page whose pipeline has no stages yet is skipped, pipeline_has_no_stages; the other owner\'s contact of the batch is placed and the node does not fail', async () => {
	const setUp = await createPipelineWorld({ stages: [] });
	const [waiting] = await setUp.contacts(1);
	const [ready] = await world.contacts(1);
	const { result, contacts } = await runStage([analysed(waiting, 50), analysed(ready, 50)], assign(), supabaseCredentials());

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([
		expect.objectContaining({ item_index: 0, conversation_id: waiting, outcome: 'skipped', reason: 'pipeline_has_no_stages', pipeline_id: setUp.pipeline.id, stage_id: null }),
		expect.objectContaining({ item_index: 1, conversation_id: ready, outcome: 'assigned', stage_name: 'Qualified' }),
	]);
	expect(await places(setUp.userId)).toEqual([]);
});

it('move: by stage name and by stage id, with the reason; an unknown stage is refused', async () => {
	const [contact] = await world.contacts(1);
	await runStage([analysed(contact, 10)], assign(), supabaseCredentials());

	const byName = await runStage(
		[{ conversation_id: contact }],
		{ operation: 'move', stage: { __rl: true, mode: 'name', value: 'proposal' }, reason: 'Asked for a quote on the phone', handOutAutomations: false },
		supabaseCredentials(),
	);
	expect(byName.result.error).toBeUndefined();
	expect(byName.contacts).toEqual([expect.objectContaining({ conversation_id: contact, outcome: 'moved', from_stage_name: 'New Lead', stage_name: 'Proposal' })]);

	const byId = await runStage(
		[{ conversation_id: contact }],
		{ operation: 'move', stage: { __rl: true, mode: 'id', value: world.pipeline.stages.Won }, actor: 'ai', actorId: 'sales-agent', handOutAutomations: false },
		supabaseCredentials(),
	);
	expect(byId.contacts).toEqual([expect.objectContaining({ outcome: 'moved', from_stage_name: 'Proposal', stage_name: 'Won' })]);

	const unknown = await runStage([{ conversation_id: contact }], { operation: 'move', stage: { __rl: true, mode: 'name', value: 'Nowhere' } }, supabaseCredentials());
	expect(unknown.result.error?.message).toMatch(/Nowhere/);
});

it('move: a stage ID that is not a UUID is refused before the database is asked', async () => {
	const [contact] = await world.contacts(1);
	const { result } = await runStage([{ conversation_id: contact }], { operation: 'move', stage: { __rl: true, mode: 'id', value: 'stage-7' } }, supabaseCredentials());
	expect(result.error?.message).toMatch(/stage ID "stage-7" is not a UUID/);
});

it('move: a Mover ID that is not text (an agent\'s $fromAI object) is refused naming it, not written as "[object Object]"', async () => {
	const [contact] = await world.contacts(1);
	await runStage([analysed(contact, 10)], assign(), supabaseCredentials());
	const { result } = await runStage(
		[{ conversation_id: contact }],
		{ operation: 'move', stage: { __rl: true, mode: 'name', value: 'Proposal' }, actor: 'ai', actorId: { name: 'sales-agent' } },
		supabaseCredentials(),
	);
	expect(result.error?.message).toBe('Mover ID must be text (got an object)');
	const placed = ((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>).find((place) => place.conversation_id === contact);
	expect(placed?.stage_id).toBe(world.pipeline.stages['New Lead']);
});

it('the Automations output hands each webhook / notify action out once', async () => {
	const automationWorld = await createPipelineWorld();
	await automationWorld.automation({
		trigger_type: 'ENTERED_PIPELINE',
		actions: [
			{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' },
			{ type: 'notify', message: 'A new lead entered the pipeline' },
		],
	});
	const [contact] = await automationWorld.contacts(1);

	const first = await runStage([analysed(contact, 50)], assign({ handOutAutomations: true }), supabaseCredentials());
	expect(first.result.error).toBeUndefined();
	const mine = first.automations.filter((item) => (item.contact as IDataObject).conversation_id === contact);
	expect(mine.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
	expect(mine.find((item) => item.kind === 'webhook')).toMatchObject({
		action: { type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' },
		pipeline: { id: automationWorld.pipeline.id },
		change: expect.objectContaining({ trigger_type: 'ENTERED_PIPELINE', to_stage: expect.objectContaining({ name: 'Qualified' }) }),
		attempt: 1,
	});

	// The next run (another contact's analysis, or none) does not hand the same actions out again.
	const [other] = await automationWorld.contacts(1);
	const second = await runStage([analysed(other, 50)], assign({ handOutAutomations: true }), supabaseCredentials());
	const outboxIds = new Set(mine.map((item) => item.outbox_id));
	expect(second.automations.some((item) => outboxIds.has(item.outbox_id as string))).toBe(false);
	expect(second.automations.filter((item) => (item.contact as IDataObject).conversation_id === other)).toHaveLength(2);
});
