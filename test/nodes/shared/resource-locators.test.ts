// The IDs a person picks in the editor (resource locators) as the nodes read them when they run,
// through n8n's engine: a value picked from the list, an ID or an expression from an earlier node
// ("By ID"), and the plain string workflows saved before these parameters were resource locators.
// Bad IDs still stop the node with a message naming the field; the editor flags them as well.
import { randomUUID } from 'node:crypto';
import { NodeHelpers, Workflow, type INode, type INodeParameters } from 'n8n-workflow';
import { createWorld, type World } from '../../db/follow-up/fixtures';
import { runWorkflow, type TestCredentials, type WorkflowJson } from '../../harness';
import { HarnessNodeTypes } from '../../harness/node-types';
import { loaders } from '../../harness/loaders';
import { testStack, withDb } from '../../helpers/stack';

const TAG_ELIGIBILITY = 'n8n-nodes-leadflow.tagEligibility';
const CAMPAIGNS = 'n8n-nodes-leadflow.campaignSessionCreate';

const credentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

/** Start → "Ids" (an Edit Fields node making one item of `ids`) → "Node" of `type` with `parameters`. */
function workflow(type: string, parameters: INodeParameters, ids: Record<string, string>): WorkflowJson {
	return {
		name: 'resource locator values',
		nodes: [
			{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'ids', name: 'Ids', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify(ids), options: {} } },
			{
				id: 'node',
				name: 'Node',
				type,
				typeVersion: 1,
				position: [400, 0],
				parameters,
				credentials: { leadflowSupabaseApi: { id: 'LfSupabaseApi001', name: 'Leadflow Supabase' } },
			},
		],
		connections: {
			Start: { main: [[{ node: 'Ids', type: 'main', index: 0 }]] },
			Ids: { main: [[{ node: 'Node', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as unknown as WorkflowJson;
}

const picked = (value: string) => ({ __rl: true, mode: 'list', value, cachedResultName: 'picked in the editor' });
const byId = (value: string) => ({ __rl: true, mode: 'id', value });

describe('Tag Eligibility: Rule and Contact', () => {
	let world: World;
	let ruleId: string;
	let conversationId: string;

	beforeAll(async () => {
		world = await createWorld(['AI Lead']);
		conversationId = await world.contact({ name: 'Picked Contact' });
		ruleId = await world.rule({ name: `Picked rule ${randomUUID().slice(0, 8)}` });
	});

	const snapshot = (rule: unknown) => runWorkflow(workflow(TAG_ELIGIBILITY, { operation: 'snapshot', ruleId: rule, contactLimit: 5 } as INodeParameters, { ruleId }), {
		credentials: credentials(),
	});

	test.each([
		['picked from the list', () => picked(ruleId)],
		['by ID, an expression reading an earlier node', () => byId('={{ $json.ruleId }}')],
		['by ID, pasted (upper case)', () => byId(ruleId.toUpperCase())],
		['a plain string expression (saved before the list existed)', () => '={{ $json.ruleId }}'],
		['a plain string ID (saved before the list existed)', () => ruleId],
	])('rule %s: the node reads that rule', async (_how, value) => {
		const result = await snapshot(value());
		expect(result.error).toBeUndefined();
		expect(result.nodeOutputs.Node).toEqual([expect.objectContaining({ rule: expect.objectContaining({ id: ruleId }) })]);
	});

	test.each([
		['by ID, from an earlier node', () => byId('={{ $json.bad }}')],
		['a plain string expression', () => '={{ $json.bad }}'],
		['a plain string', () => 'rule-42'],
	])('rule ID not a UUID, %s: the node stops with a message naming the field', async (_how, value) => {
		const result = await runWorkflow(workflow(TAG_ELIGIBILITY, { operation: 'snapshot', ruleId: value(), contactLimit: 5 } as INodeParameters, { bad: 'rule-42' }), {
			credentials: credentials(),
		});
		expect(result.error?.message).toBe('The rule ID "rule-42" is not a UUID');
	});

	// As with n8n's own resource locators, a value the editor flags keeps the workflow from starting.
	test.each([
		['typed by ID', () => byId('rule-42'), 'Not a rule ID: the id column of ai_automation_rules is a UUID'],
		['left empty where a rule is required', () => picked(''), 'Parameter "Rule" is required.'],
	])('rule %s, which the editor flags: n8n does not start the workflow, and says why', async (_how, value, issue) => {
		await expect(snapshot(value())).rejects.toThrow(issue);
	});

	test('left empty where it may be, the rule means every enabled rule (explain answers instead of failing)', async () => {
		const result = await runWorkflow(workflow(TAG_ELIGIBILITY, { operation: 'explain', ruleId: picked(''), limit: 1 } as INodeParameters, {}), {
			credentials: credentials(),
		});
		expect(result.error).toBeUndefined();
		expect(result.nodeOutputs.Node.length).toBeLessThanOrEqual(1);
	});

	test('the contact picked from the list (and the rule by ID from an earlier node) reach the timeline', async () => {
		const result = await runWorkflow(
			workflow(TAG_ELIGIBILITY, { operation: 'timeline', ruleId: byId('={{ $json.ruleId }}'), conversationId: picked(conversationId) } as INodeParameters, { ruleId }),
			{ credentials: credentials() },
		);
		expect(result.executedNodes).toContain('Node');
		// No claim took the contact: the timeline says so, naming both IDs as the node read them.
		expect(result.error?.message).toBe(`Contact ${conversationId} has no stage under rule ${ruleId}: no claim of the rule has taken it`);
	});

	test('a contact ID that is not a UUID stops the node naming the field', async () => {
		const result = await runWorkflow(
			workflow(TAG_ELIGIBILITY, { operation: 'timeline', ruleId: picked(ruleId), conversationId: byId('={{ $json.conversation }}') } as INodeParameters, {
				conversation: 'Picked Contact',
			}),
			{ credentials: credentials() },
		);
		expect(result.error?.message).toBe('The conversation ID "Picked Contact" is not a UUID');
	});
});

describe('Campaign Sessions stats: Campaign', () => {
	let owner: string;
	const campaign = `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;

	beforeAll(async () => {
		owner = (await createWorld([])).userId;
		await withDb((db) => db.query(`insert into public.campaign_info (user_id, name_uid, name) values ($1, $2, 'Plumber - London')`, [owner, campaign]));
	});

	const stats = (value: unknown) =>
		runWorkflow(workflow(CAMPAIGNS, { operation: 'stats', ownerUserId: owner, campaignId: value } as INodeParameters, { campaign }), { credentials: credentials() });

	test.each([
		['picked from the list', () => picked(campaign)],
		['by ID, an expression reading an earlier node', () => byId('={{ $json.campaign }}')],
		['a plain string (saved before the list existed)', () => campaign],
	])('campaign %s: the node reads that campaign\'s stats', async (_how, value) => {
		const result = await stats(value());
		expect(result.error).toBeUndefined();
		expect(result.nodeBranches.Node[0]).toEqual([expect.objectContaining({ campaign: expect.objectContaining({ id: campaign, name: 'Plumber - London' }), sessions: 0 })]);
	});

	test('when the parameter is left out, its default still takes the campaign from the item', async () => {
		const result = await stats(undefined);
		expect(result.nodeBranches.Node[0]).toEqual([expect.objectContaining({ campaign: expect.objectContaining({ id: campaign }) })]);
	});

	test('a campaign ID in the wrong form from an earlier node goes to the Invalid output naming the field', async () => {
		const result = await runWorkflow(
			workflow(CAMPAIGNS, { operation: 'stats', ownerUserId: owner, campaignId: byId('={{ $json.name }}') } as INodeParameters, { name: 'Plumber - London' }),
			{ credentials: credentials() },
		);
		expect(result.error).toBeUndefined();
		expect(result.nodeBranches.Node[1]).toEqual([
			expect.objectContaining({
				status_code: 400,
				problems: [{ path: 'campaignId', message: 'is not a campaign ID like plumber-london_abc123xyz (got "Plumber - London")' }],
			}),
		]);
	});

	test('a campaign ID in the wrong form typed by ID: n8n does not start the workflow, and says why', async () => {
		await expect(stats(byId('Plumber - London'))).rejects.toThrow('Not a campaign ID like plumber-london_abc123xyz');
	});
});

describe('the editor flags a bad "By ID" value before the node runs', () => {
	async function issuesOf(type: string, parameters: INodeParameters): Promise<string[]> {
		const nodeTypes = new HarnessNodeTypes(await loaders());
		const node: INode = { id: 'n', name: 'Node', type, typeVersion: 1, position: [0, 0], parameters };
		const withDefaults = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes }).nodes.Node;
		const { description } = nodeTypes.getByNameAndVersion(type, 1);
		const issues = NodeHelpers.getNodeParametersIssues(description.properties, withDefaults, description);
		return Object.values(issues?.parameters ?? {}).flat();
	}

	test.each([
		[{ operation: 'claim', ruleId: byId('rule-42') }, ['Not a rule ID: the id column of ai_automation_rules is a UUID']],
		[{ operation: 'claim', ruleId: byId('') }, []],
		[{ operation: 'claim' }, []],
		[{ operation: 'snapshot', ruleId: picked('') }, ['Parameter "Rule" is required.']],
		[{ operation: 'snapshot', ruleId: byId('={{ $json.ruleId }}') }, []],
		[{ operation: 'snapshot', ruleId: byId('0B7C6F2E-1D2A-4C3B-9E8F-5A6B7C8D9E0F') }, []],
		[
			{ operation: 'timeline', ruleId: byId('0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f'), conversationId: byId('Picked Contact') },
			['Not a conversation ID: the id column of messenger_conversations is a UUID'],
		],
	])('Tag Eligibility %j: %j', async (parameters, expected) => {
		expect(await issuesOf(TAG_ELIGIBILITY, parameters as INodeParameters)).toEqual(expected);
	});

	test.each([
		[byId('plumber-london_abc123xyz'), []],
		[byId('Plumber - London'), ['Not a campaign ID like plumber-london_abc123xyz']],
	])('Campaign Sessions stats, campaign %j: %j', async (campaignId, expected) => {
		expect(await issuesOf(CAMPAIGNS, { operation: 'stats', ownerUserId: '0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f', campaignId })).toEqual(expected);
	});
});
