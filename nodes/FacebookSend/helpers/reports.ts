// What each item says about its send (the `send` field of its output item), which output it goes
// to, and what is written to the ledger for it.
import type { IDataObject } from 'n8n-workflow';
import type { SendOutcomeItem } from '../../shared/contract';
import type { Delivery } from './deliver';
import type { GraphError } from './graphErrors';

export const OUTPUT = { sent: 0, skipped: 1, failed: 2 } as const;
export const OUTPUT_NAMES = ['Sent', 'Skipped', 'Failed'];

export type SendOutcome = 'sent' | 'duplicate' | 'skipped' | 'lease_lost' | 'failed';

export interface SendReport extends IDataObject {
	outcome: SendOutcome;
}

export function outputFor(report: SendReport): number {
	if (report.outcome === 'sent') return OUTPUT.sent;
	if (report.outcome === 'failed') return OUTPUT.failed;
	return OUTPUT.skipped;
}

function graphFields(error: GraphError | undefined): IDataObject {
	if (!error) return {};
	return {
		code: error.code,
		...(error.subcode !== undefined && { subcode: error.subcode }),
		message: error.message,
		...(error.traceId !== undefined && { traceId: error.traceId }),
	};
}

export function reportOf(delivery: Delivery): SendReport {
	switch (delivery.outcome) {
		case 'sent':
			return { outcome: 'sent', messageId: delivery.messageId, attempts: delivery.attempts };
		case 'skipped':
			return { outcome: 'skipped', reason: delivery.reason, ...graphFields(delivery.error), attempts: delivery.attempts };
		case 'failed':
			return {
				outcome: 'failed',
				reason: delivery.reason,
				retryLater: delivery.retryLater,
				...graphFields(delivery.error),
				...(delivery.detail !== undefined && { detail: delivery.detail }),
				attempts: delivery.attempts,
			};
	}
}

function describeError(delivery: Exclude<Delivery, { outcome: 'sent' }>): string | null {
	if (delivery.error) {
		const code = delivery.error.subcode === undefined ? `${delivery.error.code}` : `${delivery.error.code}/${delivery.error.subcode}`;
		return `Graph ${code}: ${delivery.error.message}`;
	}
	return delivery.outcome === 'failed' && delivery.detail !== undefined ? delivery.detail : null;
}

/** The ledger line for a contact that was moved to sending. */
export function ledgerItemOf(stateId: string, delivery: Delivery, retryLaterSeconds: number): SendOutcomeItem {
	if (delivery.outcome === 'sent') return { state_id: stateId, outcome: 'sent', facebook_message_id: delivery.messageId };
	if (delivery.outcome === 'skipped') {
		return { state_id: stateId, outcome: 'skipped', reason: delivery.reason, error_code: delivery.reason, error_message: describeError(delivery) };
	}
	// No answer: maybe delivered. The ledger keeps the guard as uncertain (never resent), as the reaper does.
	if (delivery.reason === 'send_uncertain') return { state_id: stateId, outcome: 'uncertain', error_message: describeError(delivery) };
	return {
		state_id: stateId,
		outcome: 'failed',
		error_code: delivery.reason,
		error_message: describeError(delivery),
		// A retryable failure releases the guard: Facebook delivered nothing. A permanent one keeps
		// it, so the follow-up is never sent again by itself.
		retry_after_seconds: delivery.retryLater ? retryLaterSeconds : null,
	};
}
