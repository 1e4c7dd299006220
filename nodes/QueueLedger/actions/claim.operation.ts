// claim ("Start Automation"): takes up to N due WhatsApp messages in one database call (queue_claim:
// queued or failed items whose time has come, inside their owner's sending hours, or claimed items
// whose lease ran out before Send began them; FOR UPDATE SKIP LOCKED, so workers running at once
// never take the same item), each held under this run's worker name until Complete reports it: the
// Worker Name option (or n8n), the execution id and a hash of this n8n's instance id, so no two
// runs share one, and Send and Complete given the bare Worker Name rebuild it in the same run. A
// claimed item Send began (it may have been delivered) whose lease ran out is never taken again: the
// database ends it dead, uncertain, for the owner to judge. One output item per message,
// with what the sender needs (phone, message with its placeholders filled) and the worker name.
// Not as an AI agent's tool: a claim holds its messages for a workflow's Send and Complete.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { QueueClaimArgs } from '../../shared/contract';
import { asNodeError, failedItem, SettingRefusedError } from '../../shared/per-item';
import { refuseAsTool } from '../../shared/outputs';
import { optionsCollection } from '../../shared/properties';
import { callRpc } from '../../shared/supabase';
import { readWholeNumber, textProblem } from '../../shared/valid-input';
import { readCheckedOptions } from '../../shared/checked-options';
import { inOwnerField } from '../helpers/caller-fields';
import { releaseBeforeReporting, type ClaimedMessage } from '../helpers/releaseClaimed';
import { OWNER_FIELD, ownerProperty, readOptionalOwner, WORKER_MAX, workerName } from '../helpers/common';

/** Its options; Lease (Seconds) is checked against its range whoever gives it (nodes/shared/checked-options.ts). */
const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 10, maxValue: 86400 },
		default: 300,
		description: 'How long this run holds the messages before another run may take them back (one whose sending began is never taken back: it ends dead, uncertain); Complete is refused for a message another worker took meanwhile',
	},
	{
		displayName: 'Worker Name',
		name: 'worker',
		type: 'string',
		default: '',
		description: 'The start of the name the messages are held under: the execution ID and a suffix for this n8n are always added (empty: n8n), so two runs never hold a message under the same name; a name longer than fits the database\'s 200 characters with them is cut. Every output item carries the full name as worker; Send and Complete given this same Worker Name in the same run find it too.',
	},
]);

const properties: INodeProperties[] = [
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 1000 },
		default: 50,
		description: 'Max number of results to return',
	},
	ownerProperty(false, 'Only this Supabase user\'s messages (auth.users ID); empty: every owner\'s'),
	OPTIONS,
];

export const description = updateDisplayOptions({ show: { operation: ['claim'] } }, properties);

interface ClaimGroup {
	args: QueueClaimArgs;
	itemIndexes: number[];
}

function readArgs(context: IExecuteFunctions, itemIndex: number, workers: Map<string, string>): QueueClaimArgs {
	const options = readCheckedOptions<{ leaseSeconds: number; worker?: string }>(context, itemIndex, OPTIONS, {
		leaseSeconds: 'It is how long this run holds the messages before another run may take them back (10 s to a day).',
	});
	const prefix = String(options.worker ?? '').trim();
	const problem = prefix === '' ? undefined : textProblem(prefix, { kind: 'token', min: 1, max: WORKER_MAX });
	// A setting of the node's Options (queue-run leaves it empty), not the request's: its failed item names it.
	if (problem) {
		throw new SettingRefusedError(context.getNode(), `Worker Name ${problem}`, { itemIndex, description: 'Use a short name without spaces, or leave it empty.' }, { displayName: 'Worker Name', parameter: 'options.worker' });
	}
	// One name per prefix in this execution of the node: its items asking for the same claim share one call.
	let worker = workers.get(prefix);
	if (worker === undefined) {
		const made = workerName(context, prefix);
		worker = made.name;
		workers.set(prefix, worker);
		// Up to 200 characters were taken before the execution id and suffix were added: a longer name is cut to fit, not refused.
		if (made.cut) {
			const warning = `Claim's Worker Name is ${[...prefix].length} characters: it was cut to fit, with the execution ID and suffix, within the database's ${WORKER_MAX}; the messages are held as ${worker}.`;
			context.logger.warn(`Leadflow Queue Ledger: ${warning}`);
			context.addExecutionHints({ type: 'warning', location: 'outputPane', message: `${warning} Send and Complete given the same Worker Name find it; a shorter name is easier to read.` });
		}
	}
	return {
		p_worker: worker,
		// 1 to 1,000 (an expression escapes the editor's bounds); empty (an agent's $fromAI left blank): 50.
		p_limit: readWholeNumber(context, 'limit', itemIndex, { label: 'Limit', min: 1, max: 1000, fallback: 50, hint: 'Give how many due messages to claim at most, or leave it empty for 50.', setting: true }),
		p_lease_seconds: options.leaseSeconds,
		p_user_id: readOptionalOwner(context, itemIndex),
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// A claim holds each message for this run's Send and Complete until its lease ends: an agent
	// sends nothing, so the messages would wait unsent, kept from the queue workflow.
	refuseAsTool(
		this,
		'Claim',
		'Claim holds the due WhatsApp messages it takes (for its lease, 300 seconds by default) for a queue workflow to send and report with Complete; an agent sends nothing, so they would wait unsent. To see the queue, use Get Metrics (its numbers per day) or the Leadflow Console node\'s Queue Page (an owner\'s messages of the day, with their status); Export\'s CSV file is binary data, which a tool\'s answer does not carry.',
	);
	const items = this.getInputData();
	const groups = new Map<string, ClaimGroup>();
	const output: INodeExecutionData[] = [];
	const workers = new Map<string, string>();
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const args = readArgs(this, itemIndex, workers);
			const key = JSON.stringify(args);
			const group = groups.get(key) ?? { args, itemIndexes: [] };
			group.itemIndexes.push(itemIndex);
			groups.set(key, group);
		} catch (error) {
			if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
			output.push(failedItem(this, error, { item: itemIndex }));
		}
	}
	// Items asking for the same claim share one call: claiming once per item would take N × limit.
	// One group's refusal (an owner without queue settings, no such user) is that group's alone:
	// with Continue On Fail its items fail and the other groups' messages are output as claimed;
	// without it, the messages the earlier groups claimed are given back (queued again, due at
	// once, the attempt not counted) before the node fails, never left held for the lease.
	const held: ClaimedMessage[] = [];
	for (const group of groups.values()) {
		const pairedItem = group.itemIndexes.map((item) => ({ item }));
		try {
			const claimed = await callRpc(this, 'queue_claim', group.args, group.itemIndexes[0]);
			for (const message of claimed) {
				output.push({ json: { ...message, worker: group.args.p_worker } as unknown as IDataObject, pairedItem });
				held.push({ itemId: message.item_id, worker: group.args.p_worker });
			}
		} catch (caught) {
			// No such user, or one without queue settings (refused as Prepare refuses them: nothing of theirs could be due).
			const hint = `Set ${OWNER_FIELD} to the ID of a Supabase Auth user of this project (auth.users) who has queue settings (their row in user_queue_settings: capacity, hours, time zone, message), or leave it empty to claim every owner's messages.`;
			const error = inOwnerField(this, caught, group.itemIndexes[0], hint);
			if (!this.continueOnFail()) {
				const nodeError = asNodeError(this, error);
				await releaseBeforeReporting(this, held, [nodeError], 'claim');
				throw nodeError;
			}
			output.push(failedItem(this, error, pairedItem));
		}
	}
	return [output];
}
