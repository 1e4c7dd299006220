// monitor: one page of a rule's follow-up monitor (automation_monitor_page): the totals and stages
// of automation_snapshot, one page of the tagged contacts filtered by status, reason and a search,
// the most recent active contacts, and the list of rules. As an AI agent's tool a page holds at most
// TOOL_PAGE_MAX contacts (and as many active ones) and TOOL_RULES_MAX rules (the rule's owner's, or
// every owner's without a rule; the database reads no more), and the answer says how many were left out and the offset
// that reads on. A Rule ID left empty, or as a tool a model's "null" / "undefined" (textParameter:
// not given, as the other optional fields), answers the rules list only (`rule: null`); in a
// workflow "null" is refused as not a UUID.
// Owner ID keeps the answer to one owner: the rules listed are that owner's only, and a rule of
// another owner is not found, as an unknown one (the database checks it: p_user_id). As an AI agent's
// tool it must be given (empty, "null" or "undefined" is refused naming the field, the advice for
// whoever fills it, as Queue Page's): before 6 December 2026 a tool with no rule listed every owner's
// rules, and with a rule read any owner's. In a workflow empty is as before: every owner's rules (the
// console's picker, which the console key may read), a rule of any owner.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { NotFoundError, perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';
import { readConsoleOwner } from './tool-owner';
import { idText, notAUuid, refusedParameter, textParameter, wholeNumber } from './rule-input';
import { optionalToolText } from '../../shared/tool-text';

const STATUSES = ['eligible', 'processing', 'recently_sent', 'stopped', 'skipped'];

/** The most contacts a page holds as an AI agent's tool: about 600 characters each. */
export const TOOL_PAGE_MAX = 20;
/** The most rules a tool's answer lists (about 150 characters each); the asked rule is in `rule`. */
export const TOOL_RULES_MAX = 20;
/** The database's largest page. */
const PAGE_MAX = 500;

const properties: INodeProperties[] = [
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '',
		description:
			'Only this owner\'s rules (a Supabase user ID): the rules list is theirs, and a rule of another owner is not found. Empty: every owner\'s (the console\'s picker), in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.query?.ruleId ?? \'\' }}',
		description: 'The follow-up rule (the ID column of ai_automation_rules); empty for the list of rules only (as an AI agent\'s tool, "null" or "undefined" too)',
	},
	{
		displayName: 'Status',
		name: 'status',
		type: 'string',
		default: '={{ $json.query?.status ?? \'\' }}',
		description: 'Only contacts with this status: eligible, processing, recently_sent, stopped or skipped; empty for all',
	},
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '={{ $json.query?.reason ?? \'\' }}',
		description: 'Only contacts not due for this reason (e.g. outside_window); empty for all',
	},
	{
		displayName: 'Search',
		name: 'search',
		type: 'string',
		default: '={{ $json.query?.search ?? \'\' }}',
		description: 'Only contacts whose name or Messenger ID contains this text',
	},
	{
		displayName: 'Offset',
		name: 'offset',
		type: 'string',
		default: '={{ $json.query?.offset ?? \'0\' }}',
		description: 'How many matching contacts to pass over (0 for the first page)',
	},
	{
		displayName: 'Contacts per Page',
		name: 'limit',
		type: 'string',
		default: '={{ $json.query?.limit ?? \'50\' }}',
		description: `How many contacts in the page, 1 to 500. As an AI agent's tool at most ${TOOL_PAGE_MAX}: the answer then says how many were left out and the offset to read on.`,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['monitor'] } }, properties);

const WORKFLOW_OWNER_HINT = 'Use the user ID of the owner whose rules to read, or leave userId out for every owner\'s.';

/** Owner ID of item i: in a workflow empty is null (every owner's); as a tool it must be given (tool-owner.ts). */
const readOwner = (context: IExecuteFunctions, i: number): string | null =>
	readConsoleOwner(context, i, { purpose: 'whose follow-up rules to read', without: 'reads no rule' }, WORKFLOW_OWNER_HINT);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const owner = readOwner(this, i);
		const ruleHint = 'Use the id of a rule from the answer\'s rules list, or leave ruleId out for the list only.';
		// Text only (idText: a list is refused, never read as its String()); as a tool "null" is not given.
		const ruleId = optionalToolText(this, idText(this, 'ruleId', 'rule ID', i, ruleHint));
		if (ruleId && !UUID.test(ruleId)) throw notAUuid(this, 'ruleId', 'rule ID', ruleId, i, ruleHint);
		const status = textParameter(this, 'status', i);
		if (status && !STATUSES.includes(status)) {
			throw refusedParameter(this, 'status', i, `The status "${status.slice(0, 40)}" is not one of ${STATUSES.join(', ')}`, 'Leave status out for every status.', `one of ${STATUSES.join(', ')}, or nothing for every status`);
		}
		const reason = textParameter(this, 'reason', i);
		if (reason && !/^[a-z_]{1,64}$/.test(reason)) {
			throw refusedParameter(this, 'reason', i, `The reason "${reason.slice(0, 40)}" is not a reason code such as outside_window`, 'Use a key of stats.skipped_by_reason, or leave reason out.', 'a key of stats.skipped_by_reason (e.g. outside_window), or nothing');
		}
		const search = textParameter(this, 'search', i);
		if (search.length > 200) {
			throw refusedParameter(this, 'search', i, `The search must be at most 200 characters (got ${search.length})`, 'Send a shorter search, at most 200 characters: a part of a name or an id finds it.', 'a search of at most 200 characters');
		}
		const args = {
			p_rule_id: ruleId ? ruleId.toLowerCase() : null,
			p_status: status || null,
			p_reason: reason || null,
			p_search: search || null,
			p_offset: wholeNumber(this, 'offset', 'The offset', i, 0, 1_000_000),
			p_limit: wholeNumber(this, 'limit', 'The page size (limit)', i, 1, PAGE_MAX),
			// Only when given: the console's page reads every owner's rules without it.
			...(owner && { p_user_id: owner }),
		};
		const asTool = runsAsTool(this);
		// As a tool, the largest page is read, to count the active contacts left out (the tagged
		// contacts' count is contacts.total), and at most TOOL_RULES_MAX rules, the database counting
		// the rest (rulesLeftOut).
		const page = await callRpc(this, 'automation_monitor_page', asTool ? { ...args, p_limit: PAGE_MAX, p_rules_limit: TOOL_RULES_MAX } : args, i);
		if (!page) {
			// Not found (the workflow answers 404): a rule deleted in another tab, told apart from bad input.
			// With an owner, another owner's rule reads as one that does not exist.
			throw new NotFoundError(this.getNode(), `There is no automation rule with ID ${args.p_rule_id}${owner ? ` for owner ${owner}` : ''}`, {
				itemIndex: i,
				description: owner ? 'Pick one of this owner\'s rules from the answer\'s rules list (ask without ruleId).' : 'Pick a rule from the answer\'s rules list (ask without ruleId).',
			});
		}
		if (!asTool) return [{ output: 0, json: { ...page } as unknown as IDataObject }];
		const rulesLeftOut = page.rulesLeftOut ?? 0;
		const rulesNote = rulesLeftOut > 0 ? `${rulesLeftOut} more rules left out of the rules list (at most ${TOOL_RULES_MAX}): give a rule's ID as ruleId to read that rule` : '';
		const rulesPart = { rules: page.rules, rulesLeftOut };
		if (!page.contacts) {
			return [{ output: 0, json: { ...page, ...rulesPart, ...(rulesNote && { note: `${rulesNote}.` }) } as unknown as IDataObject }];
		}
		const shown = Math.min(args.p_limit, TOOL_PAGE_MAX);
		const rows = page.contacts.rows.slice(0, shown);
		const leftOut = Math.max(0, page.contacts.total - args.p_offset - rows.length);
		const nextOffset = args.p_offset + rows.length;
		const active = page.activeContacts ?? [];
		const activeLeftOut = Math.max(0, active.length - shown);
		const activeAtLeast = active.length === PAGE_MAX;
		const notes = [
			leftOut > 0 ? `${leftOut} more matching contact${leftOut === 1 ? '' : 's'} left out: call Monitor Page again with offset ${nextOffset}` : '',
			activeLeftOut > 0 ? `${activeAtLeast ? 'at least ' : ''}${activeLeftOut} more active contact${activeLeftOut === 1 ? '' : 's'} left out (the stats count them)` : '',
		].filter(Boolean);
		const note = [notes.length > 0 ? `At most ${TOOL_PAGE_MAX} contacts a list in one answer: ${notes.join('; ')}` : '', rulesNote].filter(Boolean).join('. ');
		return [
			{
				output: 0,
				json: {
					...page,
					...rulesPart,
					contacts: { ...page.contacts, limit: shown, rows, left_out: leftOut, next_offset: leftOut > 0 ? nextOffset : null },
					activeContacts: active.slice(0, shown),
					activeContactsLeftOut: activeLeftOut,
					...(note && { note: `${note}.` }),
				} as unknown as IDataObject,
			},
		];
	});
}
