// What a receiver of an automation's webhook / notify action relies on (migration
// 20261201001780_crm_pipelines_fire_order_and_change_details.sql): the actions of one change are
// handed out in the order they fired, a level of the cascade before the level it set off; and the
// payload says for which owner, who made the change and why, and carries its own outbox_id.
// Every claim here names its items (p_outbox_ids), so it never takes another test's.
import type { ClaimedOutboxItem, CompleteOutboxResult } from '../../../nodes/shared/contract';
import { analysis, assign, createPipelineWorld, move, rpc } from './fixtures';

const claimIds = (execution: string, ids: string[]) =>
	rpc<ClaimedOutboxItem[]>('pipeline_claim_outbox', { p_execution_id: execution, p_limit: 1000, p_lease_seconds: 300, p_outbox_ids: ids });
const deliver = (execution: string, items: ClaimedOutboxItem[]) =>
	rpc<CompleteOutboxResult[]>('pipeline_complete_outbox', { p_execution_id: execution, p_items: items.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' })) });

/** An owner whose contacts entering Qualified fire a webhook and move on to Proposal, whose own webhook fires in turn. */
async function twoLevels() {
	const world = await createPipelineWorld();
	const { stages } = world.pipeline;
	const qualified = await world.automation({
		name: 'Qualified: tell the CRM, promote',
		trigger_type: 'STAGE_CHANGED',
		trigger_conditions: { to_stage_id: stages.Qualified },
		actions: [{ type: 'webhook', url: 'https://crm.example.test/stage', body: { stage: 'Qualified' } }, { type: 'move_to_stage', stage_id: stages.Proposal }],
	});
	await world.automation({
		name: 'Proposal: tell the CRM',
		trigger_type: 'STAGE_CHANGED',
		trigger_conditions: { to_stage_id: stages.Proposal },
		actions: [{ type: 'webhook', url: 'https://crm.example.test/stage', body: { stage: 'Proposal' } }, { type: 'notify', message: 'A proposal is due' }],
	});
	return { world, qualified };
}

const described = (items: ClaimedOutboxItem[]) => items.map((item) => `${item.payload.change.to_stage?.name}/${item.kind}@${item.payload.change.depth}`);

test('the actions of one move come out in firing order: the level that set the next off first, each call (it was random per level)', async () => {
	const { world } = await twoLevels();
	// One call per contact: each draws its own ids. With a random draw per level, the Proposal
	// webhook came first for about half of them.
	const contacts = await world.contacts(20);
	await assign(contacts.map((id) => analysis(id, 10)));
	const orders: string[][] = [];
	for (const contact of contacts) {
		const [row] = await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified, reason: 'Booked a call' }]);
		const items = await claimIds(`order-${contact}`, row.outbox_ids);
		orders.push(described(items));
		// The answer lists them in the same order.
		expect(items.map((item) => item.outbox_id)).toEqual(row.outbox_ids);
		await deliver(`order-${contact}`, items);
	}
	expect(orders).toEqual(contacts.map(() => ['Qualified/webhook@0', 'Proposal/webhook@1', 'Proposal/notify@1']));
});

test('one call for many contacts: every action of a level before any of the next, each level by contact, automation and action', async () => {
	const { world } = await twoLevels();
	const contacts = await world.contacts(6);
	await assign(contacts.map((id) => analysis(id, 10)));
	const rows = await move(contacts.map((id) => ({ conversation_id: id, stage_id: world.pipeline.stages.Qualified })));
	const ids = rows.flatMap((row) => row.outbox_ids);
	const items = await claimIds('order-one-call', ids);
	expect(items).toHaveLength(18);
	const depths = items.map((item) => item.payload.change.depth);
	expect(depths).toEqual([...depths].sort((a, b) => a - b));
	// Within a level, by contact (their ids' order), then the automation's actions in order.
	const level1 = items.filter((item) => item.payload.change.depth === 1);
	const byContact = [...contacts].sort();
	expect(level1.map((item) => [item.conversation_id, item.kind])).toEqual(byContact.flatMap((id) => [[id, 'webhook'], [id, 'notify']]));
	await deliver('order-one-call', items);
});

test('the payload says who moved the contact and why, for which owner, and carries its own outbox_id; the next level says which automation moved it', async () => {
	const { world, qualified } = await twoLevels();
	const [contact] = await world.contacts(1);
	await assign([analysis(contact, 10)]);
	const [row] = await move([{ conversation_id: contact, stage_id: world.pipeline.stages.Qualified, reason: 'Signed contract #4411, 12 seats', actor: 'ai', actor_id: 'sales-agent' }]);
	const items = await claimIds('details-move', row.outbox_ids);
	expect(items).toHaveLength(3);
	for (const item of items) {
		expect(item.payload.outbox_id).toBe(item.outbox_id);
		expect(item.payload.user_id).toBe(world.userId);
	}
	expect(items[0].payload.change).toMatchObject({ depth: 0, actor: 'ai', actor_id: 'sales-agent', reason: 'Signed contract #4411, 12 seats' });
	// The move to Proposal was the Qualified automation's.
	for (const item of items.slice(1)) {
		expect(item.payload.change).toMatchObject({ depth: 1, to_stage: { name: 'Proposal' }, actor: 'automation', actor_id: qualified, reason: null });
	}
	await deliver('details-move', items);

	// A person's move without a reason: actor user, no reason.
	const [other] = await world.contacts(1);
	await assign([analysis(other, 10)]);
	const [personal] = await move([{ conversation_id: other, stage_id: world.pipeline.stages.Qualified }]);
	const personItems = await claimIds('details-person', personal.outbox_ids);
	expect(personItems[0].payload.change).toMatchObject({ depth: 0, actor: 'user', actor_id: null, reason: null });
	await deliver('details-person', personItems);
});

test('an analysis placing a contact: the payload names the model and its reasoning', async () => {
	const world = await createPipelineWorld();
	await world.automation({ name: 'New lead', trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'notify', message: 'A new lead' }] });
	const [contact] = await world.contacts(1);
	const [row] = (await assign([analysis(contact, 30, { reasoning: 'Asked for a quote for 3 units.' })])) as unknown as Array<{ outbox_ids: string[] }>;
	const items = await claimIds('details-assign', row.outbox_ids);
	expect(items.map((item) => item.payload.change)).toEqual([
		expect.objectContaining({ trigger_type: 'ENTERED_PIPELINE', depth: 0, actor: 'ai', actor_id: 'gemini-3-flash', reason: 'Asked for a quote for 3 units.' }),
	]);
	expect(items[0].payload).toMatchObject({ outbox_id: items[0].outbox_id, user_id: world.userId });
	await deliver('details-assign', items);
});
