// An input item as a lead for queue_add_leads, checked with the rules the database enforces (so a
// lead the node accepts is never refused by a constraint): every problem found, each with its
// field, or the lead with its phone in E.164. Pure: the phone library must be loaded first
// (loadPhoneLibrary in nodes/shared/phone.ts).
import type { CountryCode } from 'libphonenumber-js/max';
import type { NewLead } from '../../shared/contract';
import { isBlank } from '../../shared/blank';
import { isNotGivenWord } from '../../shared/tool-text';
import { normalisePhone } from '../../shared/phone';
import { shown, textProblem, TEXT, UUID, type TextRule } from '../../shared/valid-input';

/** What an item says about its lead, as read (any type). */
export interface LeadFields {
	owner: unknown;
	name: unknown;
	phone: unknown;
	conversation_id: unknown;
	campaign_session_id: unknown;
	source: unknown;
	lead_score: unknown;
}

export interface Problem {
	/** The lead's field: owner, name, phone, conversation_id, campaign_session_id, source or lead_score. */
	field: keyof LeadFields;
	message: string;
}

export type CheckedLead = { lead: NewLead } | { problems: Problem[] };

/** leads.source: where a lead came from (one line). */
export const SOURCE_RULE: TextRule = { kind: 'line', min: 1, max: 100 };

/**
 * A field not given: absent, null, or blank text (nodes/shared/blank.ts: empty, or only white space
 * and format characters such as U+200B), as the database reads a name.
 */
const isEmpty = (value: unknown) => value === undefined || value === null || (typeof value === 'string' && isBlank(value));

function checkText(field: 'name' | 'source', value: unknown, rule: TextRule, problems: Problem[]): string | null {
	if (isEmpty(value)) return null;
	if (typeof value !== 'string') {
		problems.push({ field, message: `must be text (got ${shown(value)})` });
		return null;
	}
	const problem = textProblem(value, rule);
	if (problem) problems.push({ field, message: problem });
	return value.trim();
}

function checkId(field: 'owner' | 'conversation_id' | 'campaign_session_id', value: unknown, problems: Problem[], required = false): string | null {
	if (isEmpty(value)) {
		if (required) problems.push({ field, message: 'is required: the id of the Supabase Auth user (auth.users) who owns the lead' });
		return null;
	}
	const text = typeof value === 'string' ? value.trim() : '';
	if (!UUID.test(text)) {
		problems.push({ field, message: `is not a UUID (got ${shown(value)})` });
		return null;
	}
	return text.toLowerCase();
}

function checkScore(value: unknown, problems: Problem[]): number | null {
	if (isEmpty(value)) return null;
	const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d{1,3}\s*$/.test(value) ? Number(value) : Number.NaN;
	if (!Number.isInteger(number) || number < 0 || number > 100) {
		problems.push({ field: 'lead_score', message: `must be a whole number from 0 to 100 (got ${shown(value)})` });
		return null;
	}
	return number;
}

function checkPhone(value: unknown, defaultCountry: CountryCode, problems: Problem[]): string | null {
	if (isEmpty(value)) return null;
	if (typeof value !== 'string' && typeof value !== 'number') {
		problems.push({ field: 'phone', message: `must be a phone number as text (got ${shown(value)})` });
		return null;
	}
	const result = normalisePhone(String(value), defaultCountry);
	if ('problem' in result) {
		problems.push({ field: 'phone', message: result.problem });
		return null;
	}
	return result.e164;
}

/** The fields a lead may go without: as a tool, a model's "null" or "undefined" in one is not given. */
const OPTIONAL_FIELDS = ['name', 'phone', 'conversation_id', 'campaign_session_id', 'source', 'lead_score'] as const;

/**
 * An item's lead, checked. `asTool` (the node runs as an AI agent's tool): an optional field given
 * as the text `null` or `undefined` (trimmed, any case) is not given (nodes/shared/tool-text.ts), so a
 * model's word for a name it does not know never names the lead "null"; in a workflow a lead may be
 * named Null.
 */
export function checkLead(given: LeadFields, defaultCountry: CountryCode, asTool = false): CheckedLead {
	const fields = { ...given };
	if (asTool) for (const field of OPTIONAL_FIELDS) if (isNotGivenWord(fields[field])) fields[field] = null;
	const problems: Problem[] = [];
	const owner = checkId('owner', fields.owner, problems, true);
	const name = checkText('name', fields.name, TEXT.personName, problems);
	const phone = checkPhone(fields.phone, defaultCountry, problems);
	const conversationId = checkId('conversation_id', fields.conversation_id, problems);
	const campaignSessionId = checkId('campaign_session_id', fields.campaign_session_id, problems);
	const source = checkText('source', fields.source, SOURCE_RULE, problems);
	const leadScore = checkScore(fields.lead_score, problems);
	const reachable = !isEmpty(fields.phone) || !isEmpty(fields.conversation_id) || !isEmpty(fields.campaign_session_id);
	if (!reachable) {
		problems.push({ field: 'phone', message: 'is required when the lead has no conversation_id or campaign_session_id: a lead must be reachable' });
	}
	if (problems.length > 0 || owner === null) return { problems };
	return {
		lead: {
			user_id: owner,
			name,
			phone,
			conversation_id: conversationId,
			campaign_session_id: campaignSessionId,
			source,
			lead_score: leadScore,
		},
	};
}

/** One sentence for an item's problems: "phone is not a valid phone number …; lead_score must be …". */
export const problemsSentence = (problems: readonly Problem[]) => problems.map((problem) => `${problem.field} ${problem.message}`).join('; ');
