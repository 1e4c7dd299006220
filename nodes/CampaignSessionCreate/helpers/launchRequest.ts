// The webhook body of a campaign launch, as the recruiter's app sends it (an example: seedLaunch()
// in test/helpers/campaign.ts):
//   {campaign, tasks: [{session?, phone_number, name?}], job_description, objectives}
// plus an optional `campaign_name` (a display name when `campaign` is an id). Everything is
// checked and every problem reported at once; unknown fields are problems too, so a typo such as
// `phone` for `phone_number` is caught instead of silently ignored. Text is checked with the rules
// the database's constraints enforce (nodes/shared/valid-input.ts).
import type { CountryCode } from 'libphonenumber-js/max';
import { isBlank } from '../../shared/blank';
import { TEXT, textProblem } from '../../shared/valid-input';
import { campaignIdFor, isCampaignId } from './campaignId';
import { collectJsonProblems, isPlainObject, OBJECTIVE_JSON_LIMITS } from './jsonValue';
import { shown, typeName, type Problem } from './problems';
import { checkTasks, type DroppedTask, type LaunchTask } from './tasks';

export interface LaunchCampaign {
	name_uid: string;
	/**
	 * The display name the request gives: `campaign_name`, or `campaign` when it is a name. Absent for
	 * a campaign id without `campaign_name`: a new campaign is then named by its id, and a relaunch
	 * keeps the stored name (a relaunch updates the name, job description and objectives it gives).
	 */
	name?: string;
	job_description: string;
	objectives: Record<string, unknown>;
}

export interface LaunchRequest {
	campaign: LaunchCampaign;
	/**
	 * The request named its campaign by a name, not an id: the id was made from the name and the
	 * Idempotency-Key (campaignIdFor), so the answer tells the caller the id to relaunch it by.
	 */
	byName: boolean;
	tasks: LaunchTask[];
	dropped: DroppedTask[];
}

export interface LaunchSettings {
	defaultCountry: CountryCode;
	maxTasks: number;
	idempotencyKey?: string;
}

export type LaunchCheck = { request: LaunchRequest } | { problems: Problem[] };

const BODY_FIELDS = ['campaign', 'campaign_name', 'tasks', 'job_description', 'objectives'];
const MAX_OBJECTIVES_BYTES = 64 * 1024;

function requiredString(body: Record<string, unknown>, field: string, problems: Problem[]): string | undefined {
	const value = body[field];
	if (value === undefined || value === null) problems.push({ path: field, message: 'is required' });
	else if (typeof value !== 'string') problems.push({ path: field, message: `must be a string, got ${typeName(value)} ${shown(value)}` });
	else return value;
	return undefined;
}

/**
 * What is wrong with a campaign's name: the text rules of campaign_info.name, and a name that shows
 * nothing (only white space and format characters such as U+200B: nodes/shared/blank.ts), which the
 * database refuses too (migration 20261201002500_campaign_name_blank_refused.sql). JavaScript's trim()
 * keeps U+200B, so textProblem's "is empty" alone let such a name through.
 */
function campaignNameProblem(value: string): string | undefined {
	return textProblem(value, TEXT.campaignName) ?? (isBlank(value) ? 'is blank: it shows nothing (only white space or invisible characters such as U+200B zero width space); give the campaign a name' : undefined);
}

function checkCampaign(body: Record<string, unknown>, settings: LaunchSettings, problems: Problem[]): { nameUid: string; name?: string; byName: boolean } | undefined {
	const campaign = requiredString(body, 'campaign', problems);
	let displayName: string | undefined;
	if (body.campaign_name !== undefined && body.campaign_name !== null) {
		const value = body.campaign_name;
		const problem = typeof value === 'string' ? campaignNameProblem(value) : `must be a string, got ${typeName(value)}`;
		if (problem) problems.push({ path: 'campaign_name', message: problem });
		else displayName = (value as string).trim();
	}
	if (campaign === undefined) return undefined;
	const problem = campaignNameProblem(campaign);
	if (problem) {
		problems.push({ path: 'campaign', message: problem });
		return undefined;
	}
	const trimmed = campaign.trim();
	if (isCampaignId(trimmed)) return { nameUid: trimmed, name: displayName, byName: false };
	return { nameUid: campaignIdFor(trimmed, settings.idempotencyKey), name: displayName ?? trimmed, byName: true };
}

function checkObjectives(body: Record<string, unknown>, problems: Problem[]): Record<string, unknown> | undefined {
	const value = body.objectives;
	if (value === undefined || value === null) {
		problems.push({ path: 'objectives', message: 'is required (an object of objective definitions; {} for none)' });
		return undefined;
	}
	if (!isPlainObject(value)) {
		problems.push({ path: 'objectives', message: `must be an object, got ${typeName(value)}` });
		return undefined;
	}
	const before = problems.length;
	collectJsonProblems(value, 'objectives', OBJECTIVE_JSON_LIMITS, problems);
	if (problems.length > before) return undefined;
	const bytes = Buffer.byteLength(JSON.stringify(value));
	if (bytes > MAX_OBJECTIVES_BYTES) {
		problems.push({ path: 'objectives', message: `is too large: ${bytes} bytes, at most ${MAX_OBJECTIVES_BYTES}` });
		return undefined;
	}
	return value;
}

function checkTaskList(body: Record<string, unknown>, settings: LaunchSettings, problems: Problem[]) {
	const value = body.tasks;
	if (value === undefined || value === null) {
		problems.push({ path: 'tasks', message: 'is required (an array of {"phone_number", "session"?, "name"?})' });
		return undefined;
	}
	if (!Array.isArray(value)) {
		problems.push({ path: 'tasks', message: `must be an array, got ${typeName(value)}` });
		return undefined;
	}
	if (value.length === 0) {
		problems.push({ path: 'tasks', message: 'is empty: a campaign needs at least one task' });
		return undefined;
	}
	if (value.length > settings.maxTasks) {
		problems.push({ path: 'tasks', message: `has ${value.length} tasks, at most ${settings.maxTasks} per request: split the campaign into several requests` });
		return undefined;
	}
	return checkTasks(value, settings.defaultCountry, problems);
}

export function checkLaunchRequest(body: unknown, settings: LaunchSettings): LaunchCheck {
	if (!isPlainObject(body)) {
		const hint = typeof body === 'string' ? ' (was it sent with Content-Type: application/json?)' : '';
		return { problems: [{ path: 'body', message: `must be a JSON object, got ${typeName(body)}${hint}` }] };
	}
	const problems: Problem[] = [];
	for (const key of Object.keys(body)) {
		if (!BODY_FIELDS.includes(key)) problems.push({ path: key.slice(0, 40), message: `is not a field of a launch request (known: ${BODY_FIELDS.join(', ')})` });
	}
	const campaign = checkCampaign(body, settings, problems);
	const rawJobDescription = requiredString(body, 'job_description', problems);
	const jobProblem = rawJobDescription === undefined ? undefined : textProblem(rawJobDescription, TEXT.jobDescription);
	if (jobProblem) problems.push({ path: 'job_description', message: jobProblem });
	const objectives = checkObjectives(body, problems);
	const checked = checkTaskList(body, settings, problems);

	if (problems.length || !campaign || rawJobDescription === undefined || !objectives || !checked) {
		return { problems };
	}
	return {
		request: {
			campaign: { name_uid: campaign.nameUid, ...(campaign.name === undefined ? {} : { name: campaign.name }), job_description: rawJobDescription, objectives },
			byName: campaign.byName,
			tasks: checked.tasks,
			dropped: checked.dropped,
		},
	};
}
