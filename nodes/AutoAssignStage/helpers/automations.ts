// The Automations output: webhook and notify actions the database queued (pipeline_outbox), claimed
// for this execution with pipeline_claim_outbox (FOR UPDATE SKIP LOCKED and a lease), so another
// execution claiming at the same time gets other items. Two ways to deliver:
// - "mark delivered when handed out" (at most once): completed with pipeline_complete_outbox as
//   they are put on the output; an item whose completion this execution lost (its lease ran out and
//   another execution holds it) is not put on the output.
// - "confirm delivery" (at least once): the items stay claimed by this execution for the lease; the
//   workflow reports each with the Complete Automations operation after delivering it. An item not
//   reported before its lease ends is handed out again (a crashed execution's included).
import { randomBytes } from 'node:crypto';
import type { IDataObject, IDisplayOptions, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { ClaimedOutboxItem } from '../../shared/contract';
import { callRpc, piecesOf } from '../../shared/supabase';
import { asNodeError } from '../../shared/per-item';
import { readCheckedParameter } from '../../shared/checked-options';
import { executionMark } from '../../shared/execution-claim';

export type Delivery = 'onHandOut' | 'confirm';

export const CLAIM_LIMIT = 1000;
const DEFAULT_LEASE_SECONDS = 300;

/** How handed-out actions count as delivered; shown with Assign, Move and Claim Automations. */
export function deliveryProperties(show: NonNullable<IDisplayOptions['show']>): INodeProperties[] {
	return [
		{
			displayName: 'Delivery',
			name: 'automationDelivery',
			type: 'options',
			default: 'onHandOut',
			displayOptions: { show },
			options: [
				{
					name: 'Mark Delivered When Handed Out',
					value: 'onHandOut',
					description: 'At most once: each action leaves the node once; one the workflow then fails to deliver is not handed out again',
				},
				{
					name: 'Confirm With Complete Automations',
					value: 'confirm',
					description:
						'At least once: each action stays this execution\'s for the lease; report it with the Complete Automations operation after delivering it, else it is handed out again when the lease ends',
				},
			],
		},
		{
			displayName: 'Lease (Seconds)',
			name: 'automationLeaseSeconds',
			type: 'number',
			typeOptions: { minValue: 5, maxValue: 86400 },
			default: DEFAULT_LEASE_SECONDS,
			displayOptions: { show: { ...show, automationDelivery: ['confirm'] } },
			description: 'How long the workflow has to deliver and report an action before it is handed out again',
		},
	];
}

/**
 * The claim holder of this node in this execution, `n8n-<node id>-<random>-<execution id>-<instance
 * hash>`: Complete Automations must pass the same (each item carries it as `execution_id`). It ends
 * with this execution's mark (nodes/shared/execution-claim.ts, as Queue Ledger's worker names do), so
 * Complete Automations as a tool knows a holder of this run; execution ids are unique within one
 * n8n database only, and the instance hash and the random part keep two n8n instances on one
 * Supabase from acting on each other's claims. Without an execution id it ends with `-manual`, of no
 * execution. (Until 6 December 2026 it was `n8n-<execution id>-<node id>-<random>`.)
 */
export function claimHolder(context: IExecuteFunctions): string {
	return `n8n-${context.getNode().id}-${randomBytes(6).toString('hex')}${executionMark(context) ?? '-manual'}`;
}

function toItem(item: ClaimedOutboxItem, executionId: string, pairedItem: number): INodeExecutionData {
	return {
		json: {
			outbox_id: item.outbox_id,
			// The owner whose automation fired: an every-owner sweep routes each item by it.
			user_id: item.payload.user_id ?? null,
			kind: item.kind,
			action: item.payload.action,
			automation: item.payload.automation,
			contact: item.payload.contact,
			pipeline: item.payload.pipeline,
			change: item.payload.change,
			occurred_at: item.payload.occurred_at,
			attempt: item.attempt,
			run_id: item.run_id,
			execution_id: executionId,
			lease_expires_at: item.lease_expires_at,
		} as IDataObject,
		pairedItem: { item: pairedItem },
	};
}

/**
 * Claims the due actions and returns them as output items: exactly `outboxIds` when given (what the
 * node's own calls queued: another run's items, a retry, a crashed run's, stay for Claim
 * Automations), in claims of at most CLAIM_LIMIT; all of them when null, a sweep of at most
 * `limit`, of one owner when `owner` is given.
 */
export async function handOutAutomations(
	context: IExecuteFunctions,
	pairedItem: number,
	outboxIds: string[] | null,
	{ delivery, leaseSeconds, limit = CLAIM_LIMIT, owner = null }: { delivery: Delivery; leaseSeconds: number; limit?: number; owner?: string | null },
): Promise<INodeExecutionData[]> {
	const executionId = claimHolder(context);
	const claim = async (ids: string[] | null) =>
		await callRpc(context, 'pipeline_claim_outbox', {
			p_execution_id: executionId,
			p_limit: ids === null ? limit : ids.length,
			p_lease_seconds: delivery === 'confirm' ? leaseSeconds : DEFAULT_LEASE_SECONDS,
			p_user_id: owner,
			p_outbox_ids: ids,
		});
	// Claimed in pieces of at most CLAIM_LIMIT; with "Mark Delivered When Handed Out", each piece is
	// reported delivered by its own call: the Data API answers at most 1,000 rows (max-rows), so one
	// report of more would be applied whole but answered cut, and the items past the first 1,000
	// would be delivered in the database without ever reaching the output.
	const pieces: Array<string[] | null> = outboxIds === null ? [null] : piecesOf([...new Set(outboxIds)], CLAIM_LIMIT);
	const handedOut: INodeExecutionData[] = [];
	for (const [index, piece] of pieces.entries()) {
		try {
			const claimed = await claim(piece);
			if (claimed.length === 0) continue;
			if (delivery === 'confirm') {
				handedOut.push(...claimed.map((item) => toItem(item, executionId, pairedItem)));
				continue;
			}
			const completed = await callRpc(context, 'pipeline_complete_outbox', {
				p_execution_id: executionId,
				p_items: claimed.map((item) => ({ outbox_id: item.outbox_id, outcome: 'delivered' as const })),
			});
			const delivered = new Set(completed.filter((row) => row.outcome === 'delivered').map((row) => row.outbox_id));
			handedOut.push(...claimed.filter((item) => delivered.has(item.outbox_id)).map((item) => toItem(item, executionId, pairedItem)));
		} catch (error) {
			// Nothing handed out yet: the node fails, and every action waits for Claim Automations (a
			// claimed one once its lease ends). Some already handed out (delivered): failing would
			// lose them, so they leave on the output and the rest wait for Claim Automations.
			if (handedOut.length === 0) throw asNodeError(context, error);
			context.logger.warn(
				`Leadflow Auto Assign Stage: handing out automations stopped after ${handedOut.length} (${pieces.length - index} of ${pieces.length} claims left for Claim Automations): ${error instanceof Error ? error.message : String(error)}`,
			);
			break;
		}
	}
	return handedOut;
}

/**
 * The delivery settings of item 0 (one claim per execution of the node), checked against their
 * declarations whoever gives them (nodes/shared/checked-options.ts): a Delivery an expression gives
 * as "Confirm" would otherwise be taken for Mark Delivered When Handed Out (at most once instead of
 * at least once), and a Lease out of 5 to 86,400 would be refused by the database only after the
 * changes were written. Assign and Move read them before writing anything.
 */
export function readDelivery(context: IExecuteFunctions): { delivery: Delivery; leaseSeconds: number } {
	const properties = deliveryProperties({});
	const deliveryProperty = properties.find((property) => property.name === 'automationDelivery')!;
	const leaseProperty = properties.find((property) => property.name === 'automationLeaseSeconds')!;
	const delivery = readCheckedParameter<Delivery>(context, 0, deliveryProperty);
	const leaseSeconds =
		delivery === 'confirm'
			? readCheckedParameter<number>(context, 0, leaseProperty, 'It is how long the workflow has to deliver and report an action before it is handed out again.')
			: DEFAULT_LEASE_SECONDS;
	return { delivery, leaseSeconds };
}

/** The outbox items the database answered a call queued (each row's outbox_ids). */
export function queuedOutboxIds(rows: ReadonlyArray<{ outbox_ids?: string[] | null }>): string[] {
	return rows.flatMap((row) => row.outbox_ids ?? []);
}
