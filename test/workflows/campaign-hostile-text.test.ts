// Every control character (C0 including NUL, DEL, C1) and the line and paragraph separators
// (U+2028, U+2029), in every text field of every campaign webhook, through the shipped workflow
// run by n8n's engine in-process: each is answered 400 with exactly one problem whose path names
// that field, and nothing is written. Where a field is multiline text (a job description, the
// strings inside objectives and objective values), tab, line feed, carriage return and the two
// separators are allowed: the launch answers 201 and the database stores them as sent. The
// definition is nodes/shared/valid-input.ts; test/db/valid-text.test.ts holds the database to it.
import { randomUUID } from 'node:crypto';
import type { INode } from 'n8n-workflow';
import { loadWorkflow, runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../harness';
import { createTestUser, testStack, withDb } from '../helpers/stack';
import { rowCounts } from '../helpers/campaign-counts';
import { seedLaunch, type LaunchBody } from '../helpers/campaign';

const WORKFLOW = 'workflows/campaign-session-created.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };

/** The characters under test: C0 (NUL included), DEL, C1, U+2028 and U+2029. */
const HOSTILE = [
	...Array.from({ length: 0x20 }, (_, code) => code),
	0x7f,
	...Array.from({ length: 0x20 }, (_, index) => 0x80 + index),
	0x2028,
	0x2029,
].map((code) => ({ code, char: String.fromCharCode(code), label: `U+${code.toString(16).toUpperCase().padStart(4, '0')}` }));
/** What multiline text may hold among them. */
const LINE_BREAKS = new Set([0x09, 0x0a, 0x0d, 0x2028, 0x2029]);

/** `value` with `char` in its middle. */
const inside = (value: string, char: string) => `${value.slice(0, Math.ceil(value.length / 2))}${char}${value.slice(Math.ceil(value.length / 2))}`;

let credentials: TestCredentials;
/** Owns every refused request: its row counts must not move. */
let refusedOwner: string;
/** Owns the accepted multiline launches. */
let acceptedOwner: string;

beforeAll(async () => {
	const stack = testStack();
	credentials = { httpHeaderAuth: KEY, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
	[refusedOwner, acceptedOwner] = await Promise.all([createTestUser('hostile-refused'), createTestUser('hostile-accepted')]);
});

interface Answer {
	status: number;
	paths: string[];
	body: unknown;
}

function answerOf(result: RunResult): Answer {
	const body = result.response?.body as { problems?: Array<{ path: string }> } | undefined;
	return { status: result.response?.statusCode ?? 0, paths: (body?.problems ?? []).map((problem) => problem.path), body };
}

const launch = async (body: unknown, headers: Record<string, string> = {}, owner = refusedOwner) =>
	answerOf(
		await runWorkflow(WORKFLOW, {
			startNode: 'Session Created',
			webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner, ...headers }, body },
			credentials,
		}),
	);

/** One field of the launch: the path a problem names, and a good request with `char` in that field. */
interface LaunchField {
	path: string | ((char: string) => string);
	multiline?: true;
	spoil(char: string): { body: LaunchBody; headers?: Record<string, string> };
}

const withBody = (edit: (body: LaunchBody, char: string) => void) => (char: string) => {
	const body = seedLaunch();
	edit(body, char);
	return { body };
};

const LAUNCH_FIELDS: LaunchField[] = [
	{ path: 'campaign', spoil: withBody((body, char) => (body.campaign = inside('Plumber London', char))) },
	{ path: 'campaign', spoil: withBody((body, char) => (body.campaign = inside(body.campaign, char))) },
	{ path: 'campaign_name', spoil: withBody((body, char) => Object.assign(body, { campaign_name: inside('Plumber London', char) })) },
	{ path: 'job_description', multiline: true, spoil: withBody((body, char) => (body.job_description = inside(body.job_description, char))) },
	{ path: 'tasks[0].session', spoil: withBody((body, char) => (body.tasks[0].session = inside(body.tasks[0].session!, char))) },
	{ path: 'tasks[0].name', spoil: withBody((body, char) => (body.tasks[0].name = inside('Alice Carter', char))) },
	{ path: 'tasks[1].phone_number', spoil: withBody((body, char) => (body.tasks[1].phone_number = inside(body.tasks[1].phone_number, char))) },
	{
		path: 'objectives.interested.description',
		multiline: true,
		spoil: withBody((body, char) => ((body.objectives.interested as { description: string }).description = inside('Says yes', char))),
	},
	{
		// An objective's key: the path names the key as JSON, since it may hold anything.
		path: (char) => `objectives.${JSON.stringify(inside('started', char))}`,
		spoil: withBody((body, char) => (body.objectives = { [inside('started', char)]: { weight: 1 } })),
	},
	{ path: 'headers.idempotency-key', spoil: (char) => ({ body: seedLaunch(), headers: { 'Idempotency-Key': inside(`launch-${randomUUID()}`, char) } }) },
	{ path: 'headers.x-leadflow-owner', spoil: (char) => ({ body: seedLaunch(), headers: { 'X-Leadflow-Owner': inside(refusedOwner, char) } }) },
];

const pathFor = (field: LaunchField, char: string) => (typeof field.path === 'string' ? field.path : field.path(char));

describe('the launch webhook (POST session-created)', () => {
	it('answers 400 naming the field for every control character and separator in every text field, and writes nothing', async () => {
		const before = await rowCounts(refusedOwner);
		const wrong: string[] = [];
		let refused = 0;
		for (const field of LAUNCH_FIELDS) {
			for (const { code, char, label } of HOSTILE) {
				if (field.multiline && LINE_BREAKS.has(code)) continue;
				const { body, headers } = field.spoil(char);
				const answer = await launch(body, headers);
				refused++;
				const path = pathFor(field, char);
				if (answer.status !== 400 || answer.paths.length !== 1 || answer.paths[0] !== path) {
					wrong.push(`${label} in ${path}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 240)}`);
				}
			}
		}
		expect(wrong).toEqual([]);
		expect(refused).toBe(LAUNCH_FIELDS.length * HOSTILE.length - 2 * LINE_BREAKS.size);
		expect(await rowCounts(refusedOwner)).toEqual(before);
	}, 600_000);

	it('refuses a control character at either end of a stored text too: it is not trimmed away', async () => {
		const before = await rowCounts(refusedOwner);
		const wrong: string[] = [];
		for (const char of ['\t', '\n', '\u0085', '\u2028']) {
			for (const [path, spoil] of [
				['campaign', (body: LaunchBody, value: string) => (body.campaign = value)],
				['tasks[0].name', (body: LaunchBody, value: string) => (body.tasks[0].name = value)],
				['tasks[0].session', (body: LaunchBody, value: string) => (body.tasks[0].session = value)],
			] as const) {
				for (const value of [`${char}Plumber`, `Plumber${char}`]) {
					const body = seedLaunch();
					spoil(body, value);
					const answer = await launch(body);
					if (answer.status !== 400 || answer.paths.join() !== path) wrong.push(`${JSON.stringify(value)} in ${path}: ${answer.status} ${answer.paths}`);
				}
			}
			const key = await launch(seedLaunch(), { 'Idempotency-Key': `launch-${randomUUID()}${char}` });
			if (key.status !== 400 || key.paths.join() !== 'headers.idempotency-key') wrong.push(`${JSON.stringify(char)} after the key: ${key.status} ${key.paths}`);
		}
		expect(wrong).toEqual([]);
		expect(await rowCounts(refusedOwner)).toEqual(before);
	}, 120_000);

	it('accepts tab, line feed, carriage return and the separators in multiline text, and stores them as sent', async () => {
		for (const code of LINE_BREAKS) {
			const char = String.fromCharCode(code);
			const body = seedLaunch();
			body.job_description = inside(body.job_description, char);
			(body.objectives.interested as { description: string }).description = inside('Says yes', char);
			const answer = await launch(body, {}, acceptedOwner);
			expect([code, answer.status]).toEqual([code, 201]);
			const stored = await withDb((db) =>
				db.query<{ job_description: string; objectives: LaunchBody['objectives'] }>(
					'select job_description, objectives from public.campaign_info where user_id = $1 and name_uid = $2',
					[acceptedOwner, body.campaign],
				),
			);
			expect(stored.rows).toEqual([{ job_description: body.job_description, objectives: body.objectives }]);
		}
	});
});

describe('the stats webhook (GET campaigns/:campaignId/stats)', () => {
	it('answers 400 naming campaignId or owner for every control character and separator', async () => {
		const body = seedLaunch();
		expect((await launch(body)).status).toBe(201);
		const stats = async (campaign: string, owner: string) =>
			answerOf(
				await runWorkflow(WORKFLOW, {
					startNode: 'Campaign Stats',
					webhook: { method: 'GET', path: `${encodeURIComponent(campaign)}/stats`, headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner } },
					credentials,
				}),
			);
		expect((await stats(body.campaign, refusedOwner)).status).toBe(200);
		const wrong: string[] = [];
		for (const { char, label } of HOSTILE) {
			const badCampaign = await stats(inside(body.campaign, char), refusedOwner);
			if (badCampaign.status !== 400 || badCampaign.paths.join() !== 'campaignId') wrong.push(`${label} in campaignId: ${badCampaign.status} ${badCampaign.paths}`);
			const badOwner = await stats(body.campaign, inside(refusedOwner, char));
			if (badOwner.status !== 400 || badOwner.paths.join() !== 'headers.x-leadflow-owner') wrong.push(`${label} in owner: ${badOwner.status} ${badOwner.paths}`);
		}
		expect(wrong).toEqual([]);
	}, 300_000);
});

// The shipped workflow has no objective webhook; this one is made the way an outreach workflow
// would call recordObjective from a webhook, answering through the shipped "Respond With Problems".
function withObjectiveWebhook(): WorkflowJson {
	const shipped = loadWorkflow(WORKFLOW);
	const webhook = shipped.nodes.find((node) => node.name === 'Session Created')!;
	const create = shipped.nodes.find((node) => node.name === 'Create Sessions')!;
	const nodes: INode[] = [
		...shipped.nodes,
		{
			...webhook,
			id: randomUUID(),
			name: 'Objective Reported',
			webhookId: randomUUID(),
			position: [0, 720],
			parameters: { ...webhook.parameters, path: 'objective-reported' },
		},
		{
			...create,
			id: randomUUID(),
			name: 'Record Objective',
			position: [240, 720],
			parameters: {
				operation: 'recordObjective',
				ownerUserId: create.parameters.ownerUserId,
				sessionId: '={{ $json.body.session }}',
				objective: '={{ $json.body.objective }}',
				value: '={{ JSON.stringify($json.body.value) }}',
				source: '={{ $json.body.source }}',
				options: { eventKey: '={{ $json.body.event_key }}' },
			},
		},
		{
			id: randomUUID(),
			name: 'Respond Recorded',
			type: 'n8n-nodes-base.respondToWebhook',
			typeVersion: 1.5,
			position: [520, 720],
			parameters: { respondWith: 'firstIncomingItem', options: { responseCode: 200 } },
		},
	];
	return {
		...shipped,
		nodes,
		connections: {
			...shipped.connections,
			'Objective Reported': { main: [[{ node: 'Record Objective', type: 'main', index: 0 }]] },
			'Record Objective': {
				main: [[{ node: 'Respond Recorded', type: 'main', index: 0 }], [{ node: 'Respond With Problems', type: 'main', index: 0 }]],
			},
		},
	};
}

describe('an objective webhook (recordObjective)', () => {
	const workflow = withObjectiveWebhook();
	const report = async (body: Record<string, unknown>, owner = refusedOwner) =>
		answerOf(
			await runWorkflow(workflow, {
				startNode: 'Objective Reported',
				webhook: { method: 'POST', headers: { [KEY.name]: KEY.value, 'X-Leadflow-Owner': owner }, body },
				credentials,
			}),
		);

	it('answers 400 naming the field for every control character and separator in every text input, and writes nothing', async () => {
		const launched = seedLaunch();
		expect((await launch(launched)).status).toBe(201);
		const session = launched.tasks[0].session!;
		const good = { session, objective: 'interested', value: 'said yes', source: 'whatsapp', event_key: `call-${randomUUID()}` };
		// The report itself is good: recorded once (so the row counts below start after it).
		expect((await report(good)).status).toBe(200);
		const before = await rowCounts(refusedOwner);

		const fields: Array<{ path: string; multiline?: true; spoil(char: string): Record<string, unknown> }> = [
			{ path: 'session', spoil: (char) => ({ ...good, session: inside(session, char) }) },
			{ path: 'objective', spoil: (char) => ({ ...good, objective: inside('interested', char) }) },
			{ path: 'event_key', spoil: (char) => ({ ...good, event_key: inside(good.event_key, char) }) },
			{ path: 'source', spoil: (char) => ({ ...good, source: inside('whatsapp', char) }) },
			{ path: 'value', multiline: true, spoil: (char) => ({ ...good, value: inside('said yes', char) }) },
			{ path: 'value.note', multiline: true, spoil: (char) => ({ ...good, value: { note: inside('said yes', char) } }) },
		];
		const wrong: string[] = [];
		for (const field of fields) {
			for (const { code, char, label } of HOSTILE) {
				if (field.multiline && LINE_BREAKS.has(code)) continue;
				const answer = await report(field.spoil(char));
				if (answer.status !== 400 || answer.paths.join() !== field.path) {
					wrong.push(`${label} in ${field.path}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 240)}`);
				}
			}
		}
		for (const { char, label } of HOSTILE) {
			const answer = await report(good, inside(refusedOwner, char));
			if (answer.status !== 400 || answer.paths.join() !== 'headers.x-leadflow-owner') wrong.push(`${label} in owner: ${answer.status} ${answer.paths}`);
		}
		expect(wrong).toEqual([]);
		expect(await rowCounts(refusedOwner)).toEqual(before);

		// Multiline text in a value is recorded as sent.
		for (const code of LINE_BREAKS) {
			const value = { note: inside('said yes', String.fromCharCode(code)) };
			const eventKey = `call-${randomUUID()}`;
			expect([code, (await report({ ...good, event_key: eventKey, value })).status]).toEqual([code, 200]);
			const stored = await withDb((db) =>
				db.query('select e.value from public.session_objective_events e where e.user_id = $1 and e.event_key = $2', [refusedOwner, eventKey]),
			);
			expect(stored.rows).toEqual([{ value }]);
		}
	}, 600_000);
});
