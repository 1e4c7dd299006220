// TagEligibility's Give Back through n8n's engine: the contacts a claim handed a workflow, given back
// (automation_release) when its run fails. Those the claim's holder still has before their send
// began (eligible, ready_to_send) are released, back to queued with the reason in their history;
// one in sending, one another execution holds, and one given back already are not_held and left as
// they are. The contacts come as the input items (the default) or as a list of Claim's items (what
// the shipped workflow's failure path passes); a contact that is not one is refused naming it,
// before any call (with Continue On Fail, that entry alone: the list's others are given back); as an
// AI agent's tool it refuses, being a workflow's own step.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { serviceClient, testStack, withDb } from '../../helpers/stack';
import { createWorld, NOW } from '../../db/follow-up/fixtures';
import { beginSend, claim, generate } from '../../db/follow-up/stage-helpers';

const service = serviceClient({ now: NOW });
const credentials = () => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });
const SUPABASE = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };

function giveBackWorkflow(items: IDataObject[], parameters: IDataObject = {}, settings: IDataObject = {}): WorkflowJson {
	return {
		name: 'Give back claimed contacts',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'entries', name: 'Entries', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ entries: items }), options: {} } },
			{ id: 'items', name: 'Items', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [300, 0], parameters: { fieldToSplitOut: 'entries', options: {} } },
			{
				id: 'give-back',
				name: 'Give Back',
				type: 'n8n-nodes-leadflow.tagEligibility',
				typeVersion: 1,
				position: [400, 0],
				parameters: { operation: 'giveBack', ...parameters },
				credentials: SUPABASE,
				...settings,
			},
		],
		connections: {
			Start: { main: [[{ node: 'Entries', type: 'main', index: 0 }]] },
			Entries: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'Give Back', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

interface State {
	stage: string;
	locked_by: string | null;
	reason: string | null;
	message: string | null;
}

async function statesOf(stateIds: string[]): Promise<State[]> {
	const { rows } = await withDb((db) =>
		db.query<State & { id: string }>(
			`select id, current_stage as stage, locked_by, stage_detail ->> 'reason' as reason, generated_message as message
			   from public.ai_automation_contact_states where id = any ($1::uuid[])`,
			[stateIds],
		),
	);
	return stateIds.map((id) => {
		const row = rows.find((candidate) => candidate.id === id)!;
		return { stage: row.stage, locked_by: row.locked_by, reason: row.reason, message: row.message };
	});
}

/** Four contacts of one rule claimed by exec-1: one eligible, one generated, one sending; and one of another rule held by exec-2. */
async function heldWorld() {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(3);
	const claimed = await claim(service, ruleId, 'exec-1', 3);
	const [eligible, ready, sending] = claimed.map((contact) => contact.state_id);
	await generate(service, 'exec-1', [ready, sending]);
	await beginSend(service, 'exec-1', [sending]);
	const otherRule = await world.rule({ name: 'Another rule' });
	const [others] = await claim(service, otherRule, 'exec-2', 1);
	return { eligible, ready, sending, others: others.state_id, claimed };
}

test('the claimed contacts as input items: those still held before their send are released, the one sending and another execution\'s are not_held and left; twice changes nothing', async () => {
	const { eligible, ready, sending, others } = await heldWorld();
	const items = [
		{ state_id: eligible, execution_id: 'exec-1' },
		{ state_id: ready, execution_id: 'exec-1' },
		{ state_id: sending, execution_id: 'exec-1' },
		// Another execution's contact, named with this claim's holder (as a list of the wrong claim would).
		{ state_id: others, execution_id: 'exec-1' },
	];

	const run = await runWorkflow(giveBackWorkflow(items), { credentials: credentials() });

	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs['Give Back']).toEqual([
		{ state_id: eligible, execution_id: 'exec-1', outcome: 'released', stage: 'eligible' },
		{ state_id: ready, execution_id: 'exec-1', outcome: 'released', stage: 'ready_to_send' },
		{ state_id: sending, execution_id: 'exec-1', outcome: 'not_held', stage: 'sending' },
		{ state_id: others, execution_id: 'exec-1', outcome: 'not_held', stage: 'eligible' },
	]);
	// Each answer paired with the item that named it.
	const paired = run.run!.data.resultData.runData['Give Back'][0].data!.main[0]!.map((item) => item.pairedItem);
	expect(paired).toEqual([[{ item: 0 }], [{ item: 1 }], [{ item: 2 }], [{ item: 3 }]]);
	expect(await statesOf([eligible, ready, sending, others])).toEqual([
		{ stage: 'queued', locked_by: null, reason: 'run_failed', message: null },
		{ stage: 'queued', locked_by: null, reason: 'run_failed', message: null },
		{ stage: 'sending', locked_by: 'exec-1', reason: null, message: expect.stringMatching(/^Hi again/) },
		{ stage: 'eligible', locked_by: 'exec-2', reason: null, message: null },
	]);

	const again = await runWorkflow(giveBackWorkflow(items.slice(0, 2), { reason: 'second_try' }), { credentials: credentials() });
	expect((again.nodeOutputs['Give Back'] as IDataObject[]).map((row) => row.outcome)).toEqual(['not_held', 'not_held']);
	expect((await statesOf([eligible, ready])).map((state) => state.reason)).toEqual(['run_failed', 'run_failed']);
});

test('a list of Claim\'s items (what a failure path passes, the node run once) is given back, each contact once; over 1,000 in calls of 1,000', async () => {
	const { eligible, ready, claimed } = await heldWorld();
	// The list as $('<node>').all() gives it: n8n items, their json the claimed contacts (each with its
	// rule, as Claim hands them); a contact named twice counts once.
	const run = await runWorkflow(
		giveBackWorkflow([...claimed.slice(0, 2), claimed[0]] as unknown as IDataObject[], { contacts: "={{ $('Items').all() }}", reason: 'generation_setup_failed' }, { executeOnce: true }),
		{ credentials: credentials() },
	);

	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs['Give Back']).toEqual([
		{ state_id: eligible, execution_id: 'exec-1', outcome: 'released', stage: 'eligible' },
		{ state_id: ready, execution_id: 'exec-1', outcome: 'released', stage: 'ready_to_send' },
	]);
	expect((await statesOf([eligible, ready])).map((state) => [state.stage, state.reason])).toEqual([
		['queued', 'generation_setup_failed'],
		['queued', 'generation_setup_failed'],
	]);

	// 1,001 contacts (the function takes at most 1,000 a call): two calls, one answer each, in order.
	const many = [eligible, ...Array.from({ length: 1000 }, () => randomUUID())];
	const split = await runWorkflow(giveBackWorkflow(many.map((id) => ({ state_id: id, execution_id: 'exec-1' }))), { credentials: credentials() });
	expect(split.error).toBeUndefined();
	expect((split.nodeOutputs['Give Back'] as IDataObject[]).map((row) => row.state_id)).toEqual(many);
	expect(new Set((split.nodeOutputs['Give Back'] as IDataObject[]).map((row) => row.outcome))).toEqual(new Set(['not_held']));

	// An empty list gives nothing back and answers no items.
	const none = await runWorkflow(giveBackWorkflow([{ failed: true }], { contacts: '={{ [] }}' }), { credentials: credentials() });
	expect(none.error).toBeUndefined();
	expect(none.nodeOutputs['Give Back'] ?? []).toEqual([]);
});

test('a contact that is not a claimed contact, or a Reason that is not a word, is refused naming it, before anything is given back', async () => {
	const { eligible } = await heldWorld();

	const badId = await runWorkflow(
		giveBackWorkflow([{ failed: true }], { contacts: `={{ [{ state_id: '${eligible}', execution_id: 'exec-1' }, { state_id: 'abc', execution_id: 'exec-1' }] }}` }),
		{ credentials: credentials() },
	);
	expect(badId.error?.message).toBe('Claimed Contacts[1].state_id is not a contact state ID (got "abc")');
	expect(badId.error?.description).toMatch(/each with its state_id \(a UUID\) and execution_id/);

	const noHolder = await runWorkflow(giveBackWorkflow([{ state_id: eligible }]), { credentials: credentials() });
	expect(noHolder.error?.message).toBe('Claimed Contacts.execution_id is not the claim\'s holder (got nothing)');

	const badReason = await runWorkflow(giveBackWorkflow([{ state_id: eligible, execution_id: 'exec-1' }], { reason: 'Run failed!' }), { credentials: credentials() });
	expect(badReason.error?.message).toBe('Reason must be a lower-case word of letters, digits and _ (got "Run failed!")');

	expect(await statesOf([eligible])).toEqual([{ stage: 'eligible', locked_by: 'exec-1', reason: null, message: null }]);
});

// A list with a failed item in it: what $('Claim').all(0) gives when the Claim continues on fail into
// its Contacts output (one of its claims refused: the package's failed item, { error }), or a list a
// workflow assembled from several steps. Before, that one entry refused the whole list, so with
// Continue On Fail (the shipped failure path's Give Back) nothing was given back and every contact
// stayed held for the claim's lease. Now each refused entry is reported alone and the others are
// given back, as an item refused among the input items is; without Continue On Fail the node still
// stops naming it, before anything is given back.
test('a list holding a failed item, or another entry that is no claimed contact: with Continue On Fail the others are given back and each such entry reported alone; without, the node stops naming it', async () => {
	const { eligible, ready } = await heldWorld();
	const failedClaim = { error: { code: 'invalid_input', message: 'The rule ID "abc" is not a UUID', field: 'ruleId' } };
	// As $('…').all(0) gives them: n8n items, their json a contact or a failed item.
	const list = [{ json: { state_id: eligible, execution_id: 'exec-1' } }, { json: failedClaim }, { state_id: 'abc', execution_id: 'exec-1' }, { json: { state_id: ready, execution_id: 'exec-1' } }];
	// Laid out on lines: two closing braces side by side would end the expression.
	const parameters = { contacts: `={{ ${JSON.stringify(list, null, 1)} }}` };

	const stopped = await runWorkflow(giveBackWorkflow([{ failed: true }], parameters), { credentials: credentials() });
	expect([stopped.error?.message, stopped.error?.description]).toEqual([
		'Claimed Contacts[1] is a failed item ({ error }), not a claimed contact: it holds no contact to give back',
		expect.stringMatching(/each with its state_id \(a UUID\) and execution_id/),
	]);
	expect((await statesOf([eligible, ready])).map((state) => state.stage)).toEqual(['eligible', 'ready_to_send']);

	const continued = await runWorkflow(giveBackWorkflow([{ failed: true }], parameters, { onError: 'continueRegularOutput' }), { credentials: credentials() });
	expect(continued.error).toBeUndefined();
	expect(continued.nodeOutputs['Give Back']).toEqual([
		{ error: expect.objectContaining({ code: 'invalid_input', message: 'Claimed Contacts[1] is a failed item ({ error }), not a claimed contact: it holds no contact to give back' }) },
		{ error: expect.objectContaining({ code: 'invalid_input', message: 'Claimed Contacts[2].state_id is not a contact state ID (got "abc")' }) },
		{ state_id: eligible, execution_id: 'exec-1', outcome: 'released', stage: 'eligible' },
		{ state_id: ready, execution_id: 'exec-1', outcome: 'released', stage: 'ready_to_send' },
	]);
	expect((await statesOf([eligible, ready])).map((state) => [state.stage, state.reason])).toEqual([
		['queued', 'run_failed'],
		['queued', 'run_failed'],
	]);
});

test('as an AI agent\'s tool it refuses: giving back is a follow-up workflow\'s own step, and nothing is given back', async () => {
	const { eligible } = await heldWorld();
	const run = await runWorkflow(
		agentWorkflow('tagEligibility', { operation: 'giveBack', contacts: `={{ [{ state_id: '${eligible}', execution_id: 'exec-1' }] }}` }, SUPABASE, {}) as unknown as WorkflowJson,
		{ credentials: credentials() },
	);
	expect(run.error).toBeUndefined();
	expect(run.nodeOutputs.Agent[0].thrown).toMatch(/^Give Back cannot run as an AI agent's tool\n\nDetails: .*use Explain or Snapshot/);
	expect(await statesOf([eligible])).toEqual([{ stage: 'eligible', locked_by: 'exec-1', reason: null, message: null }]);
});
