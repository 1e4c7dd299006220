// giveBack: a workflow's own step on its failure path: the contacts a claim handed it, given back at
// once (automation_release, migration …1680) instead of staying held for the claim's lease. Each
// contact the claim's holder still has before its send began goes back to queued and the next run
// claims it; any other (another run's, sending, recorded, given back already) is answered not_held
// and left as it is, so giving back every contact of the claim is safe. One call per claim holder
// and 1,000 contacts; one output item per contact with its outcome (with Continue On Fail, an entry of
// the list that names no claimed contact, a failed item among them, is a failed item of its own and
// the others are given back). Not as an AI agent's tool: a tool's item holds no claim, and giving
// back is the follow-up workflow's business, not an agent's.
import {
	NodeOperationError,
	updateDisplayOptions,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeProperties,
	type IPairedItemData,
} from 'n8n-workflow';
import type { ReleaseArgs } from '../../shared/contract';
import { refuseAsTool } from '../../shared/outputs';
import { asNodeError, failedItem } from '../../shared/per-item';
import { callRpc, piecesOf } from '../../shared/supabase';
import { shown, UUID } from '../../shared/valid-input';

/** The word the stage history records when the Reason parameter is left empty. */
export const DEFAULT_REASON = 'run_failed';
const REASON = /^[a-z][a-z0-9_]{2,62}$/;
/** The claim's holders are `n8n-<execution>-<12 hex>`; anything much longer is not one. */
const MAX_HOLDER_LENGTH = 200;

const properties: INodeProperties[] = [
	{
		displayName: 'Claimed Contacts',
		name: 'contacts',
		type: 'json',
		default: '={{ $json }}',
		required: true,
		description:
			'The claimed contacts to give back, as Claim hands them (each with state_id and execution_id): the input item (the default, e.g. wired from Claim\'s Contacts output), or a list of them or of Claim\'s items, e.g. {{ $(\'Claim Due Contacts\').all(0) }} on a failure path.',
	},
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: DEFAULT_REASON,
		placeholder: `e.g. ${DEFAULT_REASON}`,
		description: 'Why, as the stage history records it (a lower-case word, letters, digits and _, 3 to 63 characters)',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['giveBack'] } }, properties);

interface Named {
	stateId: string;
	holder: string;
}

function invalid(context: IExecuteFunctions, itemIndex: number, message: string): NodeOperationError {
	return new NodeOperationError(context.getNode(), message, {
		itemIndex,
		description:
			'Give the claimed contacts as Claim outputs them, each with its state_id (a UUID) and execution_id (the claim\'s holder): the item itself, or a list such as {{ $(\'Claim Due Contacts\').all(0) }} (Claim\'s items).',
	});
}

/** A failed item's json: only `error` (the package's failed item, n8n's error item), no contact. */
function isFailedItem(value: object): boolean {
	return 'error' in value && !('state_id' in value) && Object.keys(value).every((key) => key === 'error');
}

/**
 * The contacts item i names: its Claimed Contacts, one object or a list of them (none: an empty
 * list), each entry the contact it names or the error refusing it (naming the entry), in the order
 * given. Not JSON at all refuses the whole item.
 */
function readContacts(context: IExecuteFunctions, itemIndex: number): Array<Named | NodeOperationError> {
	let value = context.getNodeParameter('contacts', itemIndex, null) as unknown;
	if (typeof value === 'string') {
		try {
			value = value.trim() === '' ? [] : (JSON.parse(value) as unknown);
		} catch {
			throw invalid(context, itemIndex, 'Claimed Contacts is not JSON: give a claimed contact or a list of them');
		}
	}
	const list = Array.isArray(value) ? (value as unknown[]) : [value];
	return list.map((entry, n) => {
		const at = Array.isArray(value) ? `Claimed Contacts[${n}]` : 'Claimed Contacts';
		if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return invalid(context, itemIndex, `${at} is not a claimed contact (got ${shown(entry)})`);
		// An n8n item ({ json, pairedItem }, what $('Claim').all() gives) stands for its json.
		const wrapped = (entry as { json?: unknown }).json;
		const contact = !('state_id' in entry) && wrapped !== null && typeof wrapped === 'object' && !Array.isArray(wrapped) ? wrapped : entry;
		// A failed item (a claim or a step that failed, with Continue On Fail) holds no contact: said so,
		// rather than "state_id … (got nothing)".
		if (isFailedItem(contact)) return invalid(context, itemIndex, `${at} is a failed item ({ error }), not a claimed contact: it holds no contact to give back`);
		const { state_id: stateId, execution_id: holder } = contact as { state_id?: unknown; execution_id?: unknown };
		if (typeof stateId !== 'string' || !UUID.test(stateId)) return invalid(context, itemIndex, `${at}.state_id is not a contact state ID (got ${shown(stateId)})`);
		if (typeof holder !== 'string' || holder.trim() === '' || holder.length > MAX_HOLDER_LENGTH) {
			return invalid(context, itemIndex, `${at}.execution_id is not the claim's holder (got ${shown(holder)})`);
		}
		return { stateId: stateId.toLowerCase(), holder };
	});
}

function readReason(context: IExecuteFunctions, itemIndex: number): string {
	const value = context.getNodeParameter('reason', itemIndex, DEFAULT_REASON) as unknown;
	const reason = value === undefined || value === null || value === '' ? DEFAULT_REASON : typeof value === 'string' ? value.trim() : value;
	if (typeof reason !== 'string' || !REASON.test(reason)) {
		throw new NodeOperationError(context.getNode(), `Reason must be a lower-case word of letters, digits and _ (got ${shown(value)})`, {
			itemIndex,
			description: `Say why in one word of 3 to 63 characters, e.g. ${DEFAULT_REASON}, or leave it empty for ${DEFAULT_REASON}.`,
		});
	}
	return reason;
}

interface Group {
	holder: string;
	reason: string;
	/** The items naming each contact, in the order first named. */
	namedBy: Map<string, number[]>;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	refuseAsTool(
		this,
		'Give Back',
		'Give Back is a follow-up workflow\'s own step: it frees the contacts its claim holds when the run fails, and a tool\'s call holds no claim. To see which contacts are held and why, use Explain or Snapshot.',
	);
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	const groups = new Map<string, Group>();
	for (let i = 0; i < items.length; i++) {
		try {
			const reason = readReason(this, i);
			const entries = readContacts(this, i);
			// Without Continue On Fail the first entry refused stops the node, before anything is given
			// back; with it, each refused entry is a failed item of its own (naming it) and the list's
			// other contacts are given back, as an item refused among the input items is.
			const refused = entries.filter((entry): entry is NodeOperationError => entry instanceof NodeOperationError);
			if (refused.length > 0 && !this.continueOnFail()) throw refused[0];
			for (const error of refused) output.push(failedItem(this, error, { item: i }));
			for (const entry of entries) {
				if (entry instanceof NodeOperationError) continue;
				const { stateId, holder } = entry;
				const key = `${holder}\u0000${reason}`;
				const group = groups.get(key) ?? { holder, reason, namedBy: new Map<string, number[]>() };
				const by = group.namedBy.get(stateId) ?? [];
				if (!by.includes(i)) by.push(i);
				group.namedBy.set(stateId, by);
				groups.set(key, group);
			}
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, i);
			output.push(failedItem(this, error, { item: i }));
		}
	}
	// The items each output item answers: every item that named the contact.
	const paired = (items: number[]): IPairedItemData[] => items.map((item) => ({ item }));
	for (const group of groups.values()) {
		for (const piece of piecesOf([...group.namedBy.keys()])) {
			const asking = [...new Set(piece.flatMap((stateId) => group.namedBy.get(stateId) ?? []))].sort((a, b) => a - b);
			try {
				const args: ReleaseArgs = { p_execution_id: group.holder, p_state_ids: piece, p_reason: group.reason };
				const rows = await callRpc(this, 'automation_release', args, asking[0]);
				// In the order the contacts were named (the database answers those released first).
				const order = new Map(piece.map((stateId, n) => [stateId, n]));
				rows.sort((a, b) => (order.get(a.state_id) ?? 0) - (order.get(b.state_id) ?? 0));
				for (const row of rows) {
					output.push({
						json: { state_id: row.state_id, execution_id: group.holder, outcome: row.outcome, stage: row.stage } as IDataObject,
						pairedItem: paired(group.namedBy.get(row.state_id) ?? asking),
					});
				}
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error, asking[0]);
				output.push(failedItem(this, error, paired(asking)));
			}
		}
	}
	return [output];
}
