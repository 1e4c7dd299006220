// workflows/auto-assign.json with its nodes moved on the canvas: n8n's v1 order runs the branch placed
// higher first, so an order that rests on positions is undone by a user dragging a node, or
// replacing *Send automation (replace me)* with an HTTP Request placed elsewhere. Whatever the
// positions, on the schedule:
// - the sweep (Claim Waiting Automations) still runs when the analysis fails, and what it hands out
//   (marked delivered) reaches the delivery before the run ends in error (470abc6);
// - when Assign Stages refuses one contact, every action it handed out for the others reaches the
//   delivery before the run ends in error (3ce0882);
// and Analyse Now still answers that refusal with the problem (500), not the summary.
// Analyze and Claim are kept to this file's owner (the shared stack holds other files' outboxes).
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { loadWorkflow, runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../harness';
import { serviceClient, testStack, withDb } from '../helpers/stack';
import { createPipelineWorld, type PipelineWorld } from '../db/pipelines/fixtures';
import { failingSupabase } from './support/failing-supabase';

const WORKFLOW = 'workflows/auto-assign.json';
const PLACEHOLDER = 'Send automation (replace me)';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
let sims: RunningSimulators;
let credentials: TestCredentials;
let world: PipelineWorld;

/** A CRM endpoint the HTTP Request delivery posts each action to: the bodies it received. */
let receiver: Server;
let receiverUrl: string;
let received: IDataObject[] = [];

const reply = (score: number) =>
	JSON.stringify({ lead_status: 'CONTACTED', lead_score: score, confidence: 80, recommended_stage: null, summary: 'Asked the price.', reasoning: 'Engaged.' });

beforeAll(async () => {
	sims = await startSimulators();
	const stack = testStack();
	credentials = {
		httpHeaderAuth: KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: `key-${randomUUID()}`, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
	};
	world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'webhook', url: 'https://crm.example.test/leads' }] });
	receiver = createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as IDataObject);
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end('{"received":true}');
		});
	});
	await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
	receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/automations`;
});

afterAll(async () => {
	await sims.stop();
	await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(async () => {
	await sims.gemini.control.reset();
	received = [];
});

type Node = WorkflowJson['nodes'][number];
const positionOf = (workflow: WorkflowJson, name: string): [number, number] => {
	const node = workflow.nodes.find((one) => one.name === name);
	if (!node) throw new Error(`auto-assign.json has no node "${name}"`);
	return node.position as [number, number];
};
const withY = (node: Node, y: number): Node => ({ ...node, position: [(node.position as [number, number])[0], y] });

/** The shipped workflow kept to this file's owner, with the y positions of each pair swapped. */
function moved(swaps: Array<[string, string]>, shipped = loadWorkflow(WORKFLOW)): WorkflowJson {
	const y = new Map<string, number>();
	for (const [a, b] of swaps) {
		y.set(a, positionOf(shipped, b)[1]);
		y.set(b, positionOf(shipped, a)[1]);
	}
	return {
		...shipped,
		nodes: shipped.nodes.map((node) => {
			const owned = node.name === 'Analyze Due Conversations' || node.name === 'Claim Waiting Automations' ? { ...node, parameters: { ...node.parameters, ownerUserId: world.userId } } : node;
			return y.has(node.name) ? withY(owned, y.get(node.name)!) : owned;
		}),
	};
}

/** The placeholder replaced, as the docs say, by an HTTP Request posting each action to the receiver, placed below every other node. */
function httpDelivery(workflow: WorkflowJson): WorkflowJson {
	const NAME = 'Post To The CRM';
	const lowest = Math.max(...workflow.nodes.map((node) => (node.position as [number, number])[1])) + 400;
	const http: Node = {
		id: randomUUID(),
		name: NAME,
		type: 'n8n-nodes-base.httpRequest',
		typeVersion: 4.2,
		position: [positionOf(workflow, PLACEHOLDER)[0], lowest],
		parameters: { method: 'POST', url: receiverUrl, sendBody: true, specifyBody: 'json', jsonBody: '={{ JSON.stringify($json) }}', options: {} },
	} as Node;
	const rename = (connections: unknown): unknown =>
		JSON.parse(JSON.stringify(connections), (key, value: unknown) => (key === 'node' && value === PLACEHOLDER ? NAME : value));
	const connections = rename(workflow.connections) as WorkflowJson['connections'];
	if (connections[PLACEHOLDER]) {
		connections[NAME] = connections[PLACEHOLDER];
		delete connections[PLACEHOLDER];
	}
	return { ...workflow, nodes: [...workflow.nodes.filter((node) => node.name !== PLACEHOLDER), http], connections };
}

const SWAPS: Array<[string, string]> = [
	['Claim Waiting Automations', 'Analyze Due Conversations'],
	[PLACEHOLDER, 'Started By Request?'],
];

interface Variant {
	workflow: () => WorkflowJson;
	/** The outbox ids the delivery received in the run. */
	delivered: (run: RunResult) => string[];
}

const VARIANTS: Array<[string, Variant]> = [
	[
		'the sweep below the analysis and the placeholder below Started By Request?',
		{ workflow: () => moved(SWAPS), delivered: (run) => (run.nodeOutputs[PLACEHOLDER] ?? []).map((item) => item.outbox_id as string) },
	],
	[
		'those moves, and the placeholder replaced by an HTTP Request placed lowest',
		{ workflow: () => httpDelivery(moved(SWAPS)), delivered: () => received.map((body) => body.outbox_id as string) },
	],
];

const customerWrites = (conversationId: string, text: string, secondsAgo: number) =>
	withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', $3, now() - make_interval(secs => $4))`, [
			world.userId,
			conversationId,
			text,
			secondsAgo,
		]),
	);

/** Assign's one call refused at its first item (the conversation deleted meanwhile): the others are placed. */
const refusingFirst = () =>
	failingSupabase(['pipeline_assign'], 409, { code: '23503', message: 'p_items[0].conversation_id: conversation deleted meanwhile does not exist', details: null, hint: null }, 1);

describe.each(VARIANTS)('with %s', (_variant, { workflow, delivered }) => {
	test('a scheduled run whose analysis fails (no Gemini key) still delivers what the sweep handed out, then ends in error', async () => {
		// An action left waiting: a placement by a caller that did not hand its actions out.
		const [placed] = await world.contacts(1);
		const assigned = await serviceClient().rpc('pipeline_assign', { p_items: [{ conversation_id: placed, lead_score: 10, lead_status: 'NEW' }] });
		expect(assigned.error).toBeNull();
		const waiting = () =>
			withDb(async (db) => (await db.query<{ id: string; status: string }>('select id, status from public.pipeline_outbox where user_id = $1 and conversation_id = $2', [world.userId, placed])).rows);
		const [item] = await waiting();
		expect(item).toMatchObject({ status: 'pending' });

		const broken = { ...credentials, leadflowGeminiApi: { ...credentials.leadflowGeminiApi, apiKeys: ' \n ' } };
		const run = await runWorkflow(workflow(), { trigger: 'schedule', credentials: broken });
		expect(run.status).toBe('error');
		expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining('The Leadflow Gemini API credential has no API key') });
		expect(delivered(run)).toEqual(expect.arrayContaining([item.id]));
		expect(await waiting()).toEqual([{ id: item.id, status: 'delivered' }]);
	});

	test('a scheduled run where Assign Stages refuses one contact delivers every action it handed out for the others, then ends in error', async () => {
		const contacts = await world.contacts(2);
		for (const contact of contacts) await customerWrites(contact, 'Is it in stock?', 60);
		await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
		const failing = await refusingFirst();
		try {
			const run = await runWorkflow(workflow(), { trigger: 'schedule', credentials: { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } } });
			expect(failing.failed()).toBe(1);
			expect(run.status).toBe('error');
			expect(run.error).toMatchObject({ node: 'Fail The Scheduled Run', message: expect.stringContaining('pipeline_assign failed: item 0') });
			const handedOut = ((run.nodeBranches['Assign Stages']?.[1] ?? []) as IDataObject[]).map((handed) => handed.outbox_id as string);
			expect(handedOut.length).toBeGreaterThan(0);
			expect(delivered(run)).toEqual(expect.arrayContaining(handedOut));
		} finally {
			await failing.stop();
		}
	});
});

// The webhook's answer to the same refusal, with the summary's merge moved above every node too:
// the problem (500), never the summary's 200.
test('moved, and Collect Outcomes placed highest, Analyse Now still answers a refused contact with the problem', async () => {
	const contacts = await world.contacts(2);
	for (const contact of contacts) await customerWrites(contact, 'Is it in stock?', 60);
	await sims.gemini.control.addFault({ effect: { kind: 'text', text: reply(50) } });
	const shipped = moved(SWAPS);
	const highest = Math.min(...shipped.nodes.map((node) => (node.position as [number, number])[1])) - 400;
	const workflow = { ...shipped, nodes: shipped.nodes.map((node) => (node.name === 'Collect Outcomes' ? withY(node, highest) : node)) };
	const failing = await refusingFirst();
	try {
		const run = await runWorkflow(workflow, {
			startNode: 'Analyse Now',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': world.userId }, body: {} },
			credentials: { ...credentials, leadflowSupabaseApi: { url: failing.url, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(failing.failed()).toBe(1);
		expect(run.status).toBe('success');
		expect(run.response?.statusCode).toBe(500);
		expect(run.response?.body).toMatchObject({ status: 500, error: expect.stringMatching(/^pipeline_assign failed: item 0 /), field: null });
		expect(run.executedNodes).toContain(PLACEHOLDER);
	} finally {
		await failing.stop();
	}
});
