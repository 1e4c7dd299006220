// Assign's (and Move's, Claim Automations') Delivery and Lease (Seconds) from an expression are
// checked against their declarations (nodes/shared/checked-options.ts) before anything is written:
// a Delivery of "Confirm" was taken for Mark Delivered When Handed Out (at most once instead of at
// least once), and a Lease out of 5 to 86,400 was refused by the database only after the contacts
// were placed. Now each stops the node naming it, nothing placed, nothing fired; an edge value is
// accepted. Against the local stack.
import type { IDataObject } from 'n8n-workflow';
import { createPipelineWorld, type PipelineWorld } from '../../db/pipelines/fixtures';
import { withDb } from '../../helpers/stack';
import { runStage, supabaseCredentials } from './support/workflow';

const analysed = (conversationId: string): IDataObject => ({
	conversation_id: conversationId,
	lead_score: 50,
	lead_status: 'CONTACTED',
	confidence: 80,
	reasoning: 'Engaged.',
	model: 'gemini-3-flash',
	fallback: false,
});

/** An owner whose contacts entering the pipeline fire a webhook and a notify action. */
async function worldWithActions(): Promise<PipelineWorld> {
	const world = await createPipelineWorld();
	await world.automation({
		trigger_type: 'ENTERED_PIPELINE',
		actions: [
			{ type: 'webhook', url: 'https://crm.example.test/leads', method: 'POST' },
			{ type: 'notify', message: 'A new lead entered the pipeline' },
		],
	});
	return world;
}

/** The contact's place and the actions its changes queued. */
const writtenFor = (conversationId: string) =>
	withDb(async (db) => ({
		placed: (await db.query('select 1 from public.pipeline_contacts where conversation_id = $1', [conversationId])).rowCount,
		queued: (await db.query('select 1 from public.pipeline_outbox o where o.conversation_id = $1', [conversationId])).rowCount,
	}));

const assign = (entries: IDataObject[], delivery: IDataObject) => runStage(entries, { operation: 'assign', handOutAutomations: true, ...delivery }, supabaseCredentials());

test.each([
	[{ automationDelivery: '={{ "Confirm" }}' }, 'Delivery must be one of onHandOut, confirm (got "Confirm")'],
	[{ automationDelivery: 'confirm', automationLeaseSeconds: '={{ 3 }}' }, 'Lease (Seconds) must be a whole number from 5 to 86400 (got 3)'],
	[{ automationDelivery: 'confirm', automationLeaseSeconds: '={{ "two minutes" }}' }, 'Lease (Seconds) must be a whole number from 5 to 86400 (got "two minutes")'],
])('Assign with %j stops the node naming it before anything is placed or fired', async (delivery, message) => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);

	const { result, automations } = await assign([analysed(contact)], delivery);

	expect(result.error?.message).toBe(message);
	expect(result.error?.description).toMatch(/^(It is how long .*)?Set (Delivery|Lease \(Seconds\)) to /);
	expect(automations).toEqual([]);
	expect(await writtenFor(contact)).toEqual({ placed: 0, queued: 0 });
});

test('Assign with Delivery confirm and Lease (Seconds) 5 from expressions places the contact and hands its actions out, claimed', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);

	const { result, contacts, automations } = await assign([analysed(contact)], { automationDelivery: '={{ "confirm" }}', automationLeaseSeconds: '={{ "5" }}' });

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([expect.objectContaining({ outcome: 'assigned' })]);
	expect(automations.map((item) => item.kind).sort()).toEqual(['notify', 'webhook']);
	const statuses = await withDb(async (db) =>
		(await db.query<{ status: string }>('select o.status from public.pipeline_outbox o where o.conversation_id = $1', [contact])).rows.map((row) => row.status),
	);
	// Confirm: claimed until Complete Automations reports them, not marked delivered at hand-out.
	expect(statuses).toEqual(['claimed', 'claimed']);
});

test('Claim Automations with a Delivery of "Confirm" from an expression stops naming it, handing nothing out', async () => {
	const world = await worldWithActions();
	const [contact] = await world.contacts(1);
	expect((await assign([analysed(contact)], { handOutAutomations: false })).result.error).toBeUndefined();

	const { result, automations } = await runStage([{}], { operation: 'claimAutomations', ownerUserId: world.userId, limit: 100, automationDelivery: '={{ "Confirm" }}' }, supabaseCredentials());

	expect(result.error?.message).toBe('Delivery must be one of onHandOut, confirm (got "Confirm")');
	expect(automations).toEqual([]);
	const statuses = await withDb(async (db) =>
		(await db.query<{ status: string }>('select o.status from public.pipeline_outbox o where o.conversation_id = $1', [contact])).rows.map((row) => row.status),
	);
	expect(statuses).toEqual(['pending', 'pending']);
});
