// create: a campaign launch from the webhook body → the campaign and one session per phone, made
// by one SQL function call (one round trip, one transaction). The same request again creates
// nothing and answers with the same sessions; on Sessions it puts only the sessions the database
// handed to this call (created now, or not started and last handed out longer ago than the lease),
// so a launch delivered twice, at once or one after the other, has no candidate contacted twice.
import {
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
} from 'n8n-workflow';
import type { CreateCampaignSessionsResult } from '../../shared/contract';
import { readCheckedOption } from '../../shared/checked-options';
import { optionsCollection } from '../../shared/properties';
import { callRpc } from '../../shared/supabase';
import { isPlainObject } from '../helpers/jsonValue';
import { checkLaunchRequest, type LaunchRequest } from '../helpers/launchRequest';
import { readOwner, unknownOwner } from '../helpers/owner';
import { OUTPUT } from '../helpers/outputs';
import { perItem, type Routed } from '../../shared/per-item';
import { loadPhoneLibrary, readDefaultCountry } from '../../shared/phone';
import { invalidRequest, type Problem } from '../helpers/problems';
import type { DroppedTask, KeptSession } from '../helpers/tasks';
import { TEXT, textProblem } from '../../shared/valid-input';

/** The largest Max Tasks per Request (see OPTIONS). */
const MAX_TASKS = 100_000;

/** Said in a refusal of Max Tasks per Request before what to do. */
const MAX_TASKS_WHY = 'It is how many tasks one launch request may have; a larger launch is refused asking the caller to split it.';

/** Said in a refusal of Re-Emit After (Minutes) before what to do. */
const EMIT_LEASE_WHY = 'It is how long a session handed to the outreach waits before a replayed launch may hand it out again (at most 30 days).';

/**
 * The Options. Max Tasks per Request had no maximum until 5 December 2026, and was not checked at
 * all (text that is not a number let every launch through, 0 refused every launch as the caller's
 * fault). Its maximum, 100,000, is ten times the default: 100,000 tasks with names and session ids
 * are a body of about 10 MB, within n8n's default request limit (16 MB). A larger value saved before
 * is used as 100,000 with a warning (clampAboveMax), so such a workflow keeps launching; a fraction,
 * which the comparison took before, is rounded down (roundsDownFractions).
 */
const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'Max Tasks per Request',
		name: 'maxTasks',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: MAX_TASKS, clampAboveMax: true, roundsDownFractions: true },
		default: 10000,
		description:
			'Larger launches are refused with a problem asking to split them. At most 100,000: a larger value (saved before the option had a maximum) is used as 100,000, with a warning logged; a fraction (from an expression) is rounded down.',
	},
	{
		displayName: 'Re-Emit After (Minutes)',
		name: 'emitLeaseMinutes',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 43200 },
		default: 60,
		description:
			'A session handed to the outreach is handed out again by a replayed launch only after this long, and only if it was never contacted, reached no objective and is not on the Queue Ledger. Within it, a delivery hands out nothing again (duplicates, retries); a run that failed after the hand-out gets its unconfirmed sessions back by a replay after Summary\'s emit_again_after. Keep it longer than the outreach takes to contact a launch.',
	},
]);

const properties: INodeProperties[] = [
	{
		displayName:
			'Sessions has one item per session to contact, each handed out once by the database: the sessions this request created, and existing ones whose outreach has not started (never contacted, no objective reached, not on the Queue Ledger) and that no launch handed out within the Re-Emit After time. Within Re-Emit After a delivery hands out nothing again (duplicates, retries); a run that failed after the hand-out gets its unconfirmed sessions back by a replay after emit_again_after. Each item carries campaign_session_id, the session\'s row ID, to map into the Queue Ledger\'s Add Leads (Campaign Session ID). Summary lists every session (created, outreach_started, emitted), counts already_emitted, gives emit_again_after, and lists in sessions_kept each task whose session ID was not used because its phone has a session in the campaign already (the ID kept is the one to use).',
		name: 'sessionsNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Launch Request From',
		name: 'launchRequestSource',
		type: 'options',
		default: 'field',
		options: [
			{ name: 'A Field of the Item', value: 'field', description: 'The field Request Body Field names (a Webhook node puts the request in "body")' },
			{
				name: 'JSON',
				value: 'json',
				description: 'The Launch Request parameter: JSON text, or an expression such as an AI agent\'s {{ $fromAI(\'launch_request\', \'The campaign launch as JSON\') }}',
			},
		],
		description: 'Where the launch request is read: {campaign, tasks: [{session?, phone_number, name?}], job_description, objectives}',
	},
	{
		displayName: 'Request Body Field',
		name: 'requestBodyField',
		type: 'string',
		default: 'body',
		placeholder: 'body',
		displayOptions: { show: { launchRequestSource: ['field'] } },
		description:
			'The field of the incoming item holding the launch request (a Webhook node puts it in "body"): {campaign, tasks: [{session?, phone_number, name?}], job_description, objectives}. `campaign` is a campaign ID like plumber-london_abc123xyz, or a name from which the ID is made. Read directly, not through an expression, so any JSON a caller sends is checked by the node.',
	},
	{
		displayName: 'Launch Request',
		name: 'launchRequest',
		type: 'json',
		default: '',
		displayOptions: { show: { launchRequestSource: ['json'] } },
		placeholder: '{"campaign": "Plumbers London", "tasks": [{"phone_number": "+61491570156", "name": "Ann"}], "job_description": "…", "objectives": ["interested"]}',
		description:
			'The launch request as JSON: {campaign, tasks: [{session?, phone_number, name?}], job_description, objectives}, checked by the node like a webhook\'s body. For an AI agent\'s tool: {{ $fromAI(\'launch_request\', \'The campaign launch as JSON: campaign, tasks with phone_number and name, job_description, objectives\') }} (text the node parses, or an object when the type is JSON).',
	},
	{
		displayName: 'Idempotency Key',
		name: 'idempotencyKey',
		type: 'string',
		default: '={{ $json.headers?.["idempotency-key"] ?? "" }}',
		description:
			'A key the caller sends with each launch (the Idempotency-Key header). The same key again answers with the first request\'s sessions and creates nothing; reused for a different campaign or set of phones, it is refused (422) naming the campaign it launched. A campaign given by name gets an ID made from the name and this key, so the same name under another key is a new campaign: relaunch it by the ID the answer gives (campaign_id).',
	},
	{
		displayName: 'Default Country',
		name: 'defaultCountry',
		type: 'string',
		default: 'GB',
		placeholder: 'GB',
		description: 'Two-letter country code used for phone numbers written without +country code (0491 570 156 in AU is +61491570156)',
	},
	OPTIONS,
];

export const description = updateDisplayOptions({ show: { operation: ['create'] } }, properties);

/** The key as received is checked (a control character anywhere is refused, not trimmed away), then trimmed. */
function readIdempotencyKey(context: IExecuteFunctions, itemIndex: number, problems: Problem[]): string | undefined {
	const raw = context.getNodeParameter('idempotencyKey', itemIndex, '') as unknown;
	if (raw === undefined || raw === null || raw === '') return undefined;
	const key = String(raw);
	const problem = textProblem(key, TEXT.idempotencyKey);
	if (problem) {
		problems.push({ path: 'headers.idempotency-key', message: problem });
		return undefined;
	}
	return key.trim();
}

/** The launch request to check, or the problem that there is none where the node was told to read it. */
type RequestBody = { body: unknown } | { problem: Problem };

const LAUNCH_REQUEST_SHAPE = '{"campaign", "tasks": [{"phone_number", "name"?, "session"?}], "job_description", "objectives"}';

/**
 * The launch request: by default from a field of the incoming item. Not an expression parameter:
 * n8n's expression sandbox refuses objects with keys such as "constructor", and a caller's body must
 * never be able to turn a 400 into a workflow error. With Launch Request From: JSON, from the Launch
 * Request parameter, an object or JSON text (an AI agent's tool has no webhook item: its item holds
 * only what $fromAI asked).
 */
function readRequestBody(context: IExecuteFunctions, itemIndex: number): RequestBody {
	if (context.getNodeParameter('launchRequestSource', itemIndex, 'field') === 'json') {
		const raw = context.getNodeParameter('launchRequest', itemIndex, '') as unknown;
		if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
			return { problem: { path: 'launchRequest', message: `is empty: give the launch request as a JSON object ${LAUNCH_REQUEST_SHAPE}` } };
		}
		if (typeof raw !== 'string') return { body: raw };
		try {
			return { body: JSON.parse(raw) as unknown };
		} catch {
			return { problem: { path: 'launchRequest', message: `is not JSON: give the launch request as a JSON object ${LAUNCH_REQUEST_SHAPE}` } };
		}
	}
	const field = String(context.getNodeParameter('requestBodyField', itemIndex, 'body')).trim();
	let value: unknown = context.getInputData()[itemIndex]?.json;
	const keys = field ? field.split('.') : [];
	for (const [depth, key] of keys.entries()) {
		if (!isPlainObject(value) || !Object.prototype.hasOwnProperty.call(value, key)) {
			const name = keys.slice(0, depth + 1).join('.');
			return {
				problem: {
					path: field,
					message: `the item has no field "${name}" (Request Body Field): feed the node a Webhook node's output (it puts the request in "body"), set Request Body Field to the field holding the launch request, or set Launch Request From to JSON and give it there (an AI agent's tool: {{ $fromAI('launch_request', 'The campaign launch as JSON') }})`,
				},
			};
		}
		value = value[key];
	}
	return { body: value };
}

/**
 * A campaign named by a name gets an id made from the name and the Idempotency-Key, so the same name
 * under another key is another campaign: the answer says which id to keep and relaunch it by.
 */
function relaunchNote(request: LaunchRequest, campaignId: string | undefined): string | null {
	if (!request.byName || !campaignId) return null;
	return `Launched by name: keep this campaign's id, ${campaignId}. To add candidates or change its details, send "campaign": "${campaignId}" (with a new Idempotency-Key, or none); the same name under another key launches a new campaign.`;
}

/** The 422's problem: the key launched another campaign, or this one with other phones. */
function keyReusedProblem(result: CreateCampaignSessionsResult): Problem {
	const campaign = result.campaign;
	if (!campaign) {
		return { path: 'headers.idempotency-key', message: 'was already used for a different campaign or set of phone numbers; send a new key for a new launch' };
	}
	if (campaign.same_campaign) {
		return {
			path: 'headers.idempotency-key',
			message: `was already used to launch campaign ${campaign.id} with other phone numbers; nothing was written. To add candidates to this campaign, send "campaign": "${campaign.id}" with a new key (a campaign given by name under a new key would be a new campaign)`,
		};
	}
	return {
		path: 'headers.idempotency-key',
		message: `was already used to launch another campaign, ${campaign.id}; nothing was written. Send a new key for this launch (to add candidates to ${campaign.id}, send "campaign": "${campaign.id}" with a new key)`,
	};
}

/**
 * The tasks that gave a session id the database did not use: their phone has a session in the
 * campaign already, and it is kept (one session per phone and campaign), so the answer says which
 * id to use for that candidate instead of answering as if the id given were the session's. Each
 * entry is four fields; the explanation is said once (SESSIONS_KEPT_NOTE).
 */
function keptSessionsOf(request: LaunchRequest, result: CreateCampaignSessionsResult): KeptSession[] {
	return (result.sessions ?? []).flatMap((session) => {
		const task = request.tasks[session.task_index];
		if (task?.session === undefined || task.session === session.session) return [];
		return [{ path: `tasks[${task.task_index}].session`, session_given: task.session, session: session.session, reason: 'phone_has_session' as const }];
	});
}

/** The Summary's sessions_kept_note, once for every entry of sessions_kept (null when there is none). */
const SESSIONS_KEPT_NOTE =
	'Each task in sessions_kept gave a session id (session_given) that was not used: its phone already has a session in the campaign, which is kept (one session per phone and campaign). Use the session kept (session) for that candidate: its objectives, messages and calls; an objective recorded on the id given finds no session.';

/**
 * The Summary's names_updated_note. A relaunch renames the session, not a Queue Ledger lead made
 * from it: queue_claim fills {{name}} from leads.name, and renaming the lead inside the launch would
 * lock a session, then its lead, the opposite of the Queue Ledger functions' order. Said when a
 * session renamed now has its outreach started, the only sessions a lead may hold (null otherwise).
 */
const NAMES_UPDATED_NOTE =
	'A candidate already added to the queue keeps its lead\'s name (what {{name}} fills in its messages); rename the lead there. A renamed session with outreach_started true may be such a candidate.';

function summaryOf(request: LaunchRequest, result: CreateCampaignSessionsResult, dropped: DroppedTask[], emitted: number, idempotencyKey?: string): IDataObject {
	const kept = keptSessionsOf(request, result);
	return {
		campaign: result.campaign?.id,
		// The same id under the name an app may look for; relaunch the campaign by it.
		campaign_id: result.campaign?.id,
		relaunch: relaunchNote(request, result.campaign?.id),
		campaign_name: result.campaign?.name,
		campaign_created: result.campaign?.created,
		campaign_updated: result.campaign?.updated ?? false,
		requested: request.tasks.length + request.dropped.length,
		created: result.created,
		existing: result.existing,
		outreach_started: result.outreach_started,
		emitted,
		already_emitted: result.already_emitted ?? 0,
		emit_again_after: result.emit_again_after ?? null,
		// Existing sessions this call gave their task's new name (a task without a name leaves it): what
		// this call did, as created and emitted are, so 0 for a replay of a key whatever its first call renamed.
		names_updated: result.names_updated ?? 0,
		names_updated_note: (result.sessions ?? []).some((session) => session.name_updated === true && session.outreach_started === true) ? NAMES_UPDATED_NOTE : null,
		sessions: (result.sessions ?? []).map(({ campaign_session_id, session, phone_number, name, status, created, outreach_started, emitted: handedOut, name_updated }) => ({
			campaign_session_id,
			session,
			phone_number,
			name,
			status,
			created,
			outreach_started,
			emitted: handedOut,
			name_updated: name_updated ?? false,
		})),
		dropped: dropped.map((task) => ({ ...task })),
		// Tasks whose session id was not used: their phone's session in the campaign is kept.
		sessions_kept: kept.map((entry) => ({ ...entry })),
		sessions_kept_note: kept.length ? SESSIONS_KEPT_NOTE : null,
		idempotency_key: idempotencyKey ?? null,
	};
}

async function createOne(context: IExecuteFunctions, itemIndex: number): Promise<Routed[]> {
	const defaultCountry = readDefaultCountry(context, itemIndex);
	const problems: Problem[] = [];
	const ownerResult = readOwner(context, itemIndex);
	if ('problem' in ownerResult) problems.push(ownerResult.problem);
	const idempotencyKey = readIdempotencyKey(context, itemIndex, problems);
	const read = readRequestBody(context, itemIndex);
	// Settings of the node's Options, read as every checked option is: a value the option does not
	// take (0, text that is not a number) is a SettingRefusedError naming it and what it got, the
	// workflow's 500. Re-Emit After takes what it took before (whole minutes from 1 to 43,200) and
	// its figures as text ("60", from an expression), which its own check refused.
	const emitLeaseMinutes = readCheckedOption<number>(context, itemIndex, OPTIONS, 'emitLeaseMinutes', EMIT_LEASE_WHY);
	const maxTasks = readCheckedOption<number>(context, itemIndex, OPTIONS, 'maxTasks', MAX_TASKS_WHY);
	const checked = 'problem' in read ? { problems: [read.problem] } : checkLaunchRequest(read.body, { defaultCountry, maxTasks, idempotencyKey });
	if ('problems' in checked || problems.length || 'problem' in ownerResult) {
		const all = [...problems, ...('problems' in checked ? checked.problems : [])];
		return [{ output: OUTPUT.create.invalid, json: invalidRequest(400, all) }];
	}
	const { request } = checked;
	const { owner } = ownerResult as { owner: string };
	const result = await callRpc(
		context,
		'create_campaign_sessions',
		{
			p_owner: owner,
			p_campaign: request.campaign,
			p_tasks: request.tasks.map(({ phone, session, name }) => ({ phone, session, name })),
			p_idempotency_key: idempotencyKey ?? null,
			p_emit_lease_seconds: emitLeaseMinutes * 60,
			p_holder: `n8n-${context.getExecutionId() ?? 'manual'}-${context.getNode().id}`.slice(0, 200),
		},
		itemIndex,
	);
	if (result.outcome === 'owner_not_found') return [{ output: OUTPUT.create.invalid, json: invalidRequest(400, [unknownOwner(context)]) }];
	if (result.outcome === 'idempotency_key_reused') {
		return [
			{
				output: OUTPUT.create.invalid,
				json: invalidRequest(422, [keyReusedProblem(result)]),
			},
		];
	}
	// The request's tasks by position, to point conflicts back at them.
	const taskIndexOf = request.tasks.map((task) => task.task_index);
	// Not one session to run: every task's session id belongs to another session (another phone or
	// campaign). The database wrote nothing (no campaign, no key, no numbers), so the caller hears it
	// as a conflict (409) naming each task and may send a corrected launch, even with the same key.
	if (result.outcome === 'all_conflict') {
		return [
			{
				output: OUTPUT.create.invalid,
				json: invalidRequest(
					409,
					(result.conflicts ?? []).map((conflict) => ({
						path: `tasks[${taskIndexOf[conflict.task_index]}].session`,
						message:
							'belongs to another session (another phone or campaign), so no session was created for this launch; send a session id not used elsewhere, or leave it out to have one made',
					})),
				),
			},
		];
	}
	const dropped: DroppedTask[] = [
		...request.dropped,
		...(result.conflicts ?? []).map((conflict) => ({
			path: `tasks[${taskIndexOf[conflict.task_index]}]`,
			phone_number: conflict.phone_number,
			reason: 'session_taken' as const,
			message: 'its session id belongs to another session (another phone or campaign); the task was not created',
		})),
	];
	// Sessions carries what the database handed to this call, and only that: sessions created now,
	// and existing ones not contacted, without objectives, not on the Queue Ledger and last handed
	// out longer ago than the lease (a run that failed after its hand-out). Another delivery of the same launch, at the same
	// moment or within the lease, is handed nothing, so nobody is contacted twice.
	const toContact = (result.sessions ?? []).filter((session) => session.emitted === true);
	const sessions: Routed[] = toContact.map((session) => ({
		output: OUTPUT.create.sessions,
		json: {
			campaign: result.campaign?.id,
			campaign_name: result.campaign?.name,
			// The session's row (session_info.id): what the Queue Ledger's Add Leads takes as Campaign Session ID.
			campaign_session_id: session.campaign_session_id,
			session: session.session,
			phone_number: session.phone_number,
			name: session.name,
			status: session.status,
			created: session.created,
			outreach_started: session.outreach_started,
			task_index: taskIndexOf[session.task_index],
		},
	}));
	return [...sessions, { output: OUTPUT.create.summary, json: summaryOf(request, result, dropped, sessions.length, idempotencyKey) }];
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// Everything that may fail happens inside an item, so that with an error output (the shipped
	// workflow's) a failure is a failed item there: a node that throws instead would have n8n pass
	// the request's item on to Sessions, as if it were a session to contact. (The library loads once.)
	return await perItem(
		this,
		3,
		async (itemIndex) => {
			await loadPhoneLibrary();
			return await createOne(this, itemIndex);
		},
		OUTPUT.create.invalid,
	);
}
