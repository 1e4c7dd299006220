// queuePage: the console's Queue tab (console_queue_page): an owner's queue day (today in the
// owner's time zone), its messages counted by status, and one page of them filtered by status and a
// search, each with its lead, its take-over and the lead's last ledger row; the owners to pick from.
// As an AI agent's tool the answer never carries the owners list (every owner's id and label: the
// console's picker is its only reader), and an owner left empty (or a model's "null" / "undefined")
// is refused naming Owner ID, its advice for whoever can fill the field (the model when it is
// `$fromAI`, else the workflow's builder). Empty is never answered from the owners list: the list
// holds the owners with queue settings, not every owner of the project, so "the only owner with a
// queue" may be another owner's queue to the agent asking.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { runsAsTool } from '../../shared/outputs';
import { perItem } from '../../shared/per-item';
import { inParameterNames } from '../../shared/caller-fields';
import { callRpc } from '../../shared/supabase';
import type { QueuePageArgs } from '../../shared/contract';
import { refusedParameter, textParameter, wholeNumber } from './rule-input';
import { readConsoleOwner, toolOwnerAdvice } from './tool-owner';

const STATUSES = ['queued', 'claimed', 'sent', 'failed', 'cancelled', 'dead'] as const;

const properties: INodeProperties[] = [
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '={{ $json.query?.userId ?? \'\' }}',
		description: 'Whose queue (a user ID with queue settings); empty for the first owner of the answer\'s owners list; as an AI agent\'s tool it must be given, and an empty one is refused',
	},
	{
		displayName: 'Day',
		name: 'day',
		type: 'string',
		default: '={{ $json.query?.day ?? \'\' }}',
		description: 'The queue day as YYYY-MM-DD; empty for today in the owner\'s time zone',
	},
	{
		displayName: 'Status',
		name: 'status',
		type: 'string',
		default: '={{ $json.query?.status ?? \'\' }}',
		description: 'Only messages with this status: queued, claimed, sent, failed, cancelled or dead; empty for all',
	},
	{
		displayName: 'Search',
		name: 'search',
		type: 'string',
		default: '={{ $json.query?.search ?? \'\' }}',
		description: 'Only leads whose name or phone contains this text',
	},
	{
		displayName: 'Offset',
		name: 'offset',
		type: 'string',
		default: '={{ $json.query?.offset ?? \'0\' }}',
		description: 'How many matching messages to pass over (0 for the first page)',
	},
	{
		displayName: 'Messages per Page',
		name: 'limit',
		type: 'string',
		default: '={{ $json.query?.limit ?? \'50\' }}',
		description: 'How many messages in the page, 1 to 500',
	},
	{
		displayName: 'Include Owners',
		name: 'owners',
		type: 'boolean',
		default: true,
		description: 'Whether to answer the list of owners with a queue (for a picker); off for a poll between two refreshes of that list. As an AI agent\'s tool the list is never answered.',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['queuePage'] } }, properties);

/** A person's advice (the console's picker): the owners list the page answers without an owner. */
const OWNER_ADVICE = 'Use an owner ID from the answer\'s owners: ask without one (no userId) to get them.';
/** What Queue Page's refusal and advice say of its owner as a tool (the one wording: nodes/shared/tool-owner.ts). */
const QUEUE_OWNER = { purpose: 'whose queue to read', without: 'reads no queue' };

/**
 * The Owner ID of item i. As a tool, empty or a model's "null" / "undefined" is refused naming the
 * field, and a malformed one too, each with the advice of whoever fills the field (never "ask without
 * one": as a tool an empty owner is refused). In a workflow, empty is null (the first owner's queue,
 * as the console's page asks for it).
 */
const readOwner = (context: IExecuteFunctions, i: number): string | null => readConsoleOwner(context, i, QUEUE_OWNER, OWNER_ADVICE);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const asTool = runsAsTool(this);
		const userId = readOwner(this, i);
		const day = textParameter(this, 'day', i);
		if (day && (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day)) {
			throw refusedParameter(this, 'day', i, `The day "${day.slice(0, 40)}" is not a date as YYYY-MM-DD`, 'Pass day=2026-12-02, or leave it out for today in the owner\'s time zone.', 'a date as YYYY-MM-DD, or nothing for today in the owner\'s time zone');
		}
		const status = textParameter(this, 'status', i);
		if (status && !(STATUSES as readonly string[]).includes(status)) {
			throw refusedParameter(this, 'status', i, `The status "${status.slice(0, 40)}" is not one of ${STATUSES.join(', ')}`, 'Leave status out for every status.', `one of ${STATUSES.join(', ')}, or nothing for every status`);
		}
		const search = textParameter(this, 'search', i);
		if (search.length > 200) {
			throw refusedParameter(this, 'search', i, `The search must be at most 200 characters (got ${search.length})`, 'Send a shorter search, at most 200 characters: a part of a name or an id finds it.', 'a search of at most 200 characters');
		}
		const args: QueuePageArgs = {
			p_user_id: userId,
			p_day: day || null,
			p_status: (status || null) as QueuePageArgs['p_status'],
			p_search: search || null,
			p_offset: wholeNumber(this, 'offset', 'The offset', i, 0, 1_000_000),
			p_limit: wholeNumber(this, 'limit', 'The page size (limit)', i, 1, 500),
			// As a tool, never the owners list (every owner's id).
			p_owners: asTool ? false : this.getNodeParameter('owners', i, true) !== false,
		};
		// An owner with no user behind it is refused by the database as p_user_id's: said as Owner ID's.
		const page = await callRpc(this, 'console_queue_page', args, i).catch((error: unknown) => {
			throw inParameterNames(this, error, i, { p_user_id: 'Owner ID' }, asTool ? toolOwnerAdvice(this, QUEUE_OWNER) : OWNER_ADVICE);
		});
		if (!page) throw new NodeOperationError(this.getNode(), 'The database answered no queue page', { itemIndex: i });
		return [{ output: 0, json: { ...page } as unknown as IDataObject }];
	});
}
