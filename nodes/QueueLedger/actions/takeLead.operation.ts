// takeLead ("Take Lead"): a person takes a lead over, in one transaction (queue_take_lead): the lead
// becomes human_controlled, every queued or claimed message of the lead whose send has not begun is
// cancelled (a claimed one is then refused at Complete: nothing is recorded as the automation's),
// one whose send began (queue_begin_send) is left to its run, which records it sent with its wamid
// (the item's `sending` lists it: it may have reached the lead), the lead's Messenger follow-ups
// are stopped (reason human_takeover), and the ledger records each change. Taking a lead twice
// changes nothing more. A lead nobody may message (do_not_contact, not_interested, invalid) keeps
// its status (made human_controlled, then given back, it would be queued again) and the rest is
// done all the same: what waits is cancelled, its Messenger follow-ups are stopped; the item says
// so (status_kept, explanation). An unknown lead fails as not_found (a 404). A Reason that is not
// text (an object or a number from a request's JSON) is refused, never kept as its JSON text.
// As an AI agent's tool its refusals advise only what a model can do: give the owner's user ID, and a
// lead of that owner; never "leave Owner User ID empty for any owner's lead" nor the X-Leadflow-Owner
// header. As a tool Owner User ID must be given (docs/nodes.md, "One owner per tool"): empty, "null"
// or "undefined" is refused naming the field, the advice for whoever fills it; before 6 December 2026
// an empty one took the lead whoever's it was. In a workflow empty is any owner's lead, as before.
import { NodeApiError, updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { notTextProblem, textProblem } from '../../shared/valid-input';
import { inParameterNames } from '../../shared/caller-fields';
import { runsAsTool } from '../../shared/outputs';
import { isNotGivenWord, optionalToolText } from '../../shared/tool-text';
import { requireToolOwner } from '../helpers/tool-owner';
import { AGENT_OWNER_ADVICE, invalid, OWNER_FIELD, ownerProperty, readOwnerId, readText, readUuid } from '../helpers/common';

const properties: INodeProperties[] = [
	{
		displayName: 'Lead ID',
		name: 'leadId',
		type: 'string',
		default: '={{ $json.lead_id }}',
		required: true,
		description: 'The lead to take over (an ID of leads, as Add Leads and Claim return it)',
	},
	ownerProperty(
		false,
		'The Supabase user (auth.users ID) the lead must belong to, e.g. from the request; empty: any owner\'s lead, in a workflow only: as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI)',
	),
	{
		displayName: 'Taken By',
		name: 'actorId',
		type: 'string',
		default: '',
		placeholder: 'e.g. 7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f',
		description: 'The user who takes the lead over (an auth.users ID), kept in the ledger; empty: not recorded',
	},
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '',
		description: 'Why the lead is taken over (kept in the ledger): text, line breaks allowed, at most 2,000 characters',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['takeLead'] } }, properties);

/**
 * The Reason of item i, trimmed ('' when empty); a value that is not text is refused, naming it. As
 * an AI agent's tool a model's "null" or "undefined" is not given (nodes/shared/tool-text.ts): the
 * ledger kept the reason "null".
 */
function readReason(context: IExecuteFunctions, itemIndex: number): string {
	const value = context.getNodeParameter('reason', itemIndex, '') as unknown;
	const problem = notTextProblem(value);
	if (problem) throw invalid(context, itemIndex, `Reason ${problem}`, 'Send the reason as text, a JSON string, e.g. {"reason": "Customer called back"}: at most 2,000 characters.');
	return optionalToolText(context, ((value as string | null | undefined) ?? '').trim());
}

/** The database's SQLSTATE and hint of a refusal (the Data API passes them through), if it is one. */
const databaseCode = (error: unknown): string | undefined => (error instanceof NodeApiError ? stringOf((error.errorResponse as { code?: unknown } | undefined)?.code) : undefined);
const databaseHint = (error: unknown): string | undefined => (error instanceof NodeApiError ? stringOf((error.errorResponse as { hint?: unknown } | undefined)?.hint) : undefined);
const stringOf = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * An unknown lead (or another owner's), as a tool: give a lead of this owner, where a tool finds one.
 * Never "leave Owner User ID empty": followed, it took another owner's lead.
 */
function agentLeadAdvice(owner: string | null): string {
	const whose = owner ? `a lead of this owner (${owner})` : 'a lead';
	return `Give the lead_id of ${whose}: Add Leads returns it, and the Leadflow Console node's Queue Page lists each queued message's lead_id.`;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const asTool = runsAsTool(this);
		if (asTool) requireToolOwner(this, itemIndex, { operation: 'Take Lead', purpose: 'whose lead to take over', without: 'takes no lead' });
		const leadId = readUuid(this, 'leadId', 'lead ID', itemIndex, asTool ? agentLeadAdvice(null) : 'Use the lead_id Add Leads or Claim returns, or the id column of leads.');
		// Not "leave it empty for every owner": the lead's owner, as the Take Lead webhook requires it.
		const owner = readOwnerId(this, itemIndex, asTool ? AGENT_OWNER_ADVICE : 'Use the id of the Supabase Auth user (auth.users) whose lead this is, e.g. from the X-Leadflow-Owner header.', true);
		// Taken By is optional: as a tool a model's "null" or "undefined" is not given (nodes/shared/tool-text.ts),
		// as Reason and Move's Mover ID, never refused as not a UUID. In a workflow it is read as written.
		const actorId = asTool && isNotGivenWord(readText(this, 'actorId', itemIndex)) ? null : readUuid(this, 'actorId', 'Taken By user ID', itemIndex, 'Use the id of the Supabase Auth user taking the lead over, or leave it empty.', true);
		const reason = readReason(this, itemIndex);
		const problem = reason ? textProblem(reason, { kind: 'multiline', max: 2000 }) : undefined;
		if (problem) throw invalid(this, itemIndex, `Reason ${problem}`, 'Write the reason as plain text of at most 2,000 characters.');
		try {
			const rows = await callRpc(this, 'queue_take_lead', { p_lead_id: leadId, p_actor_id: actorId, p_reason: reason || null, p_user_id: owner }, itemIndex);
			return rowsTo(0, rows);
		} catch (error) {
			// The caller set Taken By (the webhook's takenBy) and Lead ID, not p_actor_id and p_lead_id: a
			// refusal names them (an unknown lead, or one of another owner than Owner User ID).
			const named = inParameterNames(this, error, itemIndex, { p_actor_id: 'Taken By' }, 'Use the ID of a Supabase Auth user of this project (auth.users) as Taken By, or leave it empty.');
			// A refusal the database gives its own advice for (22023 with a hint) keeps it; an unknown
			// lead (or another owner's) gets where to find one.
			const statusRefused = databaseCode(error) === '22023' ? databaseHint(error) : undefined;
			throw inParameterNames(this, named, itemIndex, { p_lead_id: 'Lead ID' }, statusRefused ?? (asTool ? agentLeadAdvice(owner) : `Use the lead_id Add Leads or Claim returns, of the owner in ${OWNER_FIELD} (or leave ${OWNER_FIELD} empty for any owner's lead).`));
		}
	});
}
