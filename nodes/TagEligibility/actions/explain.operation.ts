// explain: the claim's judgement without claiming: every tagged contact with its reason. No contacts
// for a rule named: one read says whether the rule exists (not_found, as Snapshot, when it does not).
// As an AI agent's tool an answer holds at most TOOL_EXPLAIN_MAX contacts (about 16,000 characters),
// and a last item says how many were left out and the Offset that reads on. With Owner User ID, only
// that owner's rules are judged (with no rule, that owner's enabled rules; another owner's rule is
// the rule that does not exist; the database checks it, migration …2672); as an AI agent's tool it
// must be given (common.ts, readScopingOwner): before 6 December 2026 a tool with no rule judged
// every owner's rules.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { readWholeNumber } from '../../shared/valid-input';
import { findRule, noSuchRule } from '../transport/rules';
import { OWNER_PROPERTY, readRuleId, readScopingOwner, ruleIdProperty } from './common';

/** The most contacts one answer holds as an AI agent's tool: about 640 characters each, so about 16,000 in all. */
export const TOOL_EXPLAIN_MAX = 25;

const properties: INodeProperties[] = [
	ruleIdProperty(false),
	OWNER_PROPERTY,
	{
		displayName: 'Only Due Contacts',
		name: 'onlyDue',
		type: 'boolean',
		default: false,
		description: 'Whether to return only the contacts a claim would take now (the limit then counts those). Due contacts come first either way.',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: DATA_API_MAX_ROWS },
		default: 50,
		description: 'Max number of results to return',
	},
	{
		displayName: 'Offset',
		name: 'offset',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: DATA_API_MAX_ROWS - 1 },
		default: 0,
		description: `How many contacts (due first) to pass over, to read the list a page at a time with Limit; the first ${DATA_API_MAX_ROWS} contacts can be read so (the Data API's rows per call). As an AI agent's tool an answer holds at most ${TOOL_EXPLAIN_MAX} contacts (a larger Limit is ${TOOL_EXPLAIN_MAX}) and says how many were left out and the Offset to read on.`,
	},
];

export const description = updateDisplayOptions({ show: { operation: ['explain'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		// The database filters (p_only_due), so the limit counts due contacts: filtered here, a limit
		// filled by contacts not due left nothing while other contacts were due.
		const args = {
			p_rule_id: readRuleId(this, i, false),
			// The Limit, 1 to 1,000 (an expression escapes the editor's bounds); empty: 50, its default.
			p_limit: readWholeNumber(this, 'limit', i, {
				label: 'Limit',
				min: 1,
				max: DATA_API_MAX_ROWS,
				fallback: 50,
				hint: 'Explain answers one row per contact and the Data API answers up to 1,000 rows a call: ask for at most 1,000 (the contacts due come first).',
				setting: true,
			}),
			p_only_due: this.getNodeParameter('onlyDue', i) as boolean,
		};
		const offset = readWholeNumber(this, 'offset', i, {
			label: 'Offset',
			min: 0,
			max: DATA_API_MAX_ROWS - 1,
			fallback: 0,
			hint: `Give how many contacts to pass over, 0 to ${DATA_API_MAX_ROWS - 1} (the next page's offset is this one plus the contacts read), or leave it empty for 0.`,
			setting: true,
		});
		const owner = readScopingOwner(this, i, 'Explain', 'whose rules to judge', 'explains nothing');
		const asTool = runsAsTool(this);
		// As a tool, every contact up to the Data API's 1,000 is read, to count those left out of the answer.
		const shown = asTool ? Math.min(args.p_limit, TOOL_EXPLAIN_MAX) : args.p_limit;
		const rows = await callRpc(
			this,
			'automation_explain',
			{ ...args, p_limit: asTool ? DATA_API_MAX_ROWS : Math.min(offset + args.p_limit, DATA_API_MAX_ROWS), ...(owner && { p_user_id: owner }) },
			i,
		);
		if (rows.length === 0 && args.p_rule_id && !(await findRule(this, args.p_rule_id, i, undefined, owner)).exists) throw noSuchRule(this, args.p_rule_id, i);
		const page = rows.slice(offset, offset + shown);
		const leftOut = Math.max(0, rows.length - offset - page.length);
		if (!asTool || leftOut === 0) return rowsTo(0, page);
		const atLeast = rows.length === DATA_API_MAX_ROWS;
		const nextOffset = offset + page.length;
		return [
			...rowsTo(0, page),
			{
				output: 0,
				json: {
					left_out: leftOut,
					left_out_is_at_least: atLeast,
					next_offset: nextOffset,
					note: `${atLeast ? 'At least ' : ''}${leftOut} more contact${leftOut === 1 ? '' : 's'} left out of this answer (at most ${TOOL_EXPLAIN_MAX} a call): call Explain again with Offset ${nextOffset}${atLeast ? `; only the first ${DATA_API_MAX_ROWS} can be read so, Only Due Contacts or a rule narrows the list` : ''}.`,
				},
			},
		];
	});
}
