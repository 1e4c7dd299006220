// Queue Ledger's Add Leads through n8n's engine against the local stack: items become leads in one
// database call per batch of 1,000 (phones to E.164, duplicates returned as the lead that exists),
// refused items leave on Invalid with every problem and its field (or stop the node, writing
// nothing, also across batches), and so does an item the database refuses, named by its input
// item; and leads from the CRM (a tag's conversations, a campaign's sessions), page by page, each once.
import type { IDataObject } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seedLaunch } from '../../helpers/campaign';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { queueOwner, runQueue, supabaseCredentials } from './support/queue';

const leadsOf = (owner: string) =>
	withDb(async (db) => (await db.query<{ id: string; name: string | null; phone: string | null; source: string | null; lead_score: number | null; status: string; conversation_id: string | null; campaign_session_id: string | null }>('select id, name, phone, source, lead_score, status, conversation_id, campaign_session_id from public.leads where user_id = $1 order by name, id', [owner])).rows);

const addFromItems = (owner: string, extra: IDataObject = {}) => ({ resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'AU', leadSource: 'website-form', ...extra });

let counter: RpcCounter;

beforeAll(async () => {
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await counter.stop();
});

test('items become leads: phones in E.164, a duplicate is the lead that exists, bad items leave on Invalid with every problem and its field', async () => {
	const owner = await queueOwner();
	const { result, outputs } = await runQueue(
		[
			{ name: 'Maria López', phone: '0491 570 156', lead_score: 80 },
			{ name: 'Maria again', phone: '+61 491 570 156' },
			{ name: 'Ana\nBob', phone: '0123', lead_score: 140 },
			{ name: 'Tom', phone: '+1 415 555 2671', lead_score: '35' },
		],
		addFromItems(owner),
	);
	expect(result.error).toBeUndefined();
	const [leads, invalid] = outputs;
	expect(leads).toEqual([
		expect.objectContaining({ item_index: 0, outcome: 'created', status: 'new', phone: '+61491570156', name: 'Maria López', user_id: owner }),
		expect.objectContaining({ item_index: 1, outcome: 'existing', phone: '+61491570156' }),
		expect.objectContaining({ item_index: 3, outcome: 'created', phone: '+14155552671' }),
	]);
	expect(leads[1].lead_id).toBe(leads[0].lead_id);
	expect(invalid).toEqual([
		{
			item_index: 2,
			message: expect.stringMatching(/^Not a valid lead: name contains a line break .*; phone is not a valid phone number in AU .*; lead_score must be a whole number from 0 to 100 \(got 140\)$/),
			problems: [
				{ field: 'name', message: expect.stringMatching(/line break/) },
				{ field: 'phone', message: expect.stringMatching(/"0123"/) },
				{ field: 'lead_score', message: 'must be a whole number from 0 to 100 (got 140)' },
			],
		},
	]);
	const pairs = result.run!.data.resultData.runData.Queue[0].data!.main.map((items) => (items ?? []).map((item) => (item.pairedItem as { item: number }).item));
	expect(pairs).toEqual([[0, 1, 3], [2]]);
	expect(await leadsOf(owner)).toEqual([
		expect.objectContaining({ name: 'Maria López', phone: '+61491570156', source: 'website-form', lead_score: 80, status: 'new' }),
		expect.objectContaining({ name: 'Tom', phone: '+14155552671', lead_score: 35 }),
	]);
});

test('a WhatsApp id (the country code without +) is the lead written with +, not a second lead at another number; a number whose other reading is no mobile is the national one, as before 5d8ef7c', async () => {
	const owner = await queueOwner();
	const { result, outputs } = await runQueue(
		[
			{ name: 'Jonas', phone: '+49 171 1234567' },
			{ name: 'Jonas (WhatsApp id)', phone: '491711234567' },
		],
		addFromItems(owner, { defaultCountry: 'DE', leadSource: 'whatsapp' }),
	);
	expect(result.error).toBeUndefined();
	expect(outputs[0]).toEqual([
		expect.objectContaining({ item_index: 0, outcome: 'created', phone: '+491711234567' }),
		expect.objectContaining({ item_index: 1, outcome: 'existing', phone: '+491711234567' }),
	]);
	expect(outputs[0][1].lead_id).toBe(outputs[0][0].lead_id);
	expect(outputs[1]).toEqual([]);

	// Italy writes no trunk 0: 390 376 4953 is a mobile as written, and +39 0376 4953 after the 39 is a
	// landline, no WhatsApp id. Vietnam: 846921530 is the mobile 084 692 1530 that lost its 0 (+846921530
	// is a service number).
	const italy = await runQueue([{ name: 'Giulia', phone: '390 376 4953' }], addFromItems(owner, { defaultCountry: 'IT' }));
	expect(italy.outputs).toEqual([[expect.objectContaining({ item_index: 0, outcome: 'created', phone: '+393903764953' })], []]);
	const vietnam = await runQueue([{ name: 'Linh', phone: '846921530' }], addFromItems(owner, { defaultCountry: 'VN' }));
	expect(vietnam.outputs).toEqual([[expect.objectContaining({ item_index: 0, outcome: 'created', phone: '+84846921530' })], []]);
	expect((await leadsOf(owner)).map((lead) => lead.phone)).toEqual(['+393903764953', '+491711234567', '+84846921530']);
});

test('a WhatsApp id of another country leaves on Invalid naming both numbers (not a DE landline); KZ reads a Russian +7 id; a numeric column\'s "….0" leaves on Invalid', async () => {
	const owner = await queueOwner();
	const germany = await runQueue(
		[
			{ name: 'Jonas', phone: '491711234567' },
			{ name: 'Claire', phone: '33612345678' },
			{ name: 'Jonas (numeric column)', phone: '491711234567.0' },
		],
		addFromItems(owner, { defaultCountry: 'DE', leadSource: 'whatsapp' }),
	);
	expect(germany.result.error).toBeUndefined();
	expect(germany.outputs).toEqual([
		[expect.objectContaining({ item_index: 0, outcome: 'created', phone: '+491711234567' })],
		[
			{
				item_index: 1,
				message: expect.stringMatching(/^Not a valid lead: phone is ambiguous in DE without a \+ .*\+4933612345678.*\+33612345678 \(FR\).*write it with \+ and the country code, or as a number in DE with its leading 0$/),
				problems: [{ field: 'phone', message: expect.stringMatching(/^is ambiguous in DE/) }],
			},
			{
				item_index: 2,
				message: expect.stringMatching(/^Not a valid lead: phone ends in a decimal part .*format the column as text/),
				problems: [{ field: 'phone', message: expect.stringMatching(/^ends in a decimal part/) }],
			},
		],
	]);
	const kazakhstan = await runQueue([{ name: 'Ivan', phone: '79123456789' }], addFromItems(owner, { defaultCountry: 'KZ', leadSource: 'whatsapp' }));
	expect(kazakhstan.outputs).toEqual([[expect.objectContaining({ item_index: 0, outcome: 'created', phone: '+79123456789' })], []]);
	expect((await leadsOf(owner)).map((lead) => lead.phone)).toEqual(['+79123456789', '+491711234567']);
});

test('a phone given for a lead already known by its conversation is stored, and the output shows the stored lead (a value it could not take is named)', async () => {
	const owner = await queueOwner();
	const conversation = await withDb(
		async (db) => (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '104857600000777', '9000001') returning id`, [owner])).rows[0].id,
	);
	const first = await runQueue([{ conversation_id: conversation }], addFromItems(owner));
	expect(first.outputs[0]).toEqual([expect.objectContaining({ outcome: 'created', phone: null, name: null, not_stored: [] })]);

	const { result, outputs } = await runQueue([{ name: 'Maria', phone: '0491 570 156', conversation_id: conversation }], addFromItems(owner));
	expect(result.error).toBeUndefined();
	expect(outputs[0]).toEqual([
		expect.objectContaining({ lead_id: first.outputs[0][0].lead_id, outcome: 'existing', name: 'Maria', phone: '+61491570156', conversation_id: conversation, not_stored: [] }),
	]);
	expect(await leadsOf(owner)).toEqual([expect.objectContaining({ name: 'Maria', phone: '+61491570156', conversation_id: conversation })]);

	// A lead keeps the phone it has: the output shows it, and names the phone given that was not stored.
	const other = await runQueue([{ name: 'Not Maria', phone: '+14155552671', conversation_id: conversation }], addFromItems(owner));
	expect(other.outputs[0]).toEqual([
		expect.objectContaining({
			outcome: 'existing',
			name: 'Maria',
			phone: '+61491570156',
			not_stored: [
				{ field: 'name', given: 'Not Maria' },
				{ field: 'phone', given: '+14155552671' },
			],
		}),
	]);
	expect(await leadsOf(owner)).toEqual([expect.objectContaining({ name: 'Maria', phone: '+61491570156' })]);
});

test('"Stop the Node": the first bad item fails the run naming it and its fields, and nothing is written', async () => {
	const owner = await queueOwner();
	const { result } = await runQueue([{ name: 'Good', phone: '0491 570 156' }, { name: 'Bad', phone: 'call me' }], addFromItems(owner, { options: { onInvalid: 'error' } }));
	expect(result.error?.message).toMatch(/^Item 1 is not a valid lead: phone may contain only digits/);
	expect(await leadsOf(owner)).toEqual([]);
});

test('a refusal by the database (a conversation of another owner) leaves on Invalid naming its field, the others added; "Stop the Node" stops naming the input item, nothing written; with Continue On Fail that item alone fails, not_found', async () => {
	const owner = await queueOwner();
	const items = [{ name: 'Fine', phone: '0491 570 156' }, { name: 'Stranger', conversation_id: randomUUID() }, { name: 'Also fine', phone: '+14155552671' }];
	const stopped = await runQueue(items, addFromItems(owner, { options: { onInvalid: 'error' } }));
	expect(stopped.result.error?.message).toMatch(/item 1 \(p_items\[1\]\)\.conversation_id: conversation .* does not exist/);
	expect(await leadsOf(owner)).toEqual([]);

	const continued = await runQueue(items, addFromItems(owner, { options: { onInvalid: 'error' } }), supabaseCredentials(), { continueOnFail: true });
	expect(continued.result.error).toBeUndefined();
	expect(continued.outputs[1]).toEqual([
		{ error: expect.objectContaining({ code: 'not_found', message: expect.stringMatching(/item 1 \(p_items\[1\]\)\.conversation_id: conversation .* does not exist/) }) },
	]);
	expect(continued.outputs[0].map((lead) => [lead.item_index, lead.name])).toEqual([[0, 'Fine'], [2, 'Also fine']]);
	await withDb((db) => db.query('delete from public.leads where user_id = $1', [owner]));

	const routed = await runQueue(items, addFromItems(owner));
	expect(routed.result.error).toBeUndefined();
	const [leads, invalid] = routed.outputs;
	expect(invalid).toEqual([
		{
			item_index: 1,
			message: expect.stringMatching(/^Not a valid lead: conversation_id: conversation .* does not exist for user /),
			problems: [{ field: 'conversation_id', message: expect.stringMatching(/^conversation .* does not exist for user /) }],
		},
	]);
	expect(leads.map((lead) => [lead.item_index, lead.name])).toEqual([[0, 'Fine'], [2, 'Also fine']]);
	expect((await leadsOf(owner)).map((lead) => lead.name).sort()).toEqual(['Also fine', 'Fine']);
	const pairs = routed.result.run!.data.resultData.runData.Queue[0].data!.main.map((out) => (out ?? []).map((item) => (item.pairedItem as { item: number }).item));
	expect(pairs).toEqual([[0, 2], [1]]);
});

// The node's own checks call the owner field "owner" (an owner that is not a UUID); the database's
// refusal of an owner with no user behind it says user_id: given again as owner, like the node's.
test('an owner with no user behind it is refused naming owner, as the node\'s own checks name it, on Invalid and when stopping', async () => {
	const nobody = randomUUID();
	const routed = await runQueue([{ name: 'Lead', phone: '+14155552671' }], addFromItems(nobody));
	expect(routed.result.error).toBeUndefined();
	expect(routed.outputs[1]).toEqual([
		{ item_index: 0, message: `Not a valid lead: owner: user ${nobody} does not exist`, problems: [{ field: 'owner', message: `user ${nobody} does not exist` }] },
	]);
	const stopped = await runQueue([{ name: 'Lead', phone: '+14155552671' }], addFromItems(nobody, { options: { onInvalid: 'error' } }));
	expect(stopped.result.error?.message).toMatch(/item 0 \(p_items\[0\]\)\.owner: user .* does not exist/);
	expect(stopped.result.error?.message).not.toMatch(/user_id/);
});

test('1,500 items with a refused one at item 1,200: "Stop the Node" writes no batch; Send to the Invalid Output adds the 1,499 others', async () => {
	const owner = await queueOwner();
	const items: IDataObject[] = Array.from({ length: 1500 }, (_, index) => ({ name: `Lead ${index}`, phone: `+447853${String(200_000 + index).padStart(6, '0')}` }));
	items[1200] = { name: 'Stranger', conversation_id: randomUUID() };
	const stopped = await runQueue(items, addFromItems(owner, { options: { onInvalid: 'error' } }));
	expect(stopped.result.error?.message).toMatch(/item 1200 \(p_items\[200\]\)\.conversation_id: conversation .* does not exist/);
	expect(await leadsOf(owner)).toEqual([]);

	const routed = await runQueue(items, addFromItems(owner));
	expect(routed.result.error).toBeUndefined();
	expect(routed.outputs[1]).toEqual([expect.objectContaining({ item_index: 1200, problems: [expect.objectContaining({ field: 'conversation_id' })] })]);
	expect(routed.outputs[0]).toHaveLength(1499);
	expect(await leadsOf(owner)).toHaveLength(1499);
});

/**
 * A pass-through in front of the stack that runs `before` (awaited) ahead of forwarding the nth
 * queue_add_leads call: another session's change landing between two of the node's calls.
 */
async function beforeNthAddLeads(n: number, before: () => Promise<unknown>): Promise<{ url: string; stop: () => Promise<void> }> {
	const upstream = new URL(testStack().supabaseUrl);
	let calls = 0;
	const server = createServer((incoming, outgoing) => {
		const isAddLeads = (incoming.url ?? '').split('?')[0] === '/rest/v1/rpc/queue_add_leads';
		if (isAddLeads) calls++;
		const ready = isAddLeads && calls === n ? before() : Promise.resolve();
		void ready.then(() => {
			const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } }, (answer) => {
				outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(outgoing);
			});
			incoming.pipe(forwarded);
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}

test('"Stop the Node" over two batches: a refusal that appears after the check (a conversation deleted meanwhile) stops the node naming the items the first batch wrote', async () => {
	const owner = await queueOwner();
	const conversation = await withDb(async (db) => (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '1', '424242') returning id`, [owner])).rows[0].id);
	const items: IDataObject[] = Array.from({ length: 1500 }, (_, index) => ({ name: `Lead ${index}`, phone: `+447853${String(300_000 + index).padStart(6, '0')}` }));
	items[1200] = { name: 'Deleted meanwhile', conversation_id: conversation };
	// Calls: check batch 1, check batch 2, write batch 1, write batch 2: the conversation goes before the last.
	const proxy = await beforeNthAddLeads(4, () => withDb((db) => db.query('delete from public.messenger_conversations where id = $1', [conversation])));
	try {
		const stopped = await runQueue(items, addFromItems(owner, { options: { onInvalid: 'error' } }), { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } });
		expect(stopped.result.error?.message).toMatch(/item 1200 \(p_items\[200\]\)\.conversation_id: conversation .* does not exist/);
		expect(stopped.result.error?.description).toContain('Items 0–999 of the input (1000) were written by earlier calls and stay written (added or found as leads); the later items were not.');
		expect(await leadsOf(owner)).toHaveLength(1000);
	} finally {
		await proxy.stop();
	}
});

test('1,500 items are two database calls (batches of 1,000), every lead paired with its item', async () => {
	const owner = await queueOwner();
	const items = Array.from({ length: 1500 }, (_, index) => ({ name: `Lead ${index}`, phone: `+447853${String(100_000 + index).padStart(6, '0')}` }));
	counter.reset();
	const { result, outputs } = await runQueue(items, addFromItems(owner), { leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey } });
	expect(result.error).toBeUndefined();
	expect(counter.paths.filter((path) => path === '/rest/v1/rpc/queue_add_leads')).toHaveLength(2);
	expect(outputs[0]).toHaveLength(1500);
	expect(outputs[0].every((lead, index) => lead.item_index === index && lead.outcome === 'created' && lead.name === `Lead ${index}`)).toBe(true);
	expect(await leadsOf(owner)).toHaveLength(1500);
});

test('from the CRM: the conversations carrying a tag become leads once, page by page', async () => {
	const owner = await queueOwner();
	const tagId = await withDb(async (db) => {
		const { rows } = await db.query<{ id: string }>('insert into public.tags (user_id, name) values ($1, $2) returning id', [owner, 'Hot lead']);
		await db.query(
			`with conversations as (
			   insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
			   select $1, '104857600000777', (9000000 + n)::text, 'Sender ' || n from generate_series(1, 1003) n
			   returning id)
			 insert into public.conversation_tags (conversation_id, tag_id, user_id) select id, $2, $1 from conversations`,
			[owner, rows[0].id],
		);
		return rows[0].id;
	});
	const parameters = { resource: 'lead', operation: 'addLeads', source: 'tag', ownerUserId: owner, tagId };
	const first = await runQueue([{}], parameters);
	expect(first.result.error).toBeUndefined();
	expect(first.outputs[0]).toHaveLength(1003);
	expect(first.outputs[0].every((lead) => lead.outcome === 'created' && lead.source === 'crm_tag' && typeof lead.conversation_id === 'string')).toBe(true);
	expect(new Set(first.outputs[0].map((lead) => lead.conversation_id)).size).toBe(1003);

	const again = await runQueue([{}], parameters);
	expect(again.outputs[0].every((lead) => lead.outcome === 'existing')).toBe(true);
	expect(await leadsOf(owner)).toHaveLength(1003);
});

test('from the CRM: a campaign\'s sessions by campaign ID (what the list offers), with their phones', async () => {
	const owner = await queueOwner();
	const launch = seedLaunch();
	const { error } = await serviceClient().rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: launch.campaign, name: 'Plumbers', job_description: launch.job_description, objectives: launch.objectives },
		p_tasks: [
			{ phone: '+61491570156', session: `${launch.tasks[0].session}`, name: 'Alice Carter' },
			{ phone: '+61491570157', session: `${launch.tasks[1].session}`, name: 'Bob Doyle' },
		],
		p_idempotency_key: null,
	});
	expect(error).toBeNull();
	const { result, outputs } = await runQueue([{}], { resource: 'lead', operation: 'addLeads', source: 'campaign', ownerUserId: owner, campaignId: { __rl: true, mode: 'list', value: launch.campaign } });
	expect(result.error).toBeUndefined();
	expect(outputs[0]).toEqual([expect.objectContaining({ outcome: 'created', source: 'campaign' }), expect.objectContaining({ outcome: 'created', source: 'campaign' })]);
	expect((await leadsOf(owner)).map((lead) => [lead.name, lead.phone]).sort()).toEqual([
		['Alice Carter', '+61491570156'],
		['Bob Doyle', '+61491570157'],
	]);

	const unknown = await runQueue([{}], { resource: 'lead', operation: 'addLeads', source: 'campaign', ownerUserId: owner, campaignId: { __rl: true, mode: 'id', value: 'nobody_abcdef123' } });
	expect(unknown.result.error?.message).toBe('The owner has no campaign "nobody_abcdef123"');
});
