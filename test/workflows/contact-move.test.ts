// workflows/contact-move.json through n8n's engine in-process against the local stack: a move by
// stage name and by stage id answering 200 with the new stage and the automations it fired, 400 for
// bad input (a reason or a conversationId that is not text among it; a body field it does not read
// or a query parameter, refused before the node runs), 404 for an unknown contact or stage, each
// problem with its hint (what to do), and nothing written for a refused request.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials } from '../harness';
import { testStack } from '../helpers/stack';
import { activities, analysis, assign, createPipelineWorld, places, type PipelineWorld } from '../db/pipelines/fixtures';

const WORKFLOW = 'workflows/contact-move.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let credentials: TestCredentials;
let world: PipelineWorld;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'STAGE_CHANGED', trigger_conditions: {}, actions: [{ type: 'notify', message: 'A lead changed stage' }] });
});

const move = (body: unknown, headers: Record<string, string> = { [KEY.name]: KEY.value }, query?: Record<string, string>) =>
	runWorkflow(WORKFLOW, { startNode: 'Move Request', webhook: { method: 'POST', headers, body, ...(query && { query }) }, credentials });

async function placedContact(score = 10): Promise<string> {
	const contact = await world.contact();
	await assign([analysis(contact, score)]);
	return contact;
}

/** The hint of a name or id the database does not have (nodes/shared/supabase.ts, adviceFor). */
const NOT_FOUND_HINT = "Use an id or name that exists: the one the message names is not in the database (mistyped, deleted meanwhile, or another owner's).";

const stageOf = async (contact: string) =>
	((await places(world.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>).find((place) => place.conversation_id === contact)?.stage_id;

test('a move by stage name answers 200 with the new stage, the one it left and the automations it fired', async () => {
	const contact = await placedContact();
	const result = await move({ conversationId: contact, stage: 'qualified', reason: 'Booked a demo' });

	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as IDataObject;
	expect(body).toMatchObject({
		conversation_id: contact,
		outcome: 'moved',
		stage: { id: world.pipeline.stages.Qualified, name: 'Qualified', pipeline_id: world.pipeline.id },
		from_stage: { id: world.pipeline.stages['New Lead'], name: 'New Lead' },
		automations_fired: 1,
	});
	expect(body.automations).toEqual([{ outbox_id: expect.any(String), kind: 'notify', automation: { id: expect.any(String), name: expect.any(String) }, action: { type: 'notify' } }]);
	expect(await stageOf(contact)).toBe(world.pipeline.stages.Qualified);
});

test('a move by stage id answers 200; the same move again keeps the contact where it is', async () => {
	const contact = await placedContact();
	const first = await move({ conversationId: contact, stage: world.pipeline.stages.Proposal });
	expect(first.response?.statusCode).toBe(200);
	expect(first.response?.body).toMatchObject({ outcome: 'moved', stage: { name: 'Proposal' } });

	const again = await move({ conversationId: contact, stage: world.pipeline.stages.Proposal });
	expect(again.response?.statusCode).toBe(200);
	expect(again.response?.body).toMatchObject({ outcome: 'kept', stage: { name: 'Proposal' }, automations: [] });
});

test('bad input answers 400 naming the problem, and writes nothing', async () => {
	const contact = await placedContact();
	const noId = await move({ stage: 'Qualified' });
	expect(noId.response?.statusCode).toBe(400);
	expect(noId.response?.body).toEqual({
		status: 400,
		error: expect.stringMatching(/conversation ID "" is not a UUID/),
		field: 'conversationId',
		hint: 'Give the contact\'s id (the id column of messenger_conversations): a webhook caller sends it as {"conversationId": "…"}, a workflow maps it, e.g. {{ $json.conversationId }}.',
	});

	const noStage = await move({ conversationId: contact });
	expect(noStage.response?.statusCode).toBe(400);
	expect(noStage.response?.body).toEqual({ status: 400, error: 'Stage is empty', field: 'stage', hint: 'Give the stage\'s id or its name: a webhook caller sends it as {"stage": "Qualified"}, a workflow picks it from the list or maps it.' });

	const longReason = await move({ conversationId: contact, stage: 'Won', reason: 'x'.repeat(2001) });
	expect(longReason.response?.statusCode).toBe(400);
	expect(longReason.response?.body).toEqual({
		status: 400,
		error: expect.stringMatching(/^Reason is too long/),
		field: 'reason',
		hint: 'Write the reason as plain text of at most 2,000 characters.',
	});
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
});

test('a reason that is not text (an object, an array, a number) answers 400 naming Reason; nothing is moved or written', async () => {
	const contact = await placedContact();
	const before = await activities(contact);
	for (const reason of [{ text: 'Booked a demo' }, ['Booked a demo'], 42]) {
		const refused = await move({ conversationId: contact, stage: 'Qualified', reason });
		expect({ reason, answer: refused.response }).toEqual({
			reason,
			answer: expect.objectContaining({
				statusCode: 400,
				body: {
					status: 400,
					error: expect.stringMatching(/^Reason must be text \(got /),
					field: 'reason',
					hint: 'Send the reason as text, a JSON string, e.g. {"reason": "Booked a demo"}: at most 2,000 characters.',
				},
			}),
		});
	}
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
	expect(await activities(contact)).toEqual(before);
});

// null is JSON's "no value": the same as leaving the field out (documented in the workflow's note).
test('reason null is no reason: the contact is moved, its history row without a description', async () => {
	const contact = await placedContact();
	const moved = await move({ conversationId: contact, stage: 'Qualified', reason: null });
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({ outcome: 'moved', stage: { name: 'Qualified' } });
	const manual = (await activities(contact)).filter((entry) => entry.type === 'MANUAL_MOVE');
	expect(manual).toEqual([expect.objectContaining({ description: null, title: 'Moved manually', actor: 'user' })]);
});

test('a conversationId that is not text (a list holding the id, an object, a number) answers 400 naming it, with what to send; nothing is moved or written', async () => {
	const contact = await placedContact();
	const before = await activities(contact);
	for (const [conversationId, got] of [
		[[contact], 'an array of 1'],
		[{ id: contact }, 'an object'],
		[42, '42'],
	] as const) {
		const refused = await move({ conversationId, stage: 'Qualified', reason: 'Booked a demo' });
		expect({ conversationId, answer: refused.response }).toEqual({
			conversationId,
			answer: expect.objectContaining({
				statusCode: 400,
				body: {
					status: 400,
					error: `Conversation ID must be text (got ${got})`,
					field: 'conversationId',
					hint: expect.stringContaining('Send one contact\'s id as text, e.g. {"conversationId": "'),
				},
			}),
		});
	}
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
	expect(await activities(contact)).toEqual(before);
});

test('an unknown contact or stage answers 404, and writes nothing', async () => {
	const contact = await placedContact();
	const unknownContact = await move({ conversationId: randomUUID(), stage: 'Qualified' });
	expect(unknownContact.response?.statusCode).toBe(404);
	expect(unknownContact.response?.body).toEqual({ status: 404, error: expect.stringMatching(/does not exist/), hint: 'Use ids from messenger_conversations.' });

	const unknownStage = await move({ conversationId: contact, stage: 'Nowhere' });
	expect(unknownStage.response?.statusCode).toBe(404);
	// Not "check the Supabase project URL": the database answered, the name is not there.
	expect(unknownStage.response?.body).toEqual({ status: 404, error: expect.stringMatching(/no stage named "Nowhere"/), hint: NOT_FOUND_HINT });

	const unknownStageId = await move({ conversationId: contact, stage: randomUUID() });
	expect(unknownStageId.response?.statusCode).toBe(404);
	expect(unknownStageId.response?.body).toEqual({ status: 404, error: expect.stringMatching(/stage \S+ does not exist/), hint: NOT_FOUND_HINT });
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
});

test('pipelineId: a name is looked up in that pipeline, for a contact in several pipelines or in none yet', async () => {
	const partners = await world.addPipeline('Partners', [{ name: 'Qualified', isDefault: true }, { name: 'Signed' }]);
	// In two pipelines: without pipelineId the name is ambiguous, and nothing moves.
	const both = await world.contact();
	await assign([analysis(both, 10)]);
	await assign([analysis(both, 10, { pipeline_id: partners.id })]);
	const ambiguous = await move({ conversationId: both, stage: 'Qualified' });
	expect(ambiguous.response?.statusCode).toBe(400);
	expect(ambiguous.response?.body).toEqual({
		status: 400,
		error: 'item 0 (p_items[0]): Pipeline is empty and the contact is in 2 pipelines',
		hint: 'Choose which of its pipelines the stage name is in (a webhook caller sends {"pipelineId": "…"}), or give the stage\'s ID.',
	});
	const inPartners = await move({ conversationId: both, stage: 'signed', pipelineId: partners.id });
	expect(inPartners.response?.statusCode).toBe(200);
	expect(inPartners.response?.body).toMatchObject({ outcome: 'moved', stage: { id: partners.stages.Signed, name: 'Signed', pipeline_id: partners.id }, from_stage: { name: 'Qualified' } });
	// Its place in Sales stays where it was.
	const bothPlaces = ((await places(world.userId)) as unknown as Array<{ conversation_id: string; pipeline_id: string; stage_id: string }>).filter((place) => place.conversation_id === both);
	expect(Object.fromEntries(bothPlaces.map((place) => [place.pipeline_id, place.stage_id]))).toEqual({
		[world.pipeline.id]: world.pipeline.stages['New Lead'],
		[partners.id]: partners.stages.Signed,
	});

	// In no pipeline yet: placed in the one named.
	const fresh = await world.contact();
	const placed = await move({ conversationId: fresh, stage: 'Signed', pipelineId: partners.id });
	expect(placed.response?.statusCode).toBe(200);
	expect(placed.response?.body).toMatchObject({ outcome: 'assigned', stage: { id: partners.stages.Signed, pipeline_id: partners.id } });

	// Not a UUID (a name, a list holding the id, an object, true): 400 naming it, nothing written.
	const other = await world.contact();
	await assign([analysis(other, 10)]);
	for (const [pipelineId, shown] of [
		['partners', 'partners'],
		[[partners.id], `["${partners.id}"]`],
		[{ id: partners.id }, `{"id":"${partners.id}"}`],
		[true, 'true'],
	] as const) {
		const bad = await move({ conversationId: other, stage: 'Qualified', pipelineId });
		expect(bad.response?.statusCode).toBe(400);
		expect(bad.response?.body).toEqual({
			status: 400,
			error: `The pipeline ID "${shown}" is not a UUID`,
			field: 'pipelineId',
			// Empty means the one pipeline the contact is in for a move (Analyze and Assign: the Page's).
			hint: 'Pick the pipeline from the list, use the id column of pipelines, or leave it empty for the one pipeline the contact is in.',
		});
	}
	expect(await stageOf(other)).toBe(world.pipeline.stages['New Lead']);
	expect(((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).filter((place) => place.conversation_id === other)).toHaveLength(1);
});

test('without the webhook key header the request is refused before the node runs', async () => {
	const contact = await placedContact();
	const result = await move({ conversationId: contact, stage: 'Won' }, {});
	expect(result.response?.statusCode).toBe(403);
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
});

// An automation the move sets off may move the contact on: the answer's stage is the one asked for,
// and its automations are every action handed out for the contact, the chained move's included.
test('a move that sets off another move answers every automation handed out for the contact, not only those of the stage asked for', async () => {
	const own = await createPipelineWorld();
	const { stages } = own.pipeline;
	await own.automation({ name: 'qualified → proposal', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Qualified }, actions: [{ type: 'move_to_stage', stage_id: stages.Proposal }] });
	await own.automation({ name: 'tell the team', trigger_type: 'STAGE_CHANGED', trigger_conditions: {}, actions: [{ type: 'notify', message: 'A lead changed stage' }] });
	const contact = await own.contact();
	await assign([analysis(contact, 10)]);

	const result = await move({ conversationId: contact, stage: 'Qualified' });
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as IDataObject;
	expect(body).toMatchObject({ outcome: 'moved', stage: { id: stages.Qualified, name: 'Qualified' }, automations_fired: 3 });
	// The notify of the move to Qualified and the one of the automation's move on to Proposal.
	expect(body.automations).toEqual([
		expect.objectContaining({ kind: 'notify', automation: expect.objectContaining({ name: 'tell the team' }) }),
		expect.objectContaining({ kind: 'notify', automation: expect.objectContaining({ name: 'tell the team' }) }),
	]);
	const placed = (await places(own.userId)) as unknown as Array<{ conversation_id: string; stage_id: string }>;
	expect(placed.find((place) => place.conversation_id === contact)?.stage_id).toBe(stages.Proposal);
});

// The answer goes to whoever holds the webhook key (the console page): a webhook action's URL,
// headers and body may hold the receiver's secrets, so the answer names the action's type only.
test('the answer names each action by its type only: never a webhook\'s URL, headers or body', async () => {
	const own = await createPipelineWorld();
	const { stages } = own.pipeline;
	await own.automation({
		name: 'Won: billing',
		trigger_type: 'STAGE_CHANGED',
		trigger_conditions: { to_stage_id: stages.Won },
		actions: [{ type: 'webhook', url: 'https://hooks.example.test/catch/123?api_key=sk_live_SECRET', method: 'POST', body: { auth: 'SECRET-IN-BODY' } }],
	});
	const contact = await own.contact();
	await assign([analysis(contact, 10)]);

	const result = await move({ conversationId: contact, stage: 'Won', reason: "Moved to Won on the console's board" });
	expect(result.response?.statusCode).toBe(200);
	const body = result.response?.body as IDataObject;
	expect(body.automations).toEqual([{ outbox_id: expect.any(String), kind: 'webhook', automation: { id: expect.any(String), name: 'Won: billing' }, action: { type: 'webhook' } }]);
	expect(JSON.stringify(body)).not.toMatch(/SECRET|hooks\.example\.test/);
	// The Automations output (what the delivery gets) keeps the whole action, and who moved the contact and why.
	const [handedOut] = (result.nodeBranches['Move Contact']?.[1] ?? []) as IDataObject[];
	expect(handedOut).toMatchObject({ user_id: own.userId, action: { url: 'https://hooks.example.test/catch/123?api_key=sk_live_SECRET' }, change: { actor: 'user', reason: "Moved to Won on the console's board" } });
});

// Each level's actions before the next level's: the answer and the Automations output list them
// in the order they fired (they came out in a random order across levels).
test('a move that sets off another: its actions come out in firing order, the stage asked for first, every time', async () => {
	const own = await createPipelineWorld();
	const { stages } = own.pipeline;
	await own.automation({ name: 'Qualified: tell, promote', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Qualified }, actions: [{ type: 'webhook', url: 'https://crm.example.test/q' }, { type: 'move_to_stage', stage_id: stages.Proposal }] });
	await own.automation({ name: 'Proposal: tell', trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: stages.Proposal }, actions: [{ type: 'webhook', url: 'https://crm.example.test/p' }] });
	const contacts = await own.contacts(8);
	await assign(contacts.map((id) => analysis(id, 10)));
	const orders: string[] = [];
	for (const contact of contacts) {
		const result = await move({ conversationId: contact, stage: 'Qualified' });
		const answered = ((result.response?.body as IDataObject).automations as IDataObject[]).map((item) => (item.automation as IDataObject).name);
		const output = ((result.nodeBranches['Move Contact']?.[1] ?? []) as IDataObject[]).map((item) => ((item.change as IDataObject).to_stage as IDataObject).name);
		orders.push(`${answered.join(' > ')} | ${output.join(' > ')}`);
	}
	expect(orders).toEqual(contacts.map(() => 'Qualified: tell, promote > Proposal: tell | Qualified > Proposal'));
});

// A number with a fraction is neither a stage's id (a UUID) nor its name: 12.5 was looked up as the
// name "12.5" and answered 404, as if the caller had the right kind of value and a wrong name. A whole
// number is read as its digits (a stage named "2026" sent as {"stage": 2026}), as before 0f4d6ea.
const STAGE_HINT =
	'Send the stage\'s name or id as text, e.g. {"stage": "Qualified"}: a whole number is read as a name made of its digits ({"stage": 2026} is the stage "2026"), a number with a fraction is neither a name nor an id (a stage\'s id is a UUID), a list or an object is not read, and one move goes to one stage.';
test('a stage that is not text (an object, a list, a boolean, a number with a fraction or beyond the exact integers) answers 400 saying so, not "Stage is empty" or 404; nothing is moved', async () => {
	const contact = await placedContact();
	const before = await activities(contact);
	for (const [stage, error] of [
		[12.5, 'Stage must be text or a whole number (got 12.5)'],
		[-0.5, 'Stage must be text or a whole number (got -0.5)'],
		[2 ** 53, 'Stage was given as the number 9007199254740992, too large to be exact (it has lost digits): send it as text'],
	] as const) {
		const refused = await move({ conversationId: contact, stage });
		expect({ stage, answer: refused.response }).toEqual({
			stage,
			answer: expect.objectContaining({ statusCode: 400, body: { status: 400, error, field: 'stage', hint: STAGE_HINT } }),
		});
	}
	for (const stage of [{ name: 'Qualified' }, ['Qualified'], true]) {
		const refused = await move({ conversationId: contact, stage });
		expect({ stage, answer: refused.response }).toMatchObject({
			stage,
			answer: { statusCode: 400, body: { status: 400, error: expect.stringMatching(/^Stage must be text \(got /), field: 'stage', hint: STAGE_HINT } },
		});
	}
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
	expect(await activities(contact)).toEqual(before);
});

// 0f4d6ea refused every number: {"stage": 2026} for the stage named "2026" answered 400.
test('a stage given as a whole number is the stage named by its digits: {"stage": 2026} moves to "2026"; one no stage is named: 404', async () => {
	const own = await createPipelineWorld();
	const years = await own.addPipeline('Years', [{ name: '2025', isDefault: true }, { name: '2026' }]);
	const contact = await own.contact();
	const moved = await move({ conversationId: contact, stage: 2026, pipelineId: years.id });
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({ outcome: 'assigned', stage: { id: years.stages['2026'], name: '2026', pipeline_id: years.id } });
	const unknown = await move({ conversationId: contact, stage: 7, pipelineId: years.id });
	expect(unknown.response).toMatchObject({ statusCode: 404, body: { status: 404, error: expect.stringContaining('no stage named "7"') } });
});

/** Check Request's hint: what the webhook reads. */
const REQUEST_HINT =
	'POST a JSON body {"conversationId": "<the contact\'s id>", "stage": "<a stage name or id>", "pipelineId": "<optional: the pipeline\'s id>", "fromPipelineId": "<optional: the pipeline to take it out of>", "reason": "<optional: text>", "movedBy": "<optional: who moved it, e.g. your user id>"}, with no query: these six fields only, named in camelCase.';

// Only conversationId, stage, pipelineId, fromPipelineId, reason and movedBy are read: a field under another name (pipeline_id)
// or in the query (?pipelineId=) was ignored, and the contact moved in the pipeline it is in, firing
// that pipeline's automations (its billing webhook) for a move its caller meant elsewhere.
test('an unknown body field or a query parameter answers 400 naming it (a snake_case name: the camelCase one), before anything is moved or fired', async () => {
	const support = await world.addPipeline('Support', [{ name: 'Open', isDefault: true }, { name: 'Won' }]);
	const contact = await placedContact();
	const before = await activities(contact);
	for (const [body, query, answer] of [
		[
			{ conversationId: contact, stage: 'Won', pipeline_id: support.id },
			undefined,
			{ field: 'pipeline_id', error: 'Unknown field "pipeline_id": the body takes conversationId, stage, pipelineId, fromPipelineId, reason and movedBy (did you mean "pipelineId"?)' },
		],
		[
			{ conversation_id: contact, stage: 'Won', moved_by: 'user-7' },
			undefined,
			{
				field: 'conversation_id',
				error: 'Unknown fields "conversation_id", "moved_by": the body takes conversationId, stage, pipelineId, fromPipelineId, reason and movedBy (did you mean "conversationId" for "conversation_id", "movedBy" for "moved_by"?)',
			},
		],
		[
			{ conversationId: contact, stage: 'Won' },
			{ pipelineId: support.id },
			{ field: 'pipelineId', error: 'Query parameter "pipelineId": this webhook reads only the JSON body; send it there' },
		],
		[
			{ conversationId: contact, stage: 'Won' },
			{ pipeline_id: support.id, dryRun: 'true' },
			{ field: 'pipeline_id', error: 'Query parameters "pipeline_id", "dryRun": this webhook reads only the JSON body; send them there (as "pipelineId" for "pipeline_id")' },
		],
		[[{ conversationId: contact, stage: 'Won' }], undefined, { field: 'body', error: 'The body is not a JSON object' }],
	] as const) {
		const refused = await move(body, undefined, query);
		expect({ body, query, answer: refused.response }).toEqual({
			body,
			query,
			answer: expect.objectContaining({ statusCode: 400, body: { status: 400, ...answer, hint: REQUEST_HINT } }),
		});
		expect(refused.nodeOutputs['Move Contact']).toBeUndefined();
	}
	expect(await stageOf(contact)).toBe(world.pipeline.stages['New Lead']);
	expect(((await places(world.userId)) as unknown as Array<{ conversation_id: string }>).filter((place) => place.conversation_id === contact)).toHaveLength(1);
	expect(await activities(contact)).toEqual(before);

	// The body the console sends (conversationId, stage, reason) still moves the contact.
	const moved = await move({ conversationId: contact, stage: 'Won', reason: "Moved to Won on the console's board" });
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({ outcome: 'moved', stage: { id: world.pipeline.stages.Won, pipeline_id: world.pipeline.id } });
});

// Who moved: the app says it (movedBy, e.g. the signed-in user's id); the history's MANUAL_MOVE
// names them (actor_id), and the answer says it back. The workflow's Moved By stays "a person".
// Before, the body had no such field (movedBy was refused as unknown) and every move's actor_id was null.
test('movedBy: stored as the move\'s actor_id (actor user), said back in the answer; absent or null: none; not text, blank lines or too long: 400 naming it, nothing written', async () => {
	const contact = await placedContact();
	const moved = await move({ conversationId: contact, stage: 'Qualified', reason: 'Booked a demo', movedBy: '  user-7  ' });
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({ outcome: 'moved', stage: { name: 'Qualified' }, moved_by: 'user-7' });
	const manual = () => activities(contact).then((rows) => rows.filter((entry) => entry.type === 'MANUAL_MOVE'));
	expect(await manual()).toEqual([expect.objectContaining({ actor: 'user', actor_id: 'user-7', description: 'Booked a demo', title: 'Moved manually' })]);
	// The change handed to the automations says who too.
	const [handedOut] = (moved.nodeBranches['Move Contact']?.[1] ?? []) as IDataObject[];
	expect(handedOut).toMatchObject({ change: { actor: 'user', actor_id: 'user-7', reason: 'Booked a demo' } });

	for (const movedBy of [undefined, null, '']) {
		const other = await placedContact();
		const answer = await move({ conversationId: other, stage: 'Won', ...(movedBy !== undefined && { movedBy }) });
		expect({ movedBy, status: answer.response?.statusCode, movedByAnswer: (answer.response?.body as IDataObject).moved_by }).toEqual({ movedBy, status: 200, movedByAnswer: null });
		expect((await activities(other)).filter((entry) => entry.type === 'MANUAL_MOVE')).toEqual([expect.objectContaining({ actor: 'user', actor_id: null })]);
	}

	// A whole number (a numeric user id) is read as its digits.
	const numeric = await placedContact();
	const byNumber = await move({ conversationId: numeric, stage: 'Won', movedBy: 42 });
	expect([byNumber.response?.statusCode, (byNumber.response?.body as IDataObject).moved_by]).toEqual([200, '42']);

	const before = await activities(contact);
	for (const [movedBy, error] of [
		[{ id: 'user-7' }, 'Mover ID must be text (got an object)'],
		[['user-7'], 'Mover ID must be text (got an array of 1)'],
		[true, 'Mover ID must be text (got true)'],
		[1.5, 'Mover ID must be text or a whole number (got 1.5)'],
		// Beyond the exact integers: it has lost digits (was "must be text", though whole numbers are read).
		[2 ** 53, 'Mover ID was given as the number 9007199254740992, too large to be exact (it has lost digits): send it as text'],
		['user\n7', expect.stringMatching(/^Mover ID contains a line break/)],
		['u'.repeat(201), 'Mover ID is too long: 201 characters, at most 200'],
	] as const) {
		const refused = await move({ conversationId: contact, stage: 'Won', movedBy });
		expect({ movedBy, answer: refused.response }).toEqual({
			movedBy,
			answer: expect.objectContaining({
				statusCode: 400,
				body: {
					status: 400,
					error,
					// The node's Mover ID (field actorId), answered as the request's movedBy.
					field: 'movedBy',
					hint: 'Say who moved the contact as one line of text, at most 200 characters: a webhook caller sends {"movedBy": "…"} (your user\'s id, or a name), or leaves it out. A whole number is read as its digits; one beyond 9007199254740991 has lost digits before it is read, so send it as text.',
				},
			}),
		});
	}
	expect(await stageOf(contact)).toBe(world.pipeline.stages.Qualified);
	expect(await activities(contact)).toEqual(before);
});

// A move could not take a contact out of a pipeline: a stage of another pipeline added it there and
// left it where it was (auto-assignment kept re-scoring it in both). fromPipelineId moves it out:
// its place there is left (score, status and analysis go with it), that pipeline's history says
// where it went, and auto-assignment leaves it out until a person moves it back.
test('fromPipelineId: the contact leaves that pipeline for the stage of another, its history there saying so; one it is not in: 404, nothing written', async () => {
	const own = await createPipelineWorld();
	const support = await own.addPipeline('Support', [{ name: 'Inbox', isDefault: true }, { name: 'Waiting' }]);
	const contact = await own.contact();
	await assign([analysis(contact, 30, { lead_status: 'QUALIFIED' })]);
	const placesOf = async () =>
		((await places(own.userId)) as unknown as Array<{ conversation_id: string; pipeline_id: string; stage_id: string; lead_score: number | null; lead_status: string }>)
			.filter((place) => place.conversation_id === contact)
			.map((place) => [place.pipeline_id, place.stage_id, place.lead_score, place.lead_status]);

	const moved = await move({ conversationId: contact, stage: 'waiting', pipelineId: support.id, fromPipelineId: own.pipeline.id, reason: 'A support case, not a sale', movedBy: 'user-7' });
	expect(moved.response?.statusCode).toBe(200);
	expect(moved.response?.body).toMatchObject({
		outcome: 'moved',
		stage: { id: support.stages.Waiting, name: 'Waiting', pipeline_id: support.id },
		from_stage: { id: own.pipeline.stages.Contacted, name: 'Contacted' },
		left_pipeline_id: own.pipeline.id,
		moved_by: 'user-7',
	});
	expect(await placesOf()).toEqual([[support.id, support.stages.Waiting, 30, 'QUALIFIED']]);
	const history = await activities(contact);
	const inSales = history.filter((entry) => entry.pipeline_id === own.pipeline.id);
	expect(inSales[inSales.length - 1]).toMatchObject({
		type: 'STAGE_CHANGED',
		title: 'Moved to another pipeline',
		from_stage_id: own.pipeline.stages.Contacted,
		to_stage_id: null,
		actor: 'user',
		actor_id: 'user-7',
		metadata: expect.objectContaining({ to_pipeline_id: support.id, to_stage_id: support.stages.Waiting }),
	});
	// Auto-assignment leaves it out of Sales (a person moved it out).
	const [again] = await assign([analysis(contact, 90)]);
	expect(again).toMatchObject({ outcome: 'skipped', reason: 'left_pipeline' });
	expect(await placesOf()).toEqual([[support.id, support.stages.Waiting, 30, 'QUALIFIED']]);

	// Without it, a stage of another pipeline adds the contact there and leaves it where it was.
	const both = await own.contact();
	await assign([analysis(both, 30)]);
	const added = await move({ conversationId: both, stage: support.stages.Inbox });
	expect(added.response?.body).toMatchObject({ outcome: 'assigned', left_pipeline_id: null });

	// A pipeline the contact is not in (it left Sales): 404 naming From Pipeline, nothing written.
	const before = await activities(contact);
	const notIn = await move({ conversationId: contact, stage: 'Inbox', pipelineId: support.id, fromPipelineId: own.pipeline.id });
	expect(notIn.response?.statusCode).toBe(404);
	expect(notIn.response?.body).toEqual({
		status: 404,
		error: `item 0 (p_items[0]): the contact is not in From Pipeline ${own.pipeline.id}`,
		hint: 'Choose a pipeline the contact is in to take it out of (a webhook caller sends {"fromPipelineId": "…"}), or leave From Pipeline empty.',
	});
	const notUuid = await move({ conversationId: contact, stage: 'Inbox', pipelineId: support.id, fromPipelineId: 'sales' });
	expect(notUuid.response?.statusCode).toBe(400);
	expect(notUuid.response?.body).toMatchObject({ status: 400, error: 'The From Pipeline ID "sales" is not a UUID' });
	expect(await placesOf()).toEqual([[support.id, support.stages.Waiting, 30, 'QUALIFIED']]);
	expect(await activities(contact)).toEqual(before);
});

// fromPipelineId naming the stage's own pipeline (a stage by name without pipelineId is looked up in
// the contact's one pipeline, the one it would leave) was ignored: 200 "moved", left_pipeline_id
// null, the contact stayed and that pipeline's automations fired. It is refused 400 naming it.
test('fromPipelineId that is the stage\'s own pipeline (a name looked up there, or a stage id of it): 400 naming From Pipeline, nothing moved or fired', async () => {
	const own = await createPipelineWorld();
	await own.automation({ trigger_type: 'STAGE_CHANGED', trigger_conditions: {}, actions: [{ type: 'notify', message: 'A lead changed stage' }] });
	const contact = await own.contact();
	await assign([analysis(contact, 30)]);
	const before = await activities(contact);
	for (const stage of ['qualified', own.pipeline.stages.Qualified]) {
		const refused = await move({ conversationId: contact, stage, fromPipelineId: own.pipeline.id });
		expect({ stage, answer: refused.response }).toEqual({
			stage,
			answer: expect.objectContaining({
				statusCode: 400,
				body: {
					status: 400,
					error: `item 0 (p_items[0]): the stage is in From Pipeline ${own.pipeline.id}, the pipeline it would leave`,
					hint: 'Give pipelineId (the pipeline whose stage to move the contact to; the node\'s Pipeline) or a stage of another pipeline, or leave fromPipelineId (From Pipeline) empty to move the contact within this pipeline.',
				},
			}),
		});
		expect(refused.nodeBranches['Move Contact']?.[1] ?? []).toEqual([]);
	}
	expect(((await places(own.userId)) as unknown as Array<{ conversation_id: string; pipeline_id: string; stage_id: string }>).filter((place) => place.conversation_id === contact).map((place) => [place.pipeline_id, place.stage_id])).toEqual([
		[own.pipeline.id, own.pipeline.stages.Contacted],
	]);
	expect(await activities(contact)).toEqual(before);
});
