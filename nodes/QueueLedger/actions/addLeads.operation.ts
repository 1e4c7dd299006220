// addLeads: new leads for the queue, in one database call per batch of at most 1,000 (queue_add_leads,
// which creates each lead once: a phone, conversation or campaign session already known returns the
// existing lead). From the input items (each checked first: every problem with its field, phones to
// E.164; refused items go to Invalid, or stop the node), or from the CRM (the conversations carrying
// a tag, the sessions of a campaign: queue_add_leads_from_crm, page by page). Either way, a person
// whose campaign outreach started (their session, or a session of their phone, contacted or
// answered, e.g. rejected) is not made a lead: the row says skipped and why. A lead given only its
// campaign session takes the session's phone and name in the database.
import { NodeApiError, NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { AddLeadsFromCrmResult, AddLeadsRefused, AddLeadsResult, AddLeadsSkipped, NewLead } from '../../shared/contract';
import { sendBatch, withWritten, type BatchEntry } from '../../shared/batch-refusals';
import { parameterReader } from '../../shared/default-fields';
import { asNodeError, failedItem, NotFoundError, perItem, rowsTo } from '../../shared/per-item';
import { loadPhoneLibrary, readDefaultCountry } from '../../shared/phone';
import { runsAsTool } from '../../shared/outputs';
import { optionsCollection } from '../../shared/properties';
import { readCheckedOption } from '../../shared/checked-options';
import { callRpc } from '../../shared/supabase';
import { CAMPAIGN_ID_PATTERN } from '../../shared/valid-input';
import { inOwnerField } from '../helpers/caller-fields';
import { BATCH, invalid, OWNER_FIELD, ownerProperty, readOwner, readText, readUuid, retryOnConflict } from '../helpers/common';
import { checkLead, problemsSentence, type LeadFields } from '../helpers/leads';
import { OUTPUT } from '../helpers/outputs';
import { campaignRowId } from '../transport/campaigns';

const FROM_ITEMS = { show: { source: ['items'] } };

/** Its options; On Invalid Item is checked against its choices whoever gives it (nodes/shared/checked-options.ts). */
const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'On Invalid Item',
		name: 'onInvalid',
		type: 'options',
		default: 'output',
		options: [
			{ name: 'Send to the Invalid Output', value: 'output', description: 'The item leaves on Invalid with every problem and its field; the valid items are added' },
			{ name: 'Stop the Node', value: 'error', description: 'The node fails naming the item and its problems (with Continue On Fail: a failed item on Invalid); nothing is added, except over 1,000 items when the database refuses an item only after every batch was checked: the error then names the items already added' },
		],
	},
]);

const properties: INodeProperties[] = [
	{
		displayName: 'Leads From',
		name: 'source',
		type: 'options',
		noDataExpression: true,
		default: 'items',
		options: [
			{ name: 'Input Items', value: 'items', description: 'One lead per input item: its name, phone, conversation or campaign session; one whose campaign session (or a session of its phone) was already contacted or answered comes out skipped with its reason' },
			{ name: 'Conversations With a Tag', value: 'tag', description: 'Every Messenger conversation of the owner that carries a tag' },
			{ name: 'Sessions of a Campaign', value: 'campaign', description: 'Every session (candidate phone) of one of the owner\'s campaigns; one already contacted, or with an objective recorded (e.g. rejected), comes out skipped with its reason' },
		],
	},
	ownerProperty(true, 'The Supabase Auth user (auth.users ID) who owns the leads. n8n reaches Supabase with the service role, which bypasses row level security, so the owner is stated here; an expression may take it from each item.'),
	{
		displayName: 'Name',
		name: 'leadName',
		type: 'string',
		default: '={{ $json.name }}',
		description: 'The person\'s name (at most 200 characters), or empty',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Phone',
		name: 'phone',
		type: 'string',
		default: '={{ $json.phone }}',
		description: 'The number to reach the lead on WhatsApp, in any usual format: stored in E.164 (+61491570156). Needed unless the lead has a conversation or campaign session; empty with a campaign session, the session\'s phone is used.',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Default Country',
		name: 'defaultCountry',
		type: 'string',
		default: 'GB',
		placeholder: 'GB',
		description: 'Two-letter country code used for phone numbers written without +country code (0491 570 156 in AU is +61491570156)',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '={{ $json.conversation_id }}',
		description: 'The lead\'s Messenger conversation (an ID of messenger_conversations), or empty',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Campaign Session ID',
		name: 'campaignSessionId',
		type: 'string',
		default: '={{ $json.campaign_session_id }}',
		description: 'The lead\'s campaign session (the ID column of session_info: campaign_session_id on Campaign Session Create\'s Sessions items), or empty',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Lead Score',
		name: 'leadScore',
		type: 'string',
		default: '={{ $json.lead_score }}',
		description:
			'A whole number from 0 to 100, or empty. When the lead\'s conversation has a score in a CRM pipeline (Auto Assign Stage), Prepare Tomorrow uses that one instead, as it is kept up to date. Tomorrow\'s queue takes the highest scores first.',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Lead Source',
		name: 'leadSource',
		type: 'string',
		default: 'n8n',
		description: 'Where the leads come from (a word kept with each lead, e.g. website-form)',
		displayOptions: FROM_ITEMS,
	},
	{
		displayName: 'Tag Name or ID',
		name: 'tagId',
		type: 'options',
		typeOptions: { loadOptionsMethod: 'getTags', loadOptionsDependsOn: ['ownerUserId'] },
		default: '',
		required: true,
		description:
			'The tag whose conversations become leads (the owner\'s tags when Owner User ID is fixed). Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		displayOptions: { show: { source: ['tag'] } },
	},
	{
		displayName: 'Campaign',
		name: 'campaignId',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: 'The campaign whose sessions become leads: pick it from the list, or its campaign ID',
		displayOptions: { show: { source: ['campaign'] } },
		modes: [
			{ displayName: 'From List', name: 'list', type: 'list', placeholder: 'Select a campaign...', typeOptions: { searchListMethod: 'searchCampaigns', searchable: true } },
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. plumber-london_abc123xyz',
				validation: [{ type: 'regex', properties: { regex: CAMPAIGN_ID_PATTERN, errorMessage: 'Not a campaign ID like plumber-london_abc123xyz' } }],
			},
		],
	},
	OPTIONS,
];

export const description = updateDisplayOptions({ show: { operation: ['addLeads'] } }, properties);

interface Pending {
	itemIndex: number;
	lead: NewLead;
}

const STORED_FIELDS = ['name', 'phone', 'conversation_id', 'campaign_session_id'] as const;

/**
 * A lead added or found, as stored (an existing lead keeps what it had and takes only what it
 * lacked): not_stored names each field the item gave that the lead does not hold, with the value
 * given (a lead that already had another phone, or a phone another lead holds). Or an item skipped
 * (no lead: its campaign session's outreach started), with the reason, as the campaign import says it.
 */
function leadOut(itemIndex: number, lead: NewLead, row: AddLeadsResult | AddLeadsSkipped): IDataObject {
	const notStored =
		row.outcome === 'skipped' ? [] : STORED_FIELDS.filter((field) => (lead[field] ?? null) !== null && lead[field] !== row[field]).map((field) => ({ field, given: lead[field] ?? null }));
	return {
		item_index: itemIndex,
		lead_id: row.lead_id,
		outcome: row.outcome,
		status: row.status,
		user_id: lead.user_id,
		name: row.name,
		phone: row.phone,
		conversation_id: row.conversation_id,
		campaign_session_id: row.campaign_session_id,
		not_stored: notStored,
		reason: row.reason,
	};
}

/** The refused field as the node's own checks name it (helpers/leads.ts): the database's user_id is the owner. */
const leadField = (field: string) => (field === 'user_id' ? 'owner' : field);

/** A refusal the database raised for one lead (`p_items[3].user_id: …`), its field named as leadField names it. */
function withLeadField(error: unknown): unknown {
	if (error instanceof NodeApiError) error.message = error.message.replace(/(p_items\[\d+\])\.user_id: /, '$1.owner: ');
	return error;
}

/**
 * A lead the database refuses, named by its input item: its owner, conversation or session not found,
 * or its phone another than its campaign session's (invalid input: the session's person is the lead).
 */
function refusal(context: IExecuteFunctions, batch: ReadonlyArray<BatchEntry<NewLead>>, row: AddLeadsRefused): NotFoundError | NodeOperationError {
	const { itemIndex } = batch[row.item_index];
	const message = `item ${itemIndex} (p_items[${row.item_index}]).${leadField(row.field)}: ${row.message}`;
	if (row.field === 'phone') {
		return invalid(context, itemIndex, message, 'Send the campaign session\'s phone (or leave Phone empty: the session\'s is used), or leave Campaign Session ID empty to add this number as a lead of its own; or choose On Invalid Item: Send to the Invalid Output to add the other items.');
	}
	return new NotFoundError(context.getNode(), message, {
		itemIndex,
		description: 'Use the owner\'s own conversation or campaign session (or leave it empty), and an owner that exists; or choose On Invalid Item: Send to the Invalid Output to add the other items.',
	});
}

/** The input items as leads: refused items to Invalid (or the node stops), then one call per batch. */
async function fromItems(context: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	await loadPhoneLibrary();
	const items = context.getInputData();
	const outputs: INodeExecutionData[][] = [[], []];
	const read = parameterReader(context, properties, {
		leadName: (json) => json.name,
		phone: (json) => json.phone,
		conversationId: (json) => json.conversation_id,
		campaignSessionId: (json) => json.campaign_session_id,
		leadScore: (json) => json.lead_score,
	});
	// The run's, from the first item: anything but output or error (an expression's "stop") is refused
	// before any lead is read or added, never taken for output. With Continue On Fail every item fails
	// with the refusal (invalid_input) on Invalid and nothing is added: thrown, n8n would pass the
	// input items on to Added (with an error output) as if they were added.
	let onInvalid: 'output' | 'error';
	try {
		onInvalid = readCheckedOption<'output' | 'error'>(context, 0, OPTIONS, 'onInvalid');
	} catch (refused) {
		if (!context.continueOnFail()) throw asNodeError(context, refused, 0);
		outputs[OUTPUT.addLeads.invalid].push(...items.map((_, item) => failedItem(context, refused, { item })));
		return outputs;
	}
	const pending: Pending[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const fields: LeadFields = {
				owner: context.getNodeParameter('ownerUserId', itemIndex, '') as unknown,
				name: read('leadName', itemIndex, null),
				phone: read('phone', itemIndex, null),
				conversation_id: read('conversationId', itemIndex, null),
				campaign_session_id: read('campaignSessionId', itemIndex, null),
				source: context.getNodeParameter('leadSource', itemIndex, '') as unknown,
				lead_score: read('leadScore', itemIndex, null),
			};
			const checked = checkLead(fields, readDefaultCountry(context, itemIndex), runsAsTool(context));
			if ('lead' in checked) {
				pending.push({ itemIndex, lead: checked.lead });
				continue;
			}
			const sentence = problemsSentence(checked.problems);
			if (onInvalid === 'error') {
				throw invalid(context, itemIndex, `Item ${itemIndex} is not a valid lead: ${sentence}`, 'Fix the fields named, or choose On Invalid Item: Send to the Invalid Output to add the other items.');
			}
			outputs[OUTPUT.addLeads.invalid].push({
				json: { item_index: itemIndex, message: `Not a valid lead: ${sentence}`, problems: checked.problems.map((problem) => ({ ...problem })) },
				pairedItem: { item: itemIndex },
			});
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error, itemIndex);
			outputs[OUTPUT.addLeads.invalid].push(failedItem(context, error, { item: itemIndex }));
		}
	}
	const stop = onInvalid === 'error' && !context.continueOnFail();
	const batches: Array<Array<BatchEntry<NewLead>>> = [];
	for (let start = 0; start < pending.length; start += BATCH) {
		batches.push(pending.slice(start, start + BATCH).map((entry) => ({ itemIndex: entry.itemIndex, payload: entry.lead })));
	}
	// "Stop the Node" adds nothing when any item is refused, also across batches: with more than one
	// batch every batch is checked first (p_refused check, nothing written), and the first refusal
	// stops the node before any batch is written. One batch is refused by its own call (p_refused
	// raise), which writes nothing either.
	// Each call is its own transaction: a refusal that appears between the check and the write (a
	// conversation deleted meanwhile), or a call that fails, stops the node after the batches before
	// it were written, and the error names them.
	if (stop && batches.length > 1) {
		for (const batch of batches) {
			const rows = await retryOnConflict(context, () => callRpc(context, 'queue_add_leads', { p_items: batch.map((entry) => entry.payload), p_refused: 'check' }));
			const refused = rows.find((row) => row.outcome === 'refused');
			if (refused) throw refusal(context, batch, refused);
		}
	}
	const written: Array<BatchEntry<NewLead>> = [];
	for (const batch of batches) {
		try {
			if (stop) {
				// A refusal names its input item and stops the node (nodes/shared/batch-refusals.ts).
				const { rows, sent } = await sendBatch(
					context,
					batch,
					async (leads) =>
						await retryOnConflict(context, () => callRpc(context, 'queue_add_leads', { p_items: leads, p_refused: 'raise' })).catch((error: unknown) => {
							throw withLeadField(error);
						}),
					() => undefined,
				);
				for (const row of rows) {
					const entry = sent[row.item_index];
					if (row.outcome === 'refused') throw refusal(context, sent, row);
					outputs[OUTPUT.addLeads.leads].push({ json: leadOut(entry.itemIndex, entry.payload, row), pairedItem: { item: entry.itemIndex } });
				}
				written.push(...batch);
				continue;
			}
			// Send to the Invalid Output (or Continue On Fail): the database answers each item it
			// refuses (p_refused answer) and adds the others, in the same call.
			const rows = await retryOnConflict(context, () => callRpc(context, 'queue_add_leads', { p_items: batch.map((entry) => entry.payload), p_refused: 'answer' }));
			for (const row of rows) {
				const entry = batch[row.item_index];
				if (row.outcome !== 'refused') {
					outputs[OUTPUT.addLeads.leads].push({ json: leadOut(entry.itemIndex, entry.payload, row), pairedItem: { item: entry.itemIndex } });
				} else if (onInvalid === 'output') {
					outputs[OUTPUT.addLeads.invalid].push({
						json: { item_index: entry.itemIndex, message: `Not a valid lead: ${leadField(row.field)}: ${row.message}`, problems: [{ field: leadField(row.field), message: row.message }] },
						pairedItem: { item: entry.itemIndex },
					});
				} else {
					outputs[OUTPUT.addLeads.invalid].push(failedItem(context, refusal(context, batch, row), { item: entry.itemIndex }));
				}
			}
			const refused = new Set(rows.filter((row) => row.outcome === 'refused').map((row) => row.item_index));
			written.push(...batch.filter((_, index) => !refused.has(index)));
		} catch (error) {
			if (!context.continueOnFail()) throw withWritten(asNodeError(context, error), written, ' (added or found as leads); the later items were not.');
			for (const entry of batch) outputs[OUTPUT.addLeads.invalid].push(failedItem(context, error, { item: entry.itemIndex }));
		}
	}
	return outputs;
}

/** Every conversation with the tag, or session of the campaign, as a lead: a page of 1,000 per call. */
async function fromCrm(context: IExecuteFunctions, source: 'tag' | 'campaign'): Promise<INodeExecutionData[][]> {
	return await perItem(
		context,
		2,
		async (itemIndex) => {
			const owner = readOwner(context, itemIndex);
			const tagId = source === 'tag' ? readUuid(context, 'tagId', 'tag ID', itemIndex, 'Pick the tag from the list, or use the id column of tags.') : null;
			const campaignId = source === 'campaign' ? await campaignRowId(context, owner, readText(context, 'campaignId', itemIndex, true), itemIndex) : null;
			const rows: AddLeadsFromCrmResult[] = [];
			let after: string | null = null;
			for (;;) {
				const args = { p_user_id: owner, p_tag_id: tagId, p_campaign_id: campaignId, p_after: after, p_limit: BATCH };
				let page: AddLeadsFromCrmResult[];
				try {
					page = await retryOnConflict(context, () => callRpc(context, 'queue_add_leads_from_crm', args, itemIndex));
				} catch (error) {
					throw inOwnerField(context, error, itemIndex, `Set ${OWNER_FIELD} to the ID of a Supabase Auth user of this project (auth.users): the owner whose CRM the leads come from.`);
				}
				rows.push(...page);
				const last = page.at(-1);
				if (page.length < BATCH || !last) break;
				after = last.from_id;
			}
			return rowsTo(OUTPUT.addLeads.leads, rows);
		},
		OUTPUT.addLeads.invalid,
	);
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const source = this.getInputData().length > 0 ? (this.getNodeParameter('source', 0, 'items') as string) : 'items';
	if (source === 'tag' || source === 'campaign') return await fromCrm(this, source);
	return await fromItems(this);
}
