// Campaign Session Create's Sessions wired straight into the Queue Ledger's Add Leads (from input
// items, its parameters left at their defaults), run by n8n's engine in-process: each Sessions item
// carries campaign_session_id (session_info.id), which Add Leads takes as the lead's campaign
// session; the lead gets the session's phone and name from the database.
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { createTestUser, testStack, withDb } from '../../helpers/stack';
import { seedLaunch } from '../../helpers/campaign';
import { CREDENTIAL, node } from './workflow-node';


function chain(owner: string, body: unknown, defaultCountry = 'GB'): WorkflowJson {
	return {
		name: 'sessions to the queue',
		nodes: [
			node('Start', 1, 'n8n-nodes-base.manualTrigger', 1, {}),
			node('Launch Body', 2, 'n8n-nodes-base.set', 3.4, { mode: 'raw', jsonOutput: JSON.stringify({ body }), options: {} }),
			node('Create Sessions', 3, 'n8n-nodes-leadflow.campaignSessionCreate', 1, { operation: 'create', ownerUserId: owner, requestBodyField: 'body', defaultCountry, options: {} }, CREDENTIAL),
			node('Add Leads', 4, 'n8n-nodes-leadflow.queueLedger', 1, { resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner }, CREDENTIAL),
		],
		connections: {
			Start: { main: [[{ node: 'Launch Body', type: 'main', index: 0 }]] },
			'Launch Body': { main: [[{ node: 'Create Sessions', type: 'main', index: 0 }]] },
			'Create Sessions': { main: [[{ node: 'Add Leads', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

test('each Sessions item carries campaign_session_id; Add Leads with its defaults makes each a lead with the session, its phone and name', async () => {
	const stack = testStack();
	const credentials: TestCredentials = { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	const owner = await createTestUser('recruiter');
	const body = seedLaunch();
	// The third task has no session id: the database makes one (a random text id, not the row's id).
	delete body.tasks[2].session;
	const result = await runWorkflow(chain(owner, body), { credentials });
	expect(result.error).toBeUndefined();

	const rows = await withDb(async (db) =>
		(await db.query<{ id: string; session_id: string; phone_e164: string }>('select id, session_id, phone_e164 from public.session_info where user_id = $1', [owner])).rows,
	);
	const idOf = new Map(rows.map((row) => [row.phone_e164, row.id]));
	const [sessions, summary] = result.nodeBranches['Create Sessions'];
	expect(sessions.map((item) => [item.phone_number, item.campaign_session_id])).toEqual(
		['+61491570156', '+61491570157', '+442079460958'].map((phone) => [phone, idOf.get(phone)]),
	);
	expect(sessions[2].session).not.toBe(idOf.get('+442079460958'));
	const listed = (summary[0].sessions as Array<{ phone_number: string; campaign_session_id: string }>).map((s) => [s.phone_number, s.campaign_session_id]);
	expect(listed).toEqual(sessions.map((item) => [item.phone_number, item.campaign_session_id]));

	const [leads, invalid] = result.nodeBranches['Add Leads'];
	expect(invalid ?? []).toEqual([]);
	expect(leads.map((lead) => ({ outcome: lead.outcome, campaign_session_id: lead.campaign_session_id, phone: lead.phone, name: lead.name }))).toEqual([
		{ outcome: 'created', campaign_session_id: idOf.get('+61491570156'), phone: '+61491570156', name: 'Alice Carter' },
		{ outcome: 'created', campaign_session_id: idOf.get('+61491570157'), phone: '+61491570157', name: 'Bob Doyle' },
		{ outcome: 'created', campaign_session_id: idOf.get('+442079460958'), phone: '+442079460958', name: null },
	]);
});

test('Default Country AU: a national number with its trunk 0 (0491 570 157) becomes +61491570157, its session and its lead', async () => {
	const stack = testStack();
	const credentials: TestCredentials = { leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	const owner = await createTestUser('recruiter-au');
	const body = seedLaunch();
	body.tasks[1].phone_number = '0491 570 157';
	const result = await runWorkflow(chain(owner, body, 'AU'), { credentials });
	expect(result.error).toBeUndefined();

	const stored = await withDb(async (db) =>
		(await db.query<{ phone_e164: string; display_name: string | null }>('select phone_e164, display_name from public.session_info where user_id = $1 order by phone_e164', [owner])).rows,
	);
	expect(stored).toEqual([
		{ phone_e164: '+442079460958', display_name: null },
		{ phone_e164: '+61491570156', display_name: 'Alice Carter' },
		{ phone_e164: '+61491570157', display_name: 'Bob Doyle' },
	]);
	const [sessions] = result.nodeBranches['Create Sessions'];
	expect(sessions.map((item) => item.phone_number)).toEqual(['+61491570156', '+61491570157', '+442079460958']);
	const [leads, invalid] = result.nodeBranches['Add Leads'];
	expect(invalid ?? []).toEqual([]);
	expect(leads.map((lead) => [lead.outcome, lead.phone, lead.name])).toEqual([
		['created', '+61491570156', 'Alice Carter'],
		['created', '+61491570157', 'Bob Doyle'],
		['created', '+442079460958', null],
	]);
});
