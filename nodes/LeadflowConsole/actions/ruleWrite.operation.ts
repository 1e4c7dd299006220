// ruleWrite: create or change a follow-up rule from its settings (console_rule_write), or preview
// them. The table's own checks judge the settings; a refusal is the item { saved: false, error:
// { field, message, hint, advice } } (the column it concerns; advice: plain words, rule-refusal.ts),
// nothing written. The preview (Save off) answers what the claim's judgement would make of the
// settings (explain) and writes nothing. A new rule's save carries its form's key (Create Key, the
// Idempotency-Key header): the same create delivered again (a double click, a retry, a proxy)
// answers the rule the first made, { saved: true, repeat: true, rule }, and writes nothing; with a
// setting changed it is refused naming it, with the rule (repeat: true) to change by its ID.
// Owner ID, given with a Rule ID, changes only a rule of that owner (another owner's is not_found, as
// an unknown one: the database checks it); as an AI agent's tool it must be given (tool-owner.ts):
// before 6 December 2026 a tool changed any owner's rule whose ID the model gave.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { RuleSettings } from '../../shared/contract/console';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid, settingsObject } from './rule-input';
import { runsAsTool } from '../../shared/outputs';
import { toolFieldMender } from '../../shared/tool-text';
import { withAdvice } from './rule-refusal';
import { readConsoleOwner } from './tool-owner';

/**
 * As an AI agent's tool, the advice for a Create Key that is not a UUID: a key names one new rule
 * (the same key again answers the rule it first created), so never one fixed UUID in the tool's
 * settings, and never an id a listing shows.
 */
function createKeyToolHint(context: IExecuteFunctions, i: number): string | undefined {
	if (!runsAsTool(context)) return undefined;
	const mender = toolFieldMender(context, 'createKey', context.getNodeParameter('createKey', i, '') as unknown);
	if (mender.by === 'model') {
		return `Give ${mender.key ?? 'createKey'} as a new random UUID for this new rule (the same only when retrying this rule's save), or leave it out: it is not an id from a listing, nor a name.`;
	}
	return "Create Key (createKey) in this tool's settings is not a UUID: leave it empty (each save creates a rule), or let the model give one per new rule with {{ $fromAI('createKey', 'a new random UUID for this new rule, the same when retrying its save', 'string') }}. Not one fixed UUID: the same key answers the rule it first created, so the tool would create no other rule.";
}

const properties: INodeProperties[] = [
	{
		displayName: 'Rule ID',
		name: 'ruleId',
		type: 'string',
		default: '={{ $json.body?.ruleId ?? \'\' }}',
		description: 'The rule to change; empty for a new rule',
	},
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.body?.userId ?? \'\' }}',
		description:
			'The owner of a new rule (the user ID of their tags); with a Rule ID, only a rule of this owner is changed (another owner\'s is not found). Empty with a Rule ID: any owner\'s rule, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Settings',
		name: 'settings',
		type: 'json',
		default: '={{ $json.body?.settings ?? {} }}',
		description: 'A JSON object of the rule\'s columns to set (name, include_tag_ids, daily_limit, …); those left out keep their value',
	},
	{
		displayName: 'Create Key',
		name: 'createKey',
		type: 'string',
		default: '={{ $json.headers?.["idempotency-key"] ?? "" }}',
		description:
			'For a new rule (no Rule ID): a UUID naming this create, the same for every save of one new-rule form (the console sends it as the Idempotency-Key header). The same key and owner again answers the rule the first save created and writes nothing; with a setting changed it is refused naming the setting. Empty: every save creates a rule. Ignored when Rule ID is set or Save is off.',
	},
	{
		displayName: 'Save',
		name: 'save',
		type: 'boolean',
		default: true,
		description: 'Whether to save the rule; off: only preview what the settings would judge due, nothing written',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['ruleWrite'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const ruleId = optionalUuid(this, 'ruleId', 'rule ID', i);
		const save = this.getNodeParameter('save', i, true) as boolean;
		// Read only for a create: a change by Rule ID and a preview ignore the key, so a client that
		// sends its own Idempotency-Key (a ULID, "req_…") with every POST is not refused for them.
		const createKey =
			ruleId === null && save
				? optionalUuid(this, 'createKey', 'create key (Idempotency-Key header)', i, 'Send one random UUID per new-rule form (crypto.randomUUID()), the same for every save of that form, or no key.', createKeyToolHint(this, i))
				: null;
		const args = {
			p_rule_id: ruleId,
			p_user_id: readConsoleOwner(this, i, { purpose: 'whose rule to create or change', without: 'writes no rule' }),
			p_settings: settingsObject(this, 'settings', i) as RuleSettings,
			p_save: save,
			// Only when set: without it the call is the one a database before migration …1410 knows.
			...(createKey !== null && { p_create_key: createKey }),
		};
		const result = await callRpc(this, 'console_rule_write', args, i);
		return [{ output: 0, json: { ...withAdvice(result) } as unknown as IDataObject }];
	});
}
