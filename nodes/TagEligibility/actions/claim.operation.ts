// claim: atomically take up to N due contacts for one rule (or every enabled rule), of one Page or
// of every Page, in one round trip per distinct set of parameters; one output item per claimed
// contact, and on the Summary output one item per call saying which Page it kept to and why
// nothing, or fewer than asked, was claimed (docs/follow-up.md). Not as an AI agent's tool: a claim
// holds its contacts for a workflow's Generate and Send; an agent asking who is due uses Explain.
import { randomBytes } from 'node:crypto';
import { NodeApiError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { type ClaimExplainedArgs } from '../../shared/contract';
import { refuseAsTool } from '../../shared/outputs';
import { asNodeError, failedItem, FieldRefusedError, SettingRefusedError } from '../../shared/per-item';
import { APPLY_MIGRATIONS, callRpc } from '../../shared/supabase';
import { MESSENGER_ID, readWholeNumber } from '../../shared/valid-input';
import { contactsWithRules } from '../helpers/claimed';
import { readRuleId, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(false),
	{
		displayName: 'Page ID',
		name: 'pageId',
		type: 'string',
		default: '',
		placeholder: 'e.g. 104857392019283',
		description:
			'Claim only the contacts of this Facebook Page (its numeric ID), for the rules of this Page or of every Page. Set it to the Page ID of the Facebook credential that sends when the owner has several Pages: a contact of another Page would fail at Facebook Send (page_mismatch) for good. Several Pages: one copy of the workflow per Page credential, each with its Page ID here. Empty: every Page, refused (nothing claimed) when the enabled rules it goes through send as more than one Page.',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 10000 },
		default: 50,
		description: 'Max number of results to return',
	},
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 5, maxValue: 86400 },
		default: 600,
		description: 'How long this execution holds the claimed contacts before another run may take them back',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['claim'] } }, properties);

interface ClaimGroup {
	args: ClaimExplainedArgs;
	itemIndexes: number[];
}

/** The Page ID of item i: its digits, or null (empty: every Page). */
function readPageId(context: IExecuteFunctions, itemIndex: number): string | null {
	const value = context.getNodeParameter('pageId', itemIndex, '') as unknown;
	const raw = typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '';
	if (raw === '') return null;
	if (!MESSENGER_ID.test(raw)) {
		// Not echoed: a token pasted here by mistake must not end up in the execution's error. A setting
		// of the node (tag-monitor-send leaves it empty), not the request's: its failed item names it.
		throw new SettingRefusedError(
			context.getNode(),
			'The Page ID is not a Facebook Page ID: it must be 1 to 32 digits',
			{ itemIndex, description: 'Use the numeric ID of the Page (1 to 32 digits), as in the Facebook credential that sends, or leave the field empty for every Page.' },
			{ displayName: 'Page ID', parameter: 'pageId' },
		);
	}
	return raw;
}

/** What the database's refusal of a rule of another Page carries for machines (its DETAIL, migration …2260). */
interface OtherPageMark {
	field?: unknown;
	reason?: unknown;
	rule_page_id?: unknown;
}

/** The DETAIL of a refusal as the object it holds, or null when it holds none. */
function markOf(details: unknown): OtherPageMark | null {
	if (typeof details !== 'string' || !details.startsWith('{')) return null;
	try {
		const mark = JSON.parse(details) as unknown;
		return mark !== null && typeof mark === 'object' && !Array.isArray(mark) ? (mark as OtherPageMark) : null;
	} catch {
		return null;
	}
}

/**
 * The database's refusal of a rule that sends as another Page than the Page ID (automation_claim_explained,
 * 22023 with the DETAIL {"field": "p_rule_id", "reason": "rule_of_another_page", "rule_page_id": …}:
 * recognised by that mark; a database before …2260 has none and is recognised by its words, as
 * before, its description adding to apply the migrations), in the node's words: it names the Rule and
 * the Page ID, not the function's argument. It is the rule asked for that is wrong here, not the Page
 * ID: a Claim's Page ID stays its own Facebook credential's Page (one copy of the follow-up workflow
 * per Page credential; a Page ID set to another Page would claim contacts Facebook Send then fails
 * for good, page_mismatch). So the refusal is the item's Rule (invalid_input, `field` ruleId, no
 * `setting`), and `tag-monitor-send.json`'s Trigger Now answers it 400 naming ruleId, with where to
 * send the rule instead. Any other error as it is.
 */
function pageRefused(context: IExecuteFunctions, error: unknown, args: ClaimExplainedArgs, itemIndex: number): unknown {
	if (!(error instanceof NodeApiError) || args.p_page_id === undefined || args.p_page_id === null || !args.p_rule_id) return error;
	const { code, details, message } = (error.errorResponse ?? {}) as { code?: unknown; details?: unknown; message?: unknown };
	if (code !== '22023') return error;
	const mark = markOf(details);
	let rulePage: string | undefined;
	let olderDatabase = false;
	if (mark) {
		if (mark.field !== 'p_rule_id' || mark.reason !== 'rule_of_another_page' || typeof mark.rule_page_id !== 'string' || !MESSENGER_ID.test(mark.rule_page_id)) return error;
		rulePage = mark.rule_page_id;
	} else if ((details === undefined || details === null || details === '') && typeof message === 'string') {
		// A database before migration …2260 refuses it without the mark, in these words only (as in
		// …1870): recognised by them, as before, so the caller still gets the rule's refusal (a 400
		// naming ruleId on Trigger Now), and told that the database is older than the package.
		rulePage = /^automation rule \S+ sends as Page (\d{1,32}), not as p_page_id \S+$/.exec(message)?.[1];
		olderDatabase = rulePage !== undefined;
	}
	if (!rulePage) return error;
	return new FieldRefusedError(
		context.getNode(),
		`The rule ${args.p_rule_id} sends as Page ${rulePage}, not as Page ${args.p_page_id} (this Claim's Page ID)`,
		{
			itemIndex,
			description:
				`Claim it where the Page ID is ${rulePage}: in the copy of the workflow whose Facebook credential is that Page's (a Claim's Page ID stays its own credential's Page). Here, claim a rule that sends as Page ${args.p_page_id} or as every Page.` +
				(olderDatabase ? ` This Supabase project's migrations are also older than the Leadflow package: ${APPLY_MIGRATIONS}.` : ''),
		},
		'ruleId',
		// Marked, so tag-monitor-send.json answers with this description whether the rule came from the
		// request or was picked in the node (it cannot tell from the request).
		'rule_of_another_page',
	);
}

/**
 * The database's refusal of a claim with no Page ID while the rules it goes through send as more than
 * one Page (automation_claim_explained, 22023 with the DETAIL {"field": "p_page_id", "reason":
 * "several_pages", "page_ids": […], "page_count": n}, migration …2820), in the node's words: a setting
 * of this node (Page ID), not the request's, so tag-monitor-send.json's Trigger Now answers it 500
 * ("fix it in the workflow") and its schedule fails the run naming Page ID. Nothing was claimed.
 */
function severalPagesRefused(context: IExecuteFunctions, error: unknown, args: ClaimExplainedArgs, itemIndex: number): unknown {
	if (!(error instanceof NodeApiError) || (args.p_page_id !== undefined && args.p_page_id !== null)) return error;
	const { code, details } = (error.errorResponse ?? {}) as { code?: unknown; details?: unknown };
	if (code !== '22023') return error;
	const mark = markOf(details) as { field?: unknown; reason?: unknown; page_ids?: unknown; page_count?: unknown } | null;
	if (!mark || mark.field !== 'p_page_id' || mark.reason !== 'several_pages') return error;
	const pages = Array.isArray(mark.page_ids) ? mark.page_ids.filter((page): page is string => typeof page === 'string' && MESSENGER_ID.test(page)) : [];
	const count = typeof mark.page_count === 'number' && Number.isInteger(mark.page_count) ? mark.page_count : pages.length;
	const node = context.getNode().name;
	return new SettingRefusedError(
		context.getNode(),
		`Page ID is empty, but the rules this Claim goes through send as ${count} Pages (${pages.join(', ')}${count > pages.length ? ', …' : ''}): nothing was claimed`,
		{
			itemIndex,
			description:
				`One copy of the workflow sends as the one Page of its Facebook credential: the other Pages' contacts would be claimed, their messages generated, and then failed for good at Facebook Send (page_mismatch). ` +
				`Set the Page ID of ${node} to the Page ID of this workflow's Facebook credential, and import one copy of the workflow per Page credential, each with its own Page ID (README, Using it, step 4).`,
		},
		{ displayName: 'Page ID', parameter: 'pageId' },
	);
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// A claim holds each contact for this run's Generate and Send until its lease ends, and counts it
	// against the rule's daily limit: an agent sends nothing, so the contacts would wait unsent, kept
	// from the follow-up workflow (and with no rule chosen, every owner's rules).
	refuseAsTool(
		this,
		'Claim',
		'Claim holds the contacts it takes (for Lease (Seconds), 600 by default) for a follow-up workflow to generate and send, and counts them against the rule\'s daily limit; an agent sends nothing, so they would wait unsent. To see which contacts are due and why the others are not, use Explain (it claims nothing); to read the rule\'s monitor, use Snapshot.',
	);
	const items = this.getInputData();
	// The claim's holder, which every later step passes back. Unique beyond this n8n: execution ids
	// are unique within one n8n database only, and two n8n instances (each its own database) may
	// claim from one Supabase; a run without an id (some manual runs) would otherwise share one.
	const executionId = `n8n-${this.getExecutionId() ?? 'manual'}-${randomBytes(6).toString('hex')}`;
	const groups = new Map<string, ClaimGroup>();
	const output: INodeExecutionData[] = [];
	const summaries: INodeExecutionData[] = [];
	for (let i = 0; i < items.length; i++) {
		try {
			const ruleId = readRuleId(this, i, false);
			// 1 to 10,000 (an expression escapes the editor's bounds); empty (an agent's $fromAI left blank): 50.
			const limit = readWholeNumber(this, 'limit', i, { label: 'Limit', min: 1, max: 10_000, fallback: 50, hint: 'Give how many due contacts to claim at most, or leave it empty for 50.', setting: true });
			// 5 to 86,400 like Limit: an expression escapes the editor's bounds, and the database's refusal
			// would name p_lease_seconds (which a webhook's answer would pin on its request).
			const leaseSeconds = readWholeNumber(this, 'leaseSeconds', i, {
				label: 'Lease (Seconds)',
				min: 5,
				max: 86_400,
				fallback: 600,
				hint: 'Give how long this run holds the claimed contacts, in seconds (5 to 86,400), or leave it empty for 600.',
				setting: true,
			});
			const pageId = readPageId(this, i);
			const key = `${ruleId}|${limit}|${leaseSeconds}|${pageId}`;
			const group = groups.get(key) ?? {
				args: {
					p_rule_id: ruleId,
					p_limit: limit,
					p_execution_id: executionId,
					p_lease_seconds: leaseSeconds,
					// Only when set: without it the call is the one databases before migration …1110 know.
					...(pageId !== null && { p_page_id: pageId }),
				},
				itemIndexes: [],
			};
			group.itemIndexes.push(i);
			groups.set(key, group);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error);
			output.push(failedItem(this, error, { item: i }));
		}
	}
	// Items asking for the same claim share one call: claiming once per item would take N × limit.
	for (const group of groups.values()) {
		const pairedItem = group.itemIndexes.map((item) => ({ item }));
		try {
			const answer = await callRpc(this, 'automation_claim_explained', group.args, group.itemIndexes[0]);
			for (const contact of contactsWithRules(this, answer)) output.push({ json: contact as unknown as IDataObject, pairedItem });
			summaries.push({ json: { ...answer.summary } as unknown as IDataObject, pairedItem });
		} catch (caught) {
			const error = severalPagesRefused(this, pageRefused(this, caught, group.args, group.itemIndexes[0]), group.args, group.itemIndexes[0]);
			if (!this.continueOnFail()) throw asNodeError(this, error);
			output.push(failedItem(this, error, pairedItem));
		}
	}
	return [output, summaries];
}
