// requeue: a rule's failed contacts due again now, on the owner's word (automation_requeue, migration
// …1500): every failed contact of the rule, or the contact each item names. A contact whose send may
// have been delivered (send_uncertain) is requeued only when Uncertain Sends says it was checked.
// Items asking the same rule the same way share one call (1,000 contacts a call at most); the
// database answers one JSON array, so nothing is cut by the Data API's max rows. As an AI agent's
// tool an empty Contact (what $fromAI gives when the model names none) is refused unless Every
// Failed Contact of the Rule is on: a model leaving the contact out must not requeue the whole rule.
// With Owner User ID, only a rule of that owner (another owner's: not found, as an unknown rule; the
// database checks it); as a tool it must be given (common.ts, readScopingOwner).
import {
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type IPairedItemData,
} from 'n8n-workflow';
import type { RequeueArgs } from '../../shared/contract';
import { runsAsTool } from '../../shared/outputs';
import { asNodeError, failedItem, FieldRefusedError } from '../../shared/per-item';
import { parameterText } from '../../shared/resource-locator';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { UUID } from '../../shared/valid-input';
import { contactProperty, OWNER_PROPERTY, readRuleId, readScopingOwner, ruleIdProperty } from './common';

const properties: INodeProperties[] = [
	ruleIdProperty(true),
	contactProperty(
		false,
		'The failed contact to requeue (its conversation_id, as Explain or the monitor shows it); leave empty for every failed contact of the rule',
	),
	OWNER_PROPERTY,
	{
		displayName: 'Every Failed Contact of the Rule',
		name: 'everyFailedContact',
		type: 'boolean',
		default: false,
		description:
			'Whether an empty Contact requeues every failed contact of the rule when the node is an AI agent\'s tool; off, the tool refuses an empty Contact (a model that names no contact must not requeue them all). In a workflow an empty Contact always means every failed contact.',
	},
	{
		displayName: 'Uncertain Sends',
		name: 'uncertain',
		type: 'options',
		default: 'leave',
		description: 'What to do with contacts whose last send may have reached them (send_uncertain: the sender stopped mid-send, or Facebook gave no usable answer)',
		options: [
			{ name: 'Leave Them', value: 'leave', description: 'They stay failed, so nobody gets the same follow-up twice' },
			{
				name: 'Requeue Them (Checked Not Delivered)',
				value: 'requeue',
				description: 'You checked the Page inbox: the message did not arrive. Their duplicate guard is released and the same follow-up is sent again.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['requeue'] } }, properties);

interface RequeueGroup {
	ruleId: string;
	owner: string | null;
	uncertain: RequeueArgs['p_uncertain'];
	/** Every failed contact of the rule (one call), or the contacts in askedBy. */
	wholeRule: boolean;
	/** The items asking for each contact (empty for a whole-rule call). */
	askedBy: Map<string, number[]>;
	itemIndexes: number[];
}

/** What a model can do about a Contact the tool refused: name one contact. */
const NAME_A_CONTACT = 'Give the conversation_id of the failed contact to requeue: a UUID (Explain lists each contact with its conversation_id and reason).';

function readContact(context: IExecuteFunctions, itemIndex: number): string | null {
	const raw = parameterText(context.getNodeParameter('conversationId', itemIndex, '', { extractValue: true }) as unknown);
	if (raw === '') {
		const everyFailed = context.getNodeParameter('everyFailedContact', itemIndex, false) as unknown;
		if (runsAsTool(context) && everyFailed !== true && everyFailed !== 'true') {
			throw new FieldRefusedError(context.getNode(), 'Contact is empty: as an AI agent\'s tool, Requeue requeues one named contact', { itemIndex, description: NAME_A_CONTACT }, 'conversationId');
		}
		return null;
	}
	if (!UUID.test(raw)) {
		// Its failed item names the parameter (field: conversationId), as readRuleId's and readUuid's do.
		throw new FieldRefusedError(
			context.getNode(),
			`The conversation ID "${raw}" is not a UUID`,
			{
				itemIndex,
				// As a tool, not "leave the field empty": the tool refuses an empty Contact, or with Every
				// Failed Contact of the Rule on would requeue the whole rule for a model's mistyped contact.
				description: runsAsTool(context)
					? NAME_A_CONTACT
					: 'Use the contact\'s conversation_id (from Explain, the monitor or a claim), or leave the field empty for every failed contact of the rule.',
			},
			'conversationId',
		);
	}
	return raw.toLowerCase();
}

function readUncertain(context: IExecuteFunctions, itemIndex: number): RequeueArgs['p_uncertain'] {
	const value = context.getNodeParameter('uncertain', itemIndex, 'leave') as unknown;
	if (value === 'leave' || value === 'requeue') return value;
	throw new FieldRefusedError(
		context.getNode(),
		`Uncertain Sends must be leave or requeue (got ${JSON.stringify(value)})`,
		{ itemIndex, description: 'leave: contacts whose send may have reached them stay failed; requeue: you checked they were not delivered.' },
		'uncertain',
	);
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	const groups = new Map<string, RequeueGroup>();
	for (let i = 0; i < items.length; i++) {
		try {
			const ruleId = readRuleId(this, i, true);
			const uncertain = readUncertain(this, i);
			const contact = readContact(this, i);
			const owner = readScopingOwner(this, i, 'Requeue', 'whose failed contacts to requeue', 'requeues nothing');
			// A whole-rule call answers every failed contact: one per rule, owner and choice, whatever else asks.
			const key = contact === null ? `${ruleId}|${owner ?? ''}|${uncertain}|all` : `${ruleId}|${owner ?? ''}|${uncertain}`;
			const group: RequeueGroup = groups.get(key) ?? { ruleId, owner, uncertain, wholeRule: contact === null, askedBy: new Map<string, number[]>(), itemIndexes: [] };
			group.itemIndexes.push(i);
			if (contact !== null) group.askedBy.set(contact, [...(group.askedBy.get(contact) ?? []), i]);
			groups.set(key, group);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, i);
			output.push(failedItem(this, error, { item: i }));
		}
	}
	for (const group of groups.values()) {
		const contacts = [...group.askedBy.keys()];
		// A whole-rule call once; contacts by 1,000 (the function's bound).
		const calls = group.wholeRule ? [null] : Array.from({ length: Math.ceil(contacts.length / DATA_API_MAX_ROWS) }, (_, n) => contacts.slice(n * DATA_API_MAX_ROWS, (n + 1) * DATA_API_MAX_ROWS));
		for (const ids of calls) {
			const asking = ids === null ? group.itemIndexes : ids.flatMap((id) => group.askedBy.get(id) ?? []);
			try {
				const answer = await callRpc(
					this,
					'automation_requeue',
					{ p_rule_id: group.ruleId, p_conversation_ids: ids, p_uncertain: group.uncertain, ...(group.owner && { p_user_id: group.owner }) },
					asking[0],
				);
				for (const row of answer) {
					const by = ids === null ? group.itemIndexes : (group.askedBy.get(row.conversation_id) ?? asking);
					const pairedItem: IPairedItemData[] = by.map((item) => ({ item }));
					output.push({ json: { rule_id: group.ruleId, ...row } as IDataObject, pairedItem });
				}
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error, asking[0]);
				output.push(failedItem(this, error, asking.map((item) => ({ item }))));
			}
		}
	}
	return [output];
}
