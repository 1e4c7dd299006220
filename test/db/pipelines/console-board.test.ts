// console_pipeline_board (migration 20261201000780): the console's board of one pipeline in one call.
// Every count, average and card equals what the tables hold; a stage answers one page of cards,
// one stage may be paged further (several at once with p_offsets, migration …2250), and the pages
// together are the stage's contacts once each; a search narrows the cards; bad arguments are
// refused naming them; a signed-in user sees their own.
import type { PipelineBoard } from '../../../nodes/shared/contract';
import { anonClient, userClient, withDb } from '../../helpers/stack';
import { analysis, assign, createPipelineWorld, failure, minutesAfter, move, NOW, rpc } from './fixtures';

const board = (args: Record<string, unknown>) => rpc<PipelineBoard | null>('console_pipeline_board', { p_now: NOW, ...args });

/** What the tables say about one pipeline's stages: count and mean seconds in stage at NOW. */
const truth = (pipelineId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ id: string; name: string; n: number; avg: string | null }>(
			`select st.id, st.name, count(pc.id)::integer as n,
			        round(extract(epoch from avg($2::timestamptz - pc.stage_entered_at))::numeric, 1)::text as avg
			   from public.pipeline_stages st left join public.pipeline_contacts pc on pc.stage_id = st.id
			  where st.pipeline_id = $1 group by st.id order by st.stage_order`,
			[pipelineId, NOW],
		);
		return rows.map((row) => ({ id: row.id, name: row.name, contact_count: row.n, avg_seconds_in_stage: row.avg === null ? null : Number(row.avg) }));
	});

test('every stage, count, average and card equals the tables, last activity and analysis included', async () => {
	const world = await createPipelineWorld();
	const [early, late, moved, fallback, named] = await world.contacts(5);
	await withDb((db) => db.query(`update public.messenger_conversations set sender_name = 'Zoë Board' where id = $1`, [named]));
	await assign([analysis(early, 30), analysis(named, 35)], minutesAfter(-120));
	await assign([analysis(late, 40), analysis(moved, 60)], minutesAfter(-30));
	await assign([analysis(fallback, 50, { is_fallback: true, reasoning: 'The model failed: scored by the rules', confidence: 0 })], minutesAfter(-10));
	await move([{ conversation_id: moved, stage_id: world.pipeline.stages.Won, reason: 'Paid the invoice' }], minutesAfter(-5));

	const answer = (await board({ p_pipeline_id: world.pipeline.id }))!;
	expect(answer.pipeline).toMatchObject({ id: world.pipeline.id, name: 'Sales', user_id: world.userId });
	expect(answer.pipelines.find((pipeline) => pipeline.id === world.pipeline.id)).toEqual({ id: world.pipeline.id, name: 'Sales', user_id: world.userId, contact_count: 5 });
	expect(new Date(answer.generatedAt).toISOString()).toBe(NOW);
	expect(answer.stages.map(({ id, name, contact_count, avg_seconds_in_stage }) => ({ id, name, contact_count, avg_seconds_in_stage }))).toEqual(await truth(world.pipeline.id));
	expect(answer.stages.map((stage) => [stage.name, stage.contact_count])).toEqual([
		['New Lead', 0], ['Contacted', 3], ['Qualified', 1], ['Proposal', 0], ['Won', 1], ['Lost', 0],
	]);
	// Contacted: three contacts for 120, 120 and 30 minutes: 90 minutes on average.
	expect(answer.stages[1].avg_seconds_in_stage).toBe(5400);
	expect(answer.stages[0].avg_seconds_in_stage).toBeNull();

	// The cards are the places, most recent arrivals first, with the latest activity of each.
	const places = await withDb(async (db) =>
		(await db.query(
			`select pc.*, c.sender_id, c.sender_name,
			        (select to_jsonb(a) from public.contact_activities a where a.conversation_id = pc.conversation_id and a.pipeline_id = pc.pipeline_id
			          order by a.occurred_at desc, a.id desc limit 1) as last
			   from public.pipeline_contacts pc join public.messenger_conversations c on c.id = pc.conversation_id
			  where pc.pipeline_id = $1`,
			[world.pipeline.id],
		)).rows,
	);
	const cards = answer.stages.flatMap((stage) => stage.cards.map((card) => ({ stage: stage.id, card })));
	expect(cards).toHaveLength(5);
	for (const { stage, card } of cards) {
		const place = places.find((row) => row.conversation_id === card.conversation_id)!;
		expect(stage).toBe(place.stage_id);
		expect(card).toEqual({
			conversation_id: place.conversation_id,
			sender_id: place.sender_id,
			sender_name: place.sender_name,
			lead_score: place.lead_score,
			lead_status: place.lead_status,
			stage_entered_at: expect.any(String),
			seconds_in_stage: (Date.parse(NOW) - place.stage_entered_at.getTime()) / 1000,
			analysis: {
				summary: place.analysis_summary,
				reasoning: place.analysis_reasoning,
				confidence: Number(place.analysis_confidence),
				recommended_stage: place.analysis_recommended_stage,
				model: place.analysis_model,
				is_fallback: place.analysis_is_fallback,
				analysed_at: expect.any(String),
			},
			last_activity: {
				type: place.last.type,
				title: place.last.title,
				description: place.last.description,
				actor: place.last.actor,
				occurred_at: expect.any(String),
				metadata: place.last.metadata,
			},
		});
		expect(Date.parse(card.stage_entered_at)).toBe(place.stage_entered_at.getTime());
		expect(Date.parse(card.last_activity!.occurred_at)).toBe(Date.parse(place.last.occurred_at));
	}
	const contacted = answer.stages[1].cards;
	expect(contacted.map((card) => card.conversation_id)).toEqual([late, ...[early, named].sort()]);
	const won = answer.stages[4].cards[0];
	expect(won).toMatchObject({ conversation_id: moved, seconds_in_stage: 300, last_activity: { type: 'MANUAL_MOVE', description: 'Paid the invoice', actor: 'user' } });
	const fell = answer.stages[2].cards[0];
	expect(fell).toMatchObject({ conversation_id: fallback, analysis: { is_fallback: true, confidence: 0, reasoning: 'The model failed: scored by the rules' } });
	expect(contacted.find((card) => card.conversation_id === named)?.sender_name).toBe('Zoë Board');
});

test('a stage answers one page; one stage is paged further; the pages hold each contact once', async () => {
	const world = await createPipelineWorld();
	const contacts = await world.contacts(25);
	// One arrival a minute, so the order is the arrival order (most recent first).
	for (const [index, id] of contacts.entries()) await assign([analysis(id, 30)], minutesAfter(-100 + index));
	const [other] = await world.contacts(1);
	await assign([analysis(other, 60)], minutesAfter(-50));
	const contactedId = world.pipeline.stages.Contacted;

	const first = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 10 }))!;
	const contacted = first.stages.find((stage) => stage.id === contactedId)!;
	expect(contacted).toMatchObject({ contact_count: 25, matching_count: 25, offset: 0, limit: 10 });
	expect(contacted.cards.map((card) => card.conversation_id)).toEqual([...contacts].reverse().slice(0, 10));

	const pages = [contacted.cards];
	for (const offset of [10, 20]) {
		const next = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 10, p_stage_id: contactedId, p_offset: offset }))!;
		const stage = next.stages.find((row) => row.id === contactedId)!;
		expect(stage.offset).toBe(offset);
		pages.push(stage.cards);
		// The other stages still answer their first page.
		expect(next.stages.find((row) => row.name === 'Qualified')).toMatchObject({ offset: 0, contact_count: 1 });
		expect(next.stages.find((row) => row.name === 'Qualified')!.cards.map((card) => card.conversation_id)).toEqual([other]);
	}
	expect(pages.map((page) => page.length)).toEqual([10, 10, 5]);
	expect(pages.flat().map((card) => card.conversation_id)).toEqual([...contacts].reverse());
});

test('a search narrows the cards to a part of the name or Messenger id, its wildcards taken literally', async () => {
	const world = await createPipelineWorld();
	const [ana, bob, percent] = await world.contacts(3);
	await withDb((db) =>
		db.query(`update public.messenger_conversations c set sender_name = v.name from (values ($1::uuid, 'Ana Lima'), ($2::uuid, 'Bob Stone'), ($3::uuid, '100% Sure')) v (id, name) where c.id = v.id`, [ana, bob, percent]),
	);
	await assign([analysis(ana, 30), analysis(bob, 30), analysis(percent, 60)], minutesAfter(-20));
	const found = (await board({ p_pipeline_id: world.pipeline.id, p_search: ' lima ' }))!;
	expect(found.search).toBe(true);
	expect(found.stages.map((stage) => [stage.name, stage.contact_count, stage.matching_count, stage.cards.map((card) => card.conversation_id)])).toEqual([
		['New Lead', 0, 0, []], ['Contacted', 2, 1, [ana]], ['Qualified', 1, 0, []], ['Proposal', 0, 0, []], ['Won', 0, 0, []], ['Lost', 0, 0, []],
	]);
	const literal = (await board({ p_pipeline_id: world.pipeline.id, p_search: '0%' }))!;
	expect(literal.stages.flatMap((stage) => stage.cards.map((card) => card.conversation_id))).toEqual([percent]);
	const { rows } = await withDb((db) => db.query<{ sender_id: string }>('select sender_id from public.messenger_conversations where id = $1', [bob]));
	const byId = (await board({ p_pipeline_id: world.pipeline.id, p_search: rows[0].sender_id }))!;
	expect(byId.stages.flatMap((stage) => stage.cards.map((card) => card.conversation_id))).toEqual([bob]);
});

test('p_offsets pages several stages in one call: each stage starts where it was asked, the others at their first page (migration …2250)', async () => {
	const world = await createPipelineWorld();
	const contacted = await world.contacts(25);
	for (const [index, id] of contacted.entries()) await assign([analysis(id, 30)], minutesAfter(-100 + index));
	const qualified = await world.contacts(15);
	for (const [index, id] of qualified.entries()) await assign([analysis(id, 60)], minutesAfter(-50 + index));
	const [proposal] = await world.contacts(1);
	await assign([analysis(proposal, 90)], minutesAfter(-5));
	const { Contacted, Qualified, Proposal } = world.pipeline.stages;

	const answer = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 10, p_offsets: { [Contacted]: 20, [Qualified.toUpperCase()]: 10 } }))!;
	const stage = (id: string) => answer.stages.find((row) => row.id === id)!;
	expect(stage(Contacted)).toMatchObject({ offset: 20, contact_count: 25 });
	expect(stage(Contacted).cards.map((card) => card.conversation_id)).toEqual([...contacted].reverse().slice(20));
	expect(stage(Qualified)).toMatchObject({ offset: 10, contact_count: 15 });
	expect(stage(Qualified).cards.map((card) => card.conversation_id)).toEqual([...qualified].reverse().slice(10));
	expect(stage(Proposal)).toMatchObject({ offset: 0 });
	expect(stage(Proposal).cards.map((card) => card.conversation_id)).toEqual([proposal]);
	// The same pages as the old shape's, one stage at a time.
	for (const [id, offset] of [[Contacted, 20], [Qualified, 10]] as const) {
		const one = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 10, p_stage_id: id, p_offset: offset }))!;
		expect(one.stages.find((row) => row.id === id)!.cards).toEqual(stage(id).cards);
	}
	// Another offset is another version (the page that asks for it is shown it, not "unchanged").
	const moved = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 10, p_offsets: { [Contacted]: 10, [Qualified]: 10 }, p_known: answer.version }))!;
	expect(moved.version).not.toBe(answer.version);
	expect((await board({ p_pipeline_id: world.pipeline.id, p_limit: 10, p_offsets: {} }))!.stages.every((row) => row.offset === 0)).toBe(true);

	const other = await world.addPipeline('Other', [{ name: 'Only' }]);
	const refusals: Array<[Record<string, unknown>, RegExp]> = [
		[{ p_offsets: [20] }, /^p_offsets must be a JSON object of stage id to offset \(got a JSON array\)/],
		[{ p_offsets: { [Contacted]: 20 }, p_stage_id: Qualified, p_offset: 10 }, /^p_offsets and p_stage_id are two ways to page/],
		[{ p_offsets: { stage: 20 } }, /^p_offsets: the key "stage" is not a stage id/],
		[{ p_offsets: { [Contacted]: -1 } }, new RegExp(`^p_offsets: the offset of stage ${Contacted} must be a whole number from 0 to 1000000 \\(got -1\\)`)],
		[{ p_offsets: { [Contacted]: 2.5 } }, /must be a whole number from 0 to 1000000 \(got 2.5\)/],
		[{ p_offsets: { [Contacted]: '20' } }, /must be a whole number from 0 to 1000000 \(got "20"\)/],
		[{ p_offsets: { [Contacted]: 1000001 } }, /must be a whole number from 0 to 1000000/],
		[{ p_offsets: { [other.stages.Only]: 20 } }, new RegExp(`^p_offsets: ${other.stages.Only} is not a stage of pipeline ${world.pipeline.id}`)],
	];
	for (const [args, message] of refusals) {
		const error = await failure(board({ p_pipeline_id: world.pipeline.id, ...args }));
		expect([error.code, error.message]).toEqual(['22023', expect.stringMatching(message)]);
	}
});

test('without a pipeline: the pipelines only; an unknown pipeline: null; bad arguments are refused naming them', async () => {
	const world = await createPipelineWorld();
	const list = (await board({}))!;
	expect(list.pipeline).toBeNull();
	expect(list.stages).toEqual([]);
	expect(list.pipelines.map((pipeline) => pipeline.id)).toContain(world.pipeline.id);
	expect(await board({ p_pipeline_id: '00000000-0000-4000-8000-000000000000' })).toBeNull();

	const other = await world.addPipeline('Other', [{ name: 'Only' }]);
	const refusals: Array<[Record<string, unknown>, RegExp]> = [
		[{ p_limit: 0 }, /^p_limit must be between 1 and 200 cards per stage \(got 0\)/],
		[{ p_limit: 201 }, /^p_limit must be between 1 and 200/],
		[{ p_offset: -1, p_stage_id: world.pipeline.stages.Won }, /^p_offset must be between 0 and 1000000 \(got -1\)/],
		[{ p_offset: 20 }, /^p_offset needs p_stage_id/],
		[{ p_stage_id: other.stages.Only }, new RegExp(`^p_stage_id: ${other.stages.Only} is not a stage of pipeline ${world.pipeline.id}`)],
		[{ p_search: 'x'.repeat(201) }, /^p_search must be at most 200 characters \(got 201\)/],
		[{ p_known: 'v1' }, /^p_known must be the version of an earlier answer, 32 hexadecimal digits \(got v1\)/],
	];
	for (const [args, message] of refusals) {
		const error = await failure(board({ p_pipeline_id: world.pipeline.id, ...args }));
		expect([error.code, error.message]).toEqual(['22023', expect.stringMatching(message)]);
	}
});

test('the version comes back unchanged while only the clock moves; a move, a new card or another page changes it', async () => {
	const world = await createPipelineWorld();
	const [first, second] = await world.contacts(2);
	await assign([analysis(first, 30)], minutesAfter(-60));
	const answer = (await board({ p_pipeline_id: world.pipeline.id }))!;
	expect(answer.version).toMatch(/^[0-9a-f]{32}$/);
	// An hour later nothing moved but the clock: the short answer.
	const later = minutesAfter(60);
	const unchanged = await rpc<Record<string, unknown>>('console_pipeline_board', { p_pipeline_id: world.pipeline.id, p_known: answer.version, p_now: later });
	expect(unchanged).toEqual({ unchanged: true, version: answer.version, generatedAt: expect.any(String), pipelines: expect.any(Array) });
	expect(Date.parse(unchanged.generatedAt as string)).toBe(Date.parse(later));
	// Another pipeline filled meanwhile: the picker's counts move, the board shown does not (its version
	// stays), and the short answer carries the fresh picker.
	const elsewhere = await createPipelineWorld();
	const [placed] = await elsewhere.contacts(1);
	await assign([analysis(placed, 30)], minutesAfter(-30));
	const picker = await rpc<{ version: string; pipelines: Array<{ id: string; contact_count: number }> }>('console_pipeline_board', { p_pipeline_id: world.pipeline.id, p_known: answer.version, p_now: later });
	expect(picker).toMatchObject({ unchanged: true, version: answer.version });
	expect(picker.pipelines.find((pipeline) => pipeline.id === elsewhere.pipeline.id)).toMatchObject({ contact_count: 1 });
	expect(picker.pipelines.find((pipeline) => pipeline.id === world.pipeline.id)).toMatchObject({ contact_count: 1 });
	// The whole board an hour later has the same version, its times an hour on.
	const whole = (await rpc<PipelineBoard>('console_pipeline_board', { p_pipeline_id: world.pipeline.id, p_now: later }))!;
	expect(whole.version).toBe(answer.version);
	expect(whole.stages[1].cards[0].seconds_in_stage).toBe(answer.stages[1].cards[0].seconds_in_stage + 3600);
	expect(whole.stages[1].avg_seconds_in_stage).toBe(answer.stages[1].avg_seconds_in_stage! + 3600);

	// Another page asked for, a move, a new contact: another version, and the whole board.
	const other = (await board({ p_pipeline_id: world.pipeline.id, p_limit: 5, p_known: answer.version }))!;
	expect(other.stages).toHaveLength(6);
	expect(other.version).not.toBe(answer.version);
	await move([{ conversation_id: first, stage_id: world.pipeline.stages.Won }], minutesAfter(-1));
	const moved = (await board({ p_pipeline_id: world.pipeline.id, p_known: answer.version }))!;
	expect(moved.stages.find((stage) => stage.name === 'Won')?.cards.map((card) => card.conversation_id)).toEqual([first]);
	await assign([analysis(second, 30)], minutesAfter(-1));
	const added = (await board({ p_pipeline_id: world.pipeline.id, p_known: moved.version }))!;
	expect(added.version).not.toBe(moved.version);
	expect(added.stages[1].cards.map((card) => card.conversation_id)).toEqual([second]);
});

test('a signed-in user sees their own pipelines only; anonymous callers may not call it', async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const [contact] = await mine.contacts(1);
	await assign([analysis(contact, 90)], minutesAfter(-5));
	const { data, error } = await userClient(mine.userId).rpc('console_pipeline_board', { p_pipeline_id: mine.pipeline.id, p_now: NOW });
	expect(error).toBeNull();
	expect((data as PipelineBoard).pipelines.map((pipeline) => pipeline.id)).toEqual([mine.pipeline.id]);
	expect((data as PipelineBoard).stages.find((stage) => stage.name === 'Proposal')?.cards.map((card) => card.conversation_id)).toEqual([contact]);
	const foreign = await userClient(mine.userId).rpc('console_pipeline_board', { p_pipeline_id: theirs.pipeline.id, p_now: NOW });
	expect(foreign).toMatchObject({ error: null, data: null });
	const anonymous = await anonClient().rpc('console_pipeline_board', { p_pipeline_id: mine.pipeline.id });
	expect(anonymous.error?.code).toBe('42501');
});
