// The Graph calls of a batch, one after another in item order, each paced by the Page's rate.
// Before each call the item is checked once more against what changed while earlier items were
// sent: the token refused, throttling that outlasted the retries, the claim's lease run out, the
// 24 h window closed, the execution cancelled. Such items are not tried, and say why.
import type { IExecuteFunctions } from 'n8n-workflow';
import { sendText, type GraphTarget } from '../transport/graphSend';
import { deliver, type BatchSignal, type Delivery } from './deliver';
import type { ItemSettings } from './itemSettings';
import { pacerFor } from './pacer';

export interface PendingSend {
	settings: ItemSettings;
	recipientId: string;
	text: string;
	/** Recorded mode: the contact's Page, the end of its 24 h window and of the claim's lease (epoch ms). */
	pageId?: string;
	windowClosesAt?: number;
	leaseUntil?: number;
}

const notTried = (delivery: Omit<Extract<Delivery, { outcome: 'failed' }>, 'outcome' | 'attempts'>): Delivery => ({
	outcome: 'failed',
	attempts: 0,
	...delivery,
});

function preflight(pending: PendingSend, target: GraphTarget, signal: BatchSignal, cancelled: boolean): Delivery | undefined {
	if (signal.invalidToken) return notTried({ reason: 'invalid_token', retryLater: true, detail: 'not sent: the Page token was refused earlier in this batch' });
	if (signal.throttled) return notTried({ reason: 'throttled', retryLater: true, detail: 'not sent: Facebook throttled this batch' });
	if (cancelled) return notTried({ reason: 'cancelled', retryLater: true, detail: 'not sent: the execution was cancelled' });
	if (pending.pageId !== undefined && pending.pageId !== target.pageId) {
		return notTried({
			reason: 'page_mismatch',
			retryLater: false,
			detail: `the contact belongs to Page ${pending.pageId}, the credential sends as Page ${target.pageId}`,
		});
	}
	const now = Date.now();
	if (pending.leaseUntil !== undefined && now >= pending.leaseUntil) {
		return notTried({ reason: 'lease_expired', retryLater: true, detail: 'not sent: the send lease ran out before this item\'s turn' });
	}
	if (pending.windowClosesAt !== undefined && now >= pending.windowClosesAt) return { outcome: 'skipped', reason: 'outside_window', attempts: 0 };
	return undefined;
}

export async function sendAll(context: IExecuteFunctions, target: GraphTarget, queue: PendingSend[]): Promise<{ deliveries: Delivery[]; signal: BatchSignal }> {
	const signal: BatchSignal = {};
	const pacer = pacerFor(`${target.baseUrl}|${target.pageId}`);
	const cancelSignal = context.getExecutionCancelSignal?.();
	const deliveries: Delivery[] = [];
	for (const pending of queue) {
		const { settings } = pending;
		const skipped = preflight(pending, target, signal, cancelSignal?.aborted === true);
		if (skipped) {
			deliveries.push(skipped);
			continue;
		}
		const call = async () => {
			await pacer.waitForSlot(settings.messagesPerSecond);
			return await sendText(context, target, {
				recipientId: pending.recipientId,
				text: pending.text,
				messagingType: settings.messagingType,
				timeoutMs: settings.timeoutMs,
			});
		};
		deliveries.push(await deliver(call, { retries: settings.retries, backoffMs: settings.backoffMs }, signal));
	}
	return { deliveries, signal };
}
