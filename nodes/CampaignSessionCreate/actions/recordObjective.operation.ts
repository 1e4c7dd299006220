// recordObjective: the outreach side reports an objective reached on a session (interested,
// started work, rejected, or one of the campaign's own). The SQL function appends the event and
// folds it into session_info.objectives; a trigger keeps the status consistent with them.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { callRpc } from '../../shared/supabase';
import { readOwner } from '../helpers/owner';
import { OUTPUT } from '../helpers/outputs';
import { perItem, type Routed } from '../../shared/per-item';
import { invalidRequest, shown, type Problem } from '../helpers/problems';
import { textProblem } from '../helpers/text';

const properties: INodeProperties[] = [
	{
		displayName: 'Session ID',
		name: 'sessionId',
		type: 'string',
		default: '={{ $json.session }}',
		required: true,
		description: 'The session the objective was reached on (the `session` of a created session)',
	},
	{
		displayName: 'Objective',
		name: 'objective',
		type: 'string',
		default: 'interested',
		required: true,
		description:
			'The objective\'s key: interested, started_work and rejected set the session\'s status (started_work wins over rejected, which wins over interested); other keys are recorded as they are',
	},
	{
		displayName: 'Value',
		name: 'value',
		type: 'json',
		default: 'true',
		description: 'What was reached: true, false to withdraw it, or any JSON value (e.g. an answer)',
	},
	{
		displayName: 'Source',
		name: 'source',
		type: 'options',
		default: 'whatsapp',
		options: [
			{ name: 'WhatsApp', value: 'whatsapp' },
			{ name: 'Call', value: 'call' },
			{ name: 'Manual', value: 'manual' },
			{ name: 'Other', value: 'other' },
		],
		description: 'Where the objective was observed',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Event Key',
				name: 'eventKey',
				type: 'string',
				default: '',
				description: 'A unique key for this report (e.g. the message or call ID); the same key again records nothing new',
			},
			{
				displayName: 'Occurred At',
				name: 'occurredAt',
				type: 'dateTime',
				default: '',
				description: 'When the objective was reached; default: now. The latest event of an objective is its value.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['recordObjective'] } }, properties);

const OBJECTIVE = /^[a-z][a-z0-9_]{0,62}$/;

function readValue(context: IExecuteFunctions, itemIndex: number, problems: Problem[]): unknown {
	const raw = context.getNodeParameter('value', itemIndex, true) as unknown;
	if (typeof raw !== 'string') return raw;
	try {
		return JSON.parse(raw);
	} catch {
		problems.push({ path: 'value', message: `is not JSON (${shown(raw)}); use true, false, a number, a quoted string or an object` });
		return undefined;
	}
}

async function recordOne(context: IExecuteFunctions, itemIndex: number): Promise<Routed[]> {
	const problems: Problem[] = [];
	const ownerResult = readOwner(context, itemIndex);
	if ('problem' in ownerResult) problems.push(ownerResult.problem);
	const sessionId = String(context.getNodeParameter('sessionId', itemIndex, '') ?? '').trim();
	const sessionProblem = textProblem(sessionId, { max: 128, min: 1 });
	if (sessionProblem) problems.push({ path: 'session', message: sessionProblem });
	const objective = String(context.getNodeParameter('objective', itemIndex, '')).trim();
	if (!OBJECTIVE.test(objective)) {
		problems.push({ path: 'objective', message: `must be a lowercase key like started_work (got ${shown(objective)})` });
	}
	const value = readValue(context, itemIndex, problems);
	const source = context.getNodeParameter('source', itemIndex, 'other') as string;
	const options = context.getNodeParameter('options', itemIndex, {}) as { eventKey?: string; occurredAt?: string };
	const eventKey = options.eventKey ? String(options.eventKey).trim() : undefined;
	const eventKeyProblem = eventKey === undefined ? undefined : textProblem(eventKey, { max: 200, min: 1 });
	if (eventKeyProblem) problems.push({ path: 'event_key', message: eventKeyProblem });
	const occurredAt = options.occurredAt ? new Date(options.occurredAt) : undefined;
	if (occurredAt && Number.isNaN(occurredAt.getTime())) problems.push({ path: 'occurred_at', message: `is not a date (${shown(options.occurredAt)})` });
	if (problems.length || 'problem' in ownerResult) return [{ output: OUTPUT.recordObjective.invalid, json: invalidRequest(400, problems) }];
	const { owner } = ownerResult;

	const result = await callRpc(
		context,
		'record_session_objective',
		{
			p_owner: owner,
			p_session_id: sessionId,
			p_objective: objective,
			p_value: value === undefined ? true : value,
			p_source: source,
			p_occurred_at: occurredAt?.toISOString() ?? null,
			p_event_key: eventKey ?? null,
		},
		itemIndex,
	);
	if (result.outcome === 'session_not_found') {
		return [{ output: OUTPUT.recordObjective.invalid, json: invalidRequest(404, [{ path: 'session', message: `no session ${shown(sessionId)} for this owner` }]) }];
	}
	return [
		{
			output: OUTPUT.recordObjective.recorded,
			json: { session: result.session, objective, value, recorded: result.recorded, status: result.status, objectives: result.objectives } as IDataObject,
		},
	];
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 2, (itemIndex) => recordOne(this, itemIndex));
}
