// requeue: the console's Requeue on the Follow-ups tab: a rule's failed contacts (all of them, or
// those of Conversation IDs) due again now, in one automation_requeue call (migration …1500, what
// Tag Eligibility → Requeue calls), answered as one item { ruleId, uncertain, results, counts }: one
// result per contact (requeued, uncertain_left, not_failed, not_found), so a webhook answers a rule
// with nothing failed too ({ results: [], counts: zeros }), where Tag Eligibility gives no item.
// As an AI agent's tool, Conversation IDs must name the contacts (an empty one is refused, never the
// whole rule). Contacts whose send may have arrived (send_uncertain) are requeued only with Uncertain Sends
// `requeue` (the owner checked the Page inbox); an unknown rule fails the item not_found (404), and so
// does, with Owner ID, a rule of another owner (the database checks it). As an AI agent's tool Owner
// ID must be given (tool-owner.ts): before 6 December 2026 a tool requeued any owner's contacts.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { RequeueArgs, RequeueResult } from '../../shared/contract';
import { runsAsTool } from '../../shared/outputs';
import { fieldAsKnown, filledByModel, fromAIExpression, fromAICallType, fromAIKey } from '../../shared/tool-text';
import { FieldRefusedError, perItem } from '../../shared/per-item';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';
import { OPERATION_NAMES } from './operation-names';
import { optionalUuid, textParameter } from './rule-input';
import { readConsoleOwner, SCOPING_OWNER_DESCRIPTION } from './tool-owner';

const OUTCOMES = ['requeued', 'uncertain_left', 'not_failed', 'not_found'] as const;

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The follow-up rule whose failed contacts are requeued (the ID column of ai_automation_rules)',
	},
	{
		displayName: 'Conversation IDs',
		name: 'conversationIds',
		type: 'json',
		default: '={{ $json.body?.conversationIds ?? null }}',
		description: 'A list of the contacts to requeue (their conversation_id, 1 to 1,000); empty (null) for every failed contact of the rule',
	},
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '',
		description: SCOPING_OWNER_DESCRIPTION,
	},
	{
		displayName: 'Uncertain Sends',
		name: 'uncertain',
		type: 'string',
		default: '={{ $json.body?.uncertain ?? \'leave\' }}',
		description:
			'Leave (the default): contacts whose last send may have reached them (send_uncertain) stay failed, so nobody gets the same follow-up twice; requeue: you checked the Page inbox and it did not arrive, so they are sent again',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['requeue'] } }, properties);

/**
 * As an AI agent's tool, what to do about Conversation IDs, for whoever fills it (docs/nodes.md, As an
 * AI agent's tool): the model, by its $fromAI key, is told to give the list (`toModel`), never to
 * leave it out (the tool refuses an empty one); set in the tool's settings (no $fromAI, e.g. its
 * `{{ $json.body… }}` default, which finds no body in a tool's item), the workflow's builder. The
 * $fromAI type decides, as toolFieldMender's rule (nodes/shared/tool-text.ts), but for a list: typed
 * 'json' (a list) or 'string' (a list's JSON text, parsed), or not typed, the model can give one;
 * typed 'number' or 'boolean' it never can, so the builder is told to type it 'json' (review RMMM1
 * F2: the model was told to give a list, and tried again and again). toolFieldMender itself does not
 * fit: it wants text, so it sends a 'json' call to the builder.
 */
function toolIdsAdvice(context: IExecuteFunctions, toModel: (key: string) => string): string {
	if (filledByModel(context, 'conversationIds')) {
		const key = fromAIKey(context, 'conversationIds') ?? 'conversationIds';
		// The call's type wrapped or not (review RM4 F2: `… 'number') || null` or `[$fromAI(…, 'number')]`
		// still asks the model for a number, never a list).
		const type = fromAICallType(context, 'conversationIds');
		if (type === 'number' || type === 'boolean') {
			return `Conversation IDs (conversationIds) in this tool's settings asks the model for ${type === 'number' ? 'a number' : 'true or false'}, never a list, so no contact can be given this way: the workflow's builder must change it to {{ $fromAI('${key}', 'the conversation_id of each failed contact to requeue, as a list', 'json') }}. Tell the user this tool needs that change; this tool requeues no one until then.`;
		}
		return toModel(key);
	}
	return `Conversation IDs (conversationIds) is set in this tool's settings, not given by the model: let the model give the contacts with {{ $fromAI('conversationIds', 'the conversation_id of each failed contact to requeue, as a list', 'json') }}, or set it there to a list of 1 to ${DATA_API_MAX_ROWS} conversation IDs.`;
}

/** The contacts asked for: null for every failed contact of the rule; else 1 to 1,000 UUIDs, lower case, each once. */
function conversationIds(context: IExecuteFunctions, i: number): string[] | null {
	const asTool = runsAsTool(context);
	let value = context.getNodeParameter('conversationIds', i, null) as unknown;
	if (typeof value === 'string') {
		const text = value.trim();
		if (text === '' || text === 'null') return null;
		try {
			value = JSON.parse(text);
		} catch {
			value = text;
		}
	}
	if (value === null || value === undefined) {
		// A model that names no contact must not requeue a whole rule: as a tool, only named contacts.
		if (asTool) {
			const wholeRule = 'To requeue every failed contact of a rule, use the console\'s Requeue failed button or Tag Eligibility\'s Requeue with Every Failed Contact of the Rule turned on.';
			throw new FieldRefusedError(
				context.getNode(),
				`Conversation IDs is empty: as an AI agent's tool, ${OPERATION_NAMES.requeue} requeues the contacts it names`,
				{
					itemIndex: i,
					description: `${toolIdsAdvice(context, (key) => `Give the conversation_id of each failed contact to requeue, as a list in ${key} (Monitor Page lists them with their stage).`)} ${wholeRule}`,
				},
				'conversationIds',
			);
		}
		return null;
	}
	// A request (the console's webhook, a workflow) may leave the list out for the whole rule; a tool
	// may not (refused above), so as a tool the advice never says so, and names the field as whoever
	// fills it knows it (review RMM1 F2: the model was told to "leave it out" and never given its key).
	const hint = asTool
		? toolIdsAdvice(context, (key) => `Give ${key} as a list of 1 to ${DATA_API_MAX_ROWS} failed contacts' conversation_id (Monitor Page lists them), e.g. ["5f1d2c3b-…"].`)
		: 'Send conversationIds as a list of the contacts\' conversation_id (from the monitor\'s rows), e.g. ["5f1d2c3b-…"], or leave it out for every failed contact of the rule.';
	const tooMany = asTool
		? toolIdsAdvice(context, (key) => `Give at most ${DATA_API_MAX_ROWS} in ${key} a call, and call the tool again for the rest.`)
		: `Send at most ${DATA_API_MAX_ROWS} a call, or leave conversationIds out for every failed contact of the rule.`;
	const name = asTool ? fieldAsKnown(context, 'conversationIds', 'conversationIds') : 'conversationIds';
	// Each refusal names the parameter (field: conversationIds), as ruleId's does, so the failed item
	// and the console's webhook answer say which value to mend (review RM1 F2: these three had none).
	const refused = (message: string, description: string) => new FieldRefusedError(context.getNode(), message, { itemIndex: i, description }, 'conversationIds');
	if (!Array.isArray(value)) throw refused(`${name} must be a list of conversation IDs`, hint);
	if (value.length < 1 || value.length > DATA_API_MAX_ROWS) {
		throw refused(`${name} must hold 1 to ${DATA_API_MAX_ROWS} conversation IDs (got ${value.length})`, value.length === 0 ? hint : tooMany);
	}
	const ids = value.map((id: unknown, n) => {
		if (typeof id !== 'string' || !UUID.test(id.trim())) {
			const shown = typeof id === 'string' ? id.slice(0, 60) : JSON.stringify(id)?.slice(0, 60);
			throw refused(`${name}[${n}] "${shown}" is not a conversation ID (a UUID)`, hint);
		}
		return id.trim().toLowerCase();
	});
	return [...new Set(ids)];
}

/**
 * The refusal of an empty Rule ID, naming its field (ruleId), as its not-a-UUID refusal does. The
 * advice: a request sends it in its body; as an AI agent's tool, the model by its $fromAI key, or the
 * workflow's builder when the field is set in the tool's settings.
 */
function noRuleId(context: IExecuteFunctions, i: number): FieldRefusedError {
	const what = 'the id of the rule whose failed contacts are requeued';
	let description = `Send { "ruleId": "…" }: ${what}.`;
	if (runsAsTool(context)) {
		description = filledByModel(context, 'ruleId')
			? `Give ${fromAIKey(context, 'ruleId') ?? 'ruleId'} as ${what}: one UUID as ${OPERATION_NAMES.rules} shows it (its id). If you have no such id, list the rules first or ask for it.`
			: `Rule ID (ruleId) is set in this tool's settings, not given by the model, and is empty: set it there to ${what}, or let the model give it with ${fromAIExpression('ruleId', what, 'string')}.`;
	}
	return new FieldRefusedError(context.getNode(), 'The rule ID is missing', { itemIndex: i, description }, 'ruleId');
}

function uncertainChoice(context: IExecuteFunctions, i: number): RequeueArgs['p_uncertain'] {
	const value = textParameter(context, 'uncertain', i) || 'leave';
	if (value === 'leave' || value === 'requeue') return value;
	throw new NodeOperationError(context.getNode(), `uncertain must be leave or requeue (got "${value.slice(0, 40)}")`, {
		itemIndex: i,
		description: 'leave (the default): contacts whose send may have reached them stay failed; requeue: you checked in the Page inbox that they were not delivered.',
	});
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const owner = readConsoleOwner(this, i, { purpose: 'whose failed contacts to requeue', without: 'requeues nothing' });
		const ruleId = optionalUuid(this, 'ruleId', 'rule ID', i, 'Use the id of a rule from the monitor\'s rules list.');
		if (!ruleId) throw noRuleId(this, i);
		const uncertain = uncertainChoice(this, i);
		// Owner only when given: a workflow without one requeues any owner's rule, as before.
		const args = { p_rule_id: ruleId, p_conversation_ids: conversationIds(this, i), p_uncertain: uncertain, ...(owner && { p_user_id: owner }) };
		// One JSON array (never cut by the Data API's max rows); an unknown rule is P0002: not_found.
		const results: RequeueResult[] = await callRpc(this, 'automation_requeue', args, i);
		const counts = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, results.filter((row) => row.outcome === outcome).length]));
		return [{ output: 0, json: { ruleId, uncertain, results, counts } as unknown as IDataObject }];
	});
}
