// prepareTomorrow: fills each owner's queue for their tomorrow (the local day after now in the
// owner's time zone) in one database call (queue_prepare): up to the daily capacity, spread over the
// sending hours, highest lead score first, never a lead already queued, taken over or contacted
// today. Running it twice gives the same queue. One output item per owner: how many were queued and
// why the others were not. A lead changing under it (SQLSTATE 40001: nothing written) is retried once.
// Every owner: the two halves of the user_id space at once (disjoint owners: the two calls never
// wait for each other, and the database works on both), each a page of 1,000 owners per call (the
// most rows the Data API answers), its own transaction, the next page after the last owner
// answered, until a page comes back short. The items come out by user ID. As an AI agent's tool
// Owner User ID must be given (helpers/tool-owner.ts): before 6 December 2026 a tool with it empty
// prepared every owner's queue.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { PrepareResult } from '../../shared/contract';
import { runsAsTool } from '../../shared/outputs';
import { asNodeError, perItem, rowsTo } from '../../shared/per-item';
import { callRpc, DATA_API_MAX_ROWS } from '../../shared/supabase';
import { inOwnerField } from '../helpers/caller-fields';
import { OWNER_FIELD, ownerProperty, readOptionalOwner, retryOnConflict } from '../helpers/common';
import { requireToolOwner } from '../helpers/tool-owner';

const properties: INodeProperties[] = [
	ownerProperty(
		false,
		'Only this Supabase user\'s queue (auth.users ID); empty: every owner who has queue settings, in a workflow only: as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI)',
	),
];

export const description = updateDisplayOptions({ show: { operation: ['prepareTomorrow'] } }, properties);

const OWNER_FOR_PREPARE =
	`Set ${OWNER_FIELD} to the ID of a Supabase Auth user of this project (auth.users) who has queue settings (their row in user_queue_settings: capacity, hours, time zone, message), or leave it empty to prepare every owner who has them.`;

/** As an AI agent's tool: only what a model can do, never "leave it empty" (every owner's queue). */
const AGENT_OWNER_FOR_PREPARE = "Give the user ID of an owner who has queue settings: a UUID, the id of a Supabase Auth user with a row in user_queue_settings.";

/** The owners by user_id in two halves: [after, until], null for no bound. */
export const HALVES: Array<[string | null, string | null]> = [
	[null, '7fffffff-ffff-ffff-ffff-ffffffffffff'],
	['7fffffff-ffff-ffff-ffff-ffffffffffff', null],
];

async function prepareEveryOwner(context: IExecuteFunctions, itemIndex: number): Promise<PrepareResult[]> {
	const prepared: PrepareResult[][] = HALVES.map(() => []);
	let failure: unknown;
	await Promise.all(
		HALVES.map(async ([after, until], half) => {
			const mine = prepared[half];
			// A failed call stops both halves before their next page.
			while (failure === undefined) {
				const from = mine.length > 0 ? mine[mine.length - 1].user_id : after;
				try {
					const page = await retryOnConflict(context, () =>
						callRpc(context, 'queue_prepare', { p_user_id: null, p_after_user_id: from, p_until_user_id: until, p_owner_limit: DATA_API_MAX_ROWS }, itemIndex),
					);
					mine.push(...page);
					if (page.length < DATA_API_MAX_ROWS) return;
				} catch (error) {
					failure ??= error;
					return;
				}
			}
		}),
	);
	const owners = prepared.flat();
	if (failure !== undefined) {
		const failed = asNodeError(context, failure, itemIndex);
		if (owners.length > 0) {
			const note = `${owners.length} owners were prepared by the run's other calls and stay prepared; running Prepare Tomorrow again prepares the others (it queues nothing twice).`;
			failed.description = failed.description ? `${failed.description} ${note}` : note;
		}
		throw failed;
	}
	return owners;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		if (runsAsTool(this)) requireToolOwner(this, itemIndex, { operation: 'Prepare Tomorrow', purpose: 'whose queue to prepare', without: 'prepares no queue' });
		const owner = readOptionalOwner(this, itemIndex);
		if (owner !== null) {
			try {
				return rowsTo(0, await retryOnConflict(this, () => callRpc(this, 'queue_prepare', { p_user_id: owner }, itemIndex)));
			} catch (error) {
				// No such user, or one without queue settings (whom every owner's run leaves out).
				throw inOwnerField(this, error, itemIndex, runsAsTool(this) ? AGENT_OWNER_FOR_PREPARE : OWNER_FOR_PREPARE);
			}
		}
		return rowsTo(0, await prepareEveryOwner(this, itemIndex));
	});
}
