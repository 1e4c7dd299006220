// recordObjective: the outreach side reports an objective reached on a session (interested,
// started work, rejected, or one of the campaign's own). The SQL function appends the event and
// folds it into session_info.objectives; a trigger keeps the status consistent with them.
import { DateTime } from 'luxon';
import { NodeApiError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { optionsCollection } from '../../shared/properties';
import { callRpc } from '../../shared/supabase';
import { collectJsonProblems, OBJECTIVE_JSON_LIMITS } from '../helpers/jsonValue';
import { readOwner } from '../helpers/owner';
import { OUTPUT } from '../helpers/outputs';
import { asNodeError, perItem, type Routed } from '../../shared/per-item';
import { invalidRequest, shown, type Problem } from '../helpers/problems';
import { OBJECTIVE_KEY, OBJECTIVE_SOURCES, TEXT, textProblem, type TextRule } from '../../shared/valid-input';
import { optionalToolText } from '../../shared/tool-text';

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
		description:
			'What was reached: true (reached), false to withdraw it, null (not reached), or any JSON value (e.g. an answer, recorded but not reached: only true reaches an objective and counts in the status and the stats). An expression that gives nothing (a field the item lacks) is refused, never taken as true.',
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
	optionsCollection([
		{
			displayName: 'Event Key',
			name: 'eventKey',
			type: 'string',
			default: '',
			description:
				'A key for this report (e.g. the message or call ID), per objective: one message may report several objectives under its ID. The same key and objective again with the same value records nothing new; with another value it is refused (send a new key for a new report).',
		},
		{
			displayName: 'Occurred At',
			name: 'occurredAt',
			type: 'dateTime',
			default: '',
			description:
				"When the objective was reached; default: now. A time without an offset (2026-07-01T09:00) is read in the workflow's time zone (its settings, else the instance's). The latest event of an objective is its value, so a time ahead of now is recorded as now (the output's occurred_at_adjusted gives the time given), and one more than 26 hours ahead (a wrong year or date: no time zone explains it) is refused.",
		},
	]),
];

export const description = updateDisplayOptions({ show: { operation: ['recordObjective'] } }, properties);

function readValue(context: IExecuteFunctions, itemIndex: number, problems: Problem[]): unknown {
	const raw = context.getNodeParameter('value', itemIndex, 'true') as unknown;
	// An expression that gives undefined (e.g. {{ $json.interested }} on an item without the field)
	// is a report without a value: refused, never recorded as the parameter's default true.
	if (raw === undefined) {
		problems.push({
			path: 'value',
			message: '(Value) is missing: its expression gave nothing (a field the item does not have?); give true, false, null or another JSON value',
		});
		return undefined;
	}
	let value = raw;
	if (typeof raw === 'string') {
		try {
			value = JSON.parse(raw);
		} catch {
			problems.push({ path: 'value', message: `is not JSON (${shown(raw)}); use true, false, a number, a quoted string or an object` });
			return undefined;
		}
	}
	// Stored as jsonb: strings it cannot hold (NUL, lone surrogates) are refused like the launch's objectives.
	collectJsonProblems(value, 'value', OBJECTIVE_JSON_LIMITS, problems);
	return value;
}

/** A text parameter checked as received (a control character anywhere is refused), then trimmed. */
function readText(raw: unknown, path: string, rule: TextRule, problems: Problem[]): string | undefined {
	const value = String(raw ?? '');
	const problem = textProblem(value, rule);
	if (problem) problems.push({ path, message: problem });
	return problem ? undefined : value.trim();
}

/**
 * An Occurred At ahead of now would stay the objective's latest event until that time, and every
 * later report of it would change nothing: it is recorded as now (the node sends none, the database's
 * now; record_session_objective does the same by its own clock) and the output says so. Up to 26
 * hours ahead is a time zone mix-up (a time without an offset from a sender east of the workflow's
 * zone: zones are UTC-12 to UTC+14) or clocks apart; further ahead no zone explains it (a wrong year
 * or date): refused, here and by the database.
 */
export const OCCURRED_AT_REFUSED_AHEAD_MS = 26 * 3600_000;

/** Postgres's timestamptz reads years 1 to 9999 as JavaScript writes them (toISOString). */
const isStorableDate = (date: Date) => !Number.isNaN(date.getTime()) && date.getUTCFullYear() >= 1 && date.getUTCFullYear() <= 9999;

/**
 * Occurred At as an instant. A time written without an offset is read in the workflow's time zone
 * (`getTimezone()`: the workflow's setting, else GENERIC_TIMEZONE), never in the n8n process's own
 * zone, which in Docker is UTC: the events of an objective are ordered by it. An offset or Z given
 * in the value wins. Invalid: undefined.
 */
function readOccurredAt(context: IExecuteFunctions, value: unknown): Date | undefined {
	if (value instanceof Date) return value;
	if (DateTime.isDateTime(value)) return value.toJSDate();
	if (typeof value !== 'string') return undefined;
	const text = value.trim();
	const zone = context.getTimezone();
	for (const parse of [DateTime.fromISO, DateTime.fromSQL, DateTime.fromRFC2822]) {
		const parsed = parse(text, { zone });
		if (parsed.isValid) return parsed.toJSDate();
	}
	return undefined;
}

/**
 * The database's refusal of this item's Occurred At (22023 naming p_occurred_at: more than 26 hours
 * after its clock, which may be behind n8n's), as the item's problem: the other items are recorded,
 * and a webhook answers 400 naming occurred_at, not 500 for the whole batch. Anything else: undefined.
 */
function occurredAtRefused(error: unknown): Problem | undefined {
	if (!(error instanceof NodeApiError)) return undefined;
	const { code, message } = (error.errorResponse ?? {}) as { code?: unknown; message?: unknown };
	if (code !== '22023' || typeof message !== 'string' || !message.startsWith('p_occurred_at: ')) return undefined;
	return {
		path: 'occurred_at',
		message: `(Occurred At) refused by the database: ${message.slice('p_occurred_at: '.length)}; give the time the objective was reached (check its year and date, and that n8n's clock and the database's agree), or leave it empty for now`,
	};
}

async function recordOne(context: IExecuteFunctions, itemIndex: number): Promise<Routed[]> {
	const problems: Problem[] = [];
	const ownerResult = readOwner(context, itemIndex);
	if ('problem' in ownerResult) problems.push(ownerResult.problem);
	const sessionId = readText(context.getNodeParameter('sessionId', itemIndex, ''), 'session', TEXT.sessionId, problems);
	const objective = readText(context.getNodeParameter('objective', itemIndex, ''), 'objective', { kind: 'line', max: 100 }, problems);
	if (objective !== undefined && !OBJECTIVE_KEY.test(objective)) {
		problems.push({ path: 'objective', message: `must be a lowercase key like started_work (got ${shown(objective)})` });
	}
	const value = readValue(context, itemIndex, problems);
	const source = context.getNodeParameter('source', itemIndex, 'other') as unknown;
	const isSource = (one: unknown): one is (typeof OBJECTIVE_SOURCES)[number] => OBJECTIVE_SOURCES.some((known) => known === one);
	if (!isSource(source)) problems.push({ path: 'source', message: `must be one of ${OBJECTIVE_SOURCES.join(', ')} (got ${shown(source)})` });
	const given = context.getNodeParameter('options', itemIndex, {}) as { eventKey?: unknown; occurredAt?: unknown };
	// As a tool, a model's "null" for an option it has no value for is not given (nodes/shared/tool-text.ts):
	// an event key "null" would make every later report of the objective under it a retry or a refusal.
	const options = { eventKey: optionalToolText(context, given.eventKey), occurredAt: optionalToolText(context, given.occurredAt) };
	const eventKey = options.eventKey ? readText(options.eventKey, 'event_key', TEXT.eventKey, problems) : undefined;
	const occurredAt = options.occurredAt ? readOccurredAt(context, options.occurredAt) : undefined;
	if (options.occurredAt && (!occurredAt || !isStorableDate(occurredAt))) {
		problems.push({
			path: 'occurred_at',
			message: `(Occurred At) is not a date between the years 1 and 9999 (${shown(options.occurredAt)}); use ISO 8601 such as 2026-07-01T09:00:00, with an offset (+01:00, Z) or in the workflow's time zone`,
		});
	} else if (occurredAt && occurredAt.getTime() > Date.now() + OCCURRED_AT_REFUSED_AHEAD_MS) {
		problems.push({
			path: 'occurred_at',
			message: `(Occurred At) ${occurredAt.toISOString()} is more than 26 hours ahead of now (now is ${new Date().toISOString()}): no time zone explains it; give the time the objective was reached (check its year and date), or leave it empty for now`,
		});
	}
	// Ahead of now (a time zone mix-up, clocks apart): recorded as now, the database's.
	const ahead = occurredAt !== undefined && occurredAt.getTime() > Date.now();
	if (problems.length || 'problem' in ownerResult || sessionId === undefined || objective === undefined || !isSource(source)) {
		return [{ output: OUTPUT.recordObjective.invalid, json: invalidRequest(400, problems) }];
	}
	const { owner } = ownerResult;

	let result;
	try {
		result = await callRpc(
			context,
			'record_session_objective',
			{
				p_owner: owner,
				p_session_id: sessionId,
				p_objective: objective,
				// null stays null (recorded, not reached); undefined was refused above.
				p_value: value,
				p_source: source,
				p_occurred_at: ahead ? null : (occurredAt?.toISOString() ?? null),
				p_event_key: eventKey ?? null,
			},
			itemIndex,
		);
	} catch (error) {
		const refused = occurredAtRefused(error);
		if (!refused) throw asNodeError(context, error, itemIndex);
		return [{ output: OUTPUT.recordObjective.invalid, json: invalidRequest(400, [refused]) }];
	}
	if (result.outcome === 'session_not_found') {
		return [{ output: OUTPUT.recordObjective.invalid, json: invalidRequest(404, [{ path: 'session', message: `no session ${shown(sessionId)} for this owner` }]) }];
	}
	if (result.outcome === 'event_key_reused') {
		return [
			{
				output: OUTPUT.recordObjective.invalid,
				json: invalidRequest(422, [
					{
						path: 'event_key',
						message: `(Event Key) ${shown(eventKey)} already recorded ${objective} = ${shown(result.recorded_value)} on this session; another value (${shown(value)}) is a new report: send it with a new event key, or the same value to retry`,
					},
				]),
			},
		];
	}
	// Recorded as now: ahead of n8n's clock (sent as none), or of the database's (it says so).
	const adjusted = ahead ? occurredAt.toISOString() : result.occurred_at_adjusted;
	return [
		{
			output: OUTPUT.recordObjective.recorded,
			json: {
				session: result.session,
				objective,
				value,
				recorded: result.recorded,
				status: result.status,
				objectives: result.objectives,
				...(adjusted ? { occurred_at_adjusted: adjusted } : {}),
			} as IDataObject,
		},
	];
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 2, (itemIndex) => recordOne(this, itemIndex), OUTPUT.recordObjective.invalid);
}
