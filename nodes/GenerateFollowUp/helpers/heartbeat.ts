// While a batch is generating, its contacts are held by a short lease (Lease, 180 s by default) that
// this heartbeat renews every third of it: one database call for all the batch's contacts still held
// (automation_renew_generating), however many there are. A worker that dies stops renewing, so its
// contacts are claimable again once that short lease ends, rather than after the time the whole
// batch could take (about 70 minutes for 1,000 contacts at 32 at a time). stop() ends it before the
// results are recorded, waiting for a renewal under way: no timer outlives the batch, and a recorded
// contact's lease is never renewed.
import type { IExecuteFunctions } from 'n8n-workflow';
import { renewGenerating, type HeldContact } from '../transport/stages';

export interface Heartbeat {
	/** Stops renewing and waits for a renewal under way. */
	stop(): Promise<void>;
}

export function startHeartbeat(context: IExecuteFunctions, contacts: readonly HeldContact[], leaseSeconds: number): Heartbeat {
	let held = [...contacts];
	if (held.length === 0) return { stop: async () => undefined };
	let underWay: Promise<void> | undefined;
	const renew = async (): Promise<void> => {
		const { outcomes, failed } = await renewGenerating(context, held, leaseSeconds);
		// Another run holds these now: renewing them again would only be refused again.
		held = held.filter((contact) => outcomes.get(contact.stateId) !== 'lease_lost');
		// A failed call (one per holder and 1,000 contacts): the next beat tries again; if none gets
		// through before the lease ends, the results are recorded as lease_lost and never sent.
		const contactsOf = new Map<unknown, number>();
		for (const error of failed.values()) contactsOf.set(error, (contactsOf.get(error) ?? 0) + 1);
		for (const [error, count] of contactsOf) {
			context.logger.warn(`Generate Follow-Up could not renew the lease of ${count} of its contacts: ${error instanceof Error ? error.message : String(error)}`);
		}
	};
	const timer = setInterval(
		() => {
			// A renewal still under way (a slow database) is not stacked on.
			if (underWay || held.length === 0) return;
			underWay = renew().finally(() => (underWay = undefined));
		},
		Math.max(1, Math.floor((leaseSeconds * 1000) / 3)),
	);
	return {
		async stop() {
			clearInterval(timer);
			await underWay;
		},
	};
}
