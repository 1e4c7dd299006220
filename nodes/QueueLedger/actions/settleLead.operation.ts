// settleLead ("Settle Dead Message"): the owner's decision on a lead whose last WhatsApp message
// ended dead, in one transaction (queue_settle_lead, migration 20261201002940): `delivered` (it
// arrived: the lead becomes contacted; only after `uncertain`, a send that may have gone out: a
// message Meta answered with an error code was not delivered) or `send_again` (its backlog item is
// queued again and the lead made new, so the next Prepare writes a new message). Settling the same
// message again answers as the first time (already_settled). A lead that cannot be settled (its last
// message not dead or being sent, a lead do_not_contact, invalid, human_controlled or moved on) is
// an item with settled false, refusal not_settleable, the field at fault (lead_id or outcome) and
// an explanation; an unknown lead, or one of another owner than Owner User ID, fails as not_found.
// As an AI agent's tool Owner User ID must be given (docs/nodes.md, "One owner per tool"), and a
// refusal's advice goes to whoever fills the field (toolFieldMender).
import { NodeApiError, updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { FieldRefusedError, perItem, rowsTo } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { notTextProblem, textProblem } from '../../shared/valid-input';
import { inParameterNames } from '../../shared/caller-fields';
import { runsAsTool } from '../../shared/outputs';
import { isNotGivenWord, optionalToolText, toolFieldMender } from '../../shared/tool-text';
import { requireToolOwner } from '../helpers/tool-owner';
import { AGENT_OWNER_ADVICE, OWNER_FIELD, ownerProperty, readOwnerId, readText, readUuid } from '../helpers/common';

export const OUTCOMES = ['delivered', 'send_again'] as const;
export type SettleOutcome = (typeof OUTCOMES)[number];

const properties: INodeProperties[] = [
	{
		displayName: 'Lead ID',
		name: 'leadId',
		type: 'string',
		default: '={{ $json.lead_id }}',
		required: true,
		description: 'The lead whose last WhatsApp message ended dead (an ID of leads, as Add Leads, Claim and the queue export give it)',
	},
	ownerProperty(
		false,
		'The Supabase user (auth.users ID) the lead must belong to, e.g. from the request; empty: any owner\'s lead, in a workflow only: as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI)',
	),
	{
		displayName: 'Outcome',
		name: 'outcome',
		type: 'options',
		options: [
			{ name: 'Delivered', value: 'delivered', description: 'It arrived: the lead becomes contacted (only after an uncertain send)' },
			{ name: 'Send Again', value: 'send_again', description: 'The lead becomes new: the next Prepare Tomorrow queues a new message' },
		],
		default: 'delivered',
		description: 'What became of the dead message, as the owner knows it',
	},
	{
		displayName: 'Settled By',
		name: 'actorId',
		type: 'string',
		default: '',
		placeholder: 'e.g. 7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f',
		description: 'The user who settles it (an auth.users ID), kept in the ledger; empty: not recorded',
	},
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '',
		description: 'Why (kept in the ledger): text, line breaks allowed, at most 2,000 characters',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['settleLead'] } }, properties);

/** The Outcome of item i: delivered or send_again, else refused naming the field, the advice for whoever fills it. */
function readOutcome(context: IExecuteFunctions, itemIndex: number, asTool: boolean): SettleOutcome {
	const value = context.getNodeParameter('outcome', itemIndex, '') as unknown;
	const text = typeof value === 'string' ? value.trim() : value;
	if (typeof text === 'string' && (OUTCOMES as readonly string[]).includes(text)) return text as SettleOutcome;
	const shown = typeof text === 'string' ? (text === '' ? 'nothing' : `"${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`) : `a ${Array.isArray(text) ? 'list' : typeof text}`;
	let advice = 'Give outcome "delivered" (it arrived: the lead becomes contacted) or "send_again" (the next Prepare sends a new message).';
	if (asTool) {
		const mender = toolFieldMender(context, 'outcome', value);
		if (mender.by === 'model') advice = `Give ${mender.key ?? 'outcome'} as "delivered" (the person got the message) or "send_again" (send a new one).`;
		else advice = `Outcome (outcome) is set in this tool's settings${mender.by === 'type' ? ' with a $fromAI that cannot give text' : ''}: set it to delivered or send_again, or let the model give it with {{ $fromAI('outcome', 'delivered or send_again', 'string') }}.`;
	}
	throw new FieldRefusedError(context.getNode(), `Outcome must be "delivered" or "send_again", and got ${shown}`, { itemIndex, description: advice }, 'outcome');
}

/** The Reason of item i, trimmed ('' when empty); a value that is not text is refused, naming it. */
function readReason(context: IExecuteFunctions, itemIndex: number): string {
	const value = context.getNodeParameter('reason', itemIndex, '') as unknown;
	const problem = notTextProblem(value);
	if (problem) throw new FieldRefusedError(context.getNode(), `Reason ${problem}`, { itemIndex, description: 'Send the reason as text, e.g. {"reason": "She answered on the phone"}: at most 2,000 characters.' }, 'reason');
	return optionalToolText(context, ((value as string | null | undefined) ?? '').trim());
}

/** An unknown lead (or another owner's), as a tool: give a lead of this owner, where a tool finds one. */
function agentLeadAdvice(owner: string | null): string {
	const whose = owner ? `a lead of this owner (${owner})` : 'a lead';
	return `Give the lead_id of ${whose} whose message ended dead: the Leadflow Console node's Queue Page lists each message's lead_id and status.`;
}

/** The database's refusal of Settled By (renamed by inParameterNames) as a refusal naming its field, actorId. */
function settledByRefused(context: IExecuteFunctions, error: NodeApiError, itemIndex: number): FieldRefusedError {
	return new FieldRefusedError(context.getNode(), error.message, { itemIndex, description: error.description ?? undefined }, 'actorId');
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const asTool = runsAsTool(this);
		if (asTool) requireToolOwner(this, itemIndex, { operation: 'Settle Dead Message', purpose: 'whose lead to settle', without: 'settles no lead' });
		const leadId = readUuid(this, 'leadId', 'lead ID', itemIndex, asTool ? agentLeadAdvice(null) : 'Use the lead_id Add Leads, Claim or the queue export gives, or the id column of leads.');
		const owner = readOwnerId(this, itemIndex, asTool ? AGENT_OWNER_ADVICE : 'Use the id of the Supabase Auth user (auth.users) whose lead this is, e.g. from the X-Leadflow-Owner header.', true);
		const outcome = readOutcome(this, itemIndex, asTool);
		const actorId = asTool && isNotGivenWord(readText(this, 'actorId', itemIndex)) ? null : readUuid(this, 'actorId', 'Settled By user ID', itemIndex, 'Use the id of the Supabase Auth user settling the message, or leave it empty.', true);
		const reason = readReason(this, itemIndex);
		const problem = reason ? textProblem(reason, { kind: 'multiline', max: 2000 }) : undefined;
		if (problem) throw new FieldRefusedError(this.getNode(), `Reason ${problem}`, { itemIndex, description: 'Write the reason as plain text of at most 2,000 characters.' }, 'reason');
		try {
			const rows = await callRpc(this, 'queue_settle_lead', { p_lead_id: leadId, p_outcome: outcome, p_actor_id: actorId, p_reason: reason || null, p_user_id: owner }, itemIndex);
			return rowsTo(0, rows);
		} catch (error) {
			const named = inParameterNames(this, error, itemIndex, { p_actor_id: 'Settled By' }, 'Use the ID of a Supabase Auth user of this project (auth.users) as Settled By, or leave it empty.');
			// An unknown Settled By names its field (actorId: a webhook answers it as its own field).
			if (named !== error && named instanceof NodeApiError) throw settledByRefused(this, named, itemIndex);
			if (!(named instanceof NodeApiError)) throw named;
			throw inParameterNames(this, named, itemIndex, { p_lead_id: 'Lead ID' }, asTool ? agentLeadAdvice(owner) : `Use the lead_id of a lead of the owner in ${OWNER_FIELD} (or leave ${OWNER_FIELD} empty for any owner's lead).`);
		}
	});
}
