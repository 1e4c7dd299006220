// The shipped webhooks answer a refused setting of their own node 500 "fix it in the workflow" and a
// caller's bad input 400, telling the two apart by the failed item's `setting` (the refused setting's
// name: nodes/shared/per-item.ts), not by the words of its message. A caller's field whose refusal
// has a refused option's words (" must be one of … (got …)") is the caller's 400 with the caller's
// hint, never "fix it in the workflow". (With the words-based test this held too: each webhook
// checked the caller's own refusal first, and those end in "is not a UUID", which the pattern for a
// refused option, anchored on "(got …)" at the end, never matched. It guards the order and the field.)
// And the other way round: a setting typed in a workflow's node refused (Move's Moved By, Tag Claim's
// Page ID, Queue Claim's Worker Name, Messenger Sync's Options and credential Page ID, Snapshot's
// Contacts per List, Campaign Session Create's Default Country and Re-Emit After) is the workflow's
// 500 "fix it in the workflow" in each shipped webhook, as contact-move, tag-monitor-send, queue-run,
// messenger-sync, automation-monitor and campaign-session-created answer it. Before, contact-move,
// messenger-sync, automation-monitor and campaign-session-created answered those 400 as if the
// caller were at fault, and tag-monitor-send and queue-run 500 without the hint (the refusals
// carried no setting).
import { randomUUID } from 'node:crypto';
import type { INodeParameters } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { everyWorkflowCredentials } from './support/pipeline';
import { createPipelineWorld } from '../db/pipelines/fixtures';

const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const WORDS = 'x must be one of a, b (got c)';
let sims: RunningSimulators;
let credentials: TestCredentials;

beforeAll(async () => {
	sims = await startSimulators();
	credentials = everyWorkflowCredentials(sims, KEY);
});

afterAll(async () => {
	await sims.stop();
});

test.each([
	['tag-monitor-send', 'Trigger Now', {}, { ruleId: WORDS }, 'ruleId', /^Send ruleId as the id of one of your follow-up rules/],
	['queue-run', 'Run Now', { 'X-Leadflow-Owner': WORDS }, {}, 'X-Leadflow-Owner', /^Send X-Leadflow-Owner as the Supabase user id/],
	['auto-assign', 'Analyse Now', { 'X-Leadflow-Owner': WORDS }, {}, 'X-Leadflow-Owner', /^Send X-Leadflow-Owner as the Supabase user id/],
	['contact-move', 'Move Request', {}, { conversationId: WORDS, stage: 'Qualified' }, undefined, /^Give the contact's id/],
])("%s (%s): a caller's %j %j refused in a refused option's words is still the caller's 400 (field: %s)", async (workflow, startNode, headers, body, field, hint) => {
	const run = await runWorkflow(loadWorkflow(`workflows/${workflow}.json`), {
		startNode,
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body },
		credentials,
	});

	expect(run.response?.statusCode).toBe(400);
	const answer = run.response?.body as { status?: unknown; error?: unknown; field?: unknown; hint?: unknown };
	expect(answer).toMatchObject({ status: 400, error: expect.stringContaining(`"${WORDS}" is not a UUID`), hint: expect.stringMatching(hint) });
	if (field !== undefined) expect(answer.field).toBe(field);
	expect(String(answer.hint)).not.toMatch(/fix it in the workflow/);
});

// A setting typed in a workflow's node (not a value of the request) refused: each shipped webhook whose
// node refuses it answers 500 "fix it in the workflow" with the refusal and its description, never the
// caller's 400. Each runs a copy of the shipped workflow with that node's setting given by an expression
// out of its range, and nothing reaches the database's writes (each is refused before its call).
/** The shipped workflow with `node`'s parameters overridden. */
function withSetting(workflow: string, node: string, parameters: INodeParameters) {
	const shipped = loadWorkflow(`workflows/${workflow}.json`);
	expect(shipped.nodes.some((each) => each.name === node)).toBe(true);
	return { ...shipped, nodes: shipped.nodes.map((each) => (each.name === node ? { ...each, parameters: { ...each.parameters, ...parameters } } : each)) };
}
const FIX = (node: string) => new RegExp(`^The workflow's node ${node} refuses its own setting: fix it in the workflow \\(the request is not at fault\\)\\. \\S`);

test.each([
	['contact-move', 'Move Request', 'Move Contact', { actor: '={{ "someone" }}' }, {}, () => ({ conversationId: randomUUID(), stage: 'Qualified' }), /^Moved By must be user, ai or asRun \(got "someone"\)$/, 'hint'],
	['tag-monitor-send', 'Trigger Now', 'Claim Due Contacts', { pageId: '={{ "my-page" }}' }, {}, () => ({ ruleId: randomUUID() }), /^The Page ID is not a Facebook Page ID: it must be 1 to 32 digits$/, 'hint'],
	['queue-run', 'Run Now', 'Claim Due Messages', { options: { leaseSeconds: 300, worker: '={{ "two words" }}' } }, { 'X-Leadflow-Owner': randomUUID() }, () => ({}), /^Worker Name /, 'hint'],
	['messenger-sync', 'Sync Request', 'Messenger Sync', { options: { leaseSeconds: '={{ 5 }}' } }, {}, () => ({}), /^Lease \(Seconds\) must be a whole number from 10 to 86400 \(got 5\)$/, 'description'],
	['campaign-session-created', 'Session Created', 'Create Sessions', { defaultCountry: '={{ "XX" }}' }, { 'X-Leadflow-Owner': randomUUID() }, () => ({}), /^Default Country "XX" is not a country code$/, 'hint'],
	['campaign-session-created', 'Session Created', 'Create Sessions', { options: { emitLeaseMinutes: '={{ 0 }}' } }, { 'X-Leadflow-Owner': randomUUID() }, () => ({}), /^Re-Emit After \(Minutes\) must be a whole number from 1 to 43200 \(got 0\)$/, 'hint'],
])('%s (%s): its node %s refusing its own setting %j answers 500 "fix it in the workflow", not the caller\'s 400', async (workflow, startNode, node, parameters, headers, body, error, hintKey) => {
	const run = await runWorkflow(withSetting(workflow, node, parameters), {
		startNode,
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: body() },
		credentials,
	});

	expect(run.response?.statusCode).toBe(500);
	const answer = run.response?.body as Record<string, unknown>;
	expect(answer).toMatchObject({ status: 500, error: expect.stringMatching(error), [hintKey]: expect.stringMatching(FIX(node)) });
	expect(answer.field ?? null).toBeNull();
});

test("automation-monitor: Read Snapshot's Contacts per List refused answers 500 \"fix it in the workflow\", not the caller's 400 naming ruleId", async () => {
	const run = await runWorkflow(withSetting('automation-monitor', 'Read Snapshot', { contactLimit: '={{ -1 }}' }), {
		webhook: { method: 'GET', headers: { [KEY.name]: KEY.value }, query: { ruleId: randomUUID() } },
		credentials,
	});

	expect(run.response?.statusCode).toBe(500);
	expect(run.response?.body).toEqual({
		status: 500,
		error: expect.stringMatching(/^Contacts per List must be a whole number from 0 to .* \(got -1\)$/),
		field: null,
		hint: expect.stringMatching(FIX('Read Snapshot')),
	});
});

test("messenger-sync: a Facebook Page credential with no valid Page ID is the workflow's 500; the caller's malformed X-Leadflow-Owner stays the caller's 400", async () => {
	const sync = (headers: Record<string, string>, pageId: string) =>
		runWorkflow('workflows/messenger-sync.json', {
			startNode: 'Sync Request',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, ...headers }, body: {} },
			credentials: { ...credentials, leadflowFacebookPageApi: { ...(credentials.leadflowFacebookPageApi as object), pageId } } as TestCredentials,
		});

	const noPage = await sync({}, 'my-page');
	expect(noPage.response?.statusCode).toBe(500);
	expect(noPage.response?.body).toEqual({
		status: 500,
		error: 'The Facebook Page credential has no valid Page ID',
		description: "The workflow's node Messenger Sync refuses its own setting: fix it in the workflow (the request is not at fault). Enter the numeric ID of the Page in the Leadflow Facebook Page API credential.",
	});

	const owner = await sync({ 'X-Leadflow-Owner': WORDS }, '123');
	expect(owner.response?.statusCode).toBe(400);
	expect(owner.response?.body).toEqual({ status: 400, error: `The Owner ID "${WORDS}" is not a user id`, field: 'X-Leadflow-Owner', description: expect.stringMatching(/^Give the Supabase Auth user id/) });
});

// Move Contact's Owner User ID typed in the workflow (docs/console.md: "a workflow that serves one
// owner sets it") with a typo, as a fixed value or in Expression mode with no {{ … }}, is the workflow's setting, not the request's: 500 "fix it in the
// workflow". Before, Move refused it as a field and contact-move answered the caller's 400 ("…is not
// a UUID", "leave it empty"). A well-formed one still keeps the move to that owner: another owner's
// contact is the caller's 404, its hint naming Move's fields (Conversation ID, Owner User ID), not
// the database's table and column (migration …2680).
test("contact-move: Move Contact's own Owner User ID refused (a typo typed in the node) answers 500 \"fix it in the workflow\"; another owner's contact stays 404", async () => {
	const mine = await createPipelineWorld();
	const theirs = await createPipelineWorld();
	const typo = mine.userId.slice(0, -1);
	const body = { conversationId: await mine.contact(), stage: 'Qualified', pipelineId: mine.pipeline.id };
	// Typed as a fixed value, or in Expression mode with no {{ … }} (`=<uuid>`: n8n reads nothing of
	// the item into it, so it is as typed). Before, the second was answered as the caller's 400; so were
	// the last two, expressions reading nothing of the request (review RM5 1): contact-move's body
	// takes no owner, so only an expression reading the X-Leadflow-Owner header is the caller's.
	for (const ownerUserId of [typo, `=${typo}`, `={{ '${typo}' }}`, `={{ $('Move Request').isExecuted ? '${typo}' : '' }}`]) {
		const run = await runWorkflow(withSetting('contact-move', 'Move Contact', { ownerUserId }), {
			startNode: 'Move Request',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body },
			credentials,
		});
		expect({ ownerUserId, status: run.response?.statusCode, body: run.response?.body }).toEqual({
			ownerUserId,
			status: 500,
			body: { status: 500, error: `The owner user ID "${typo}" is not a UUID`, hint: expect.stringMatching(FIX('Move Contact')) },
		});
	}
	// One an expression reads from the request (a header here) stays the caller's 400.
	const fromRequest = await runWorkflow(withSetting('contact-move', 'Move Contact', { ownerUserId: "={{ $json.headers['x-leadflow-owner'] ?? '' }}" }), {
		startNode: 'Move Request',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': typo }, body },
		credentials,
	});
	expect(fromRequest.response?.statusCode).toBe(400);
	expect(fromRequest.response?.body).toEqual(expect.objectContaining({ status: 400, error: `The owner user ID "${typo}" is not a UUID` }));

	const theirContact = await theirs.contact();
	const other = await runWorkflow(withSetting('contact-move', 'Move Contact', { ownerUserId: mine.userId }), {
		startNode: 'Move Request',
		webhook: { method: 'POST', headers: { [KEY.name]: KEY.value }, body: { conversationId: theirContact, stage: 'Qualified' } },
		credentials,
	});
	expect(other.response?.statusCode).toBe(404);
	// The hint in the words of Move's fields (migration …2680), not the database's table and column.
	expect(other.response?.body).toEqual({
		status: 404,
		error: `pipeline_move failed: item 0 (p_items[0]).conversation_id: conversation ${theirContact} does not exist for owner ${mine.userId}`,
		hint: "Give the id of one of this owner's contacts as the Conversation ID (conversationId); if that contact is the one you mean, check the owner given as Owner User ID.",
	});
});
