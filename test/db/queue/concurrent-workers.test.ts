// Four workers at once over 10,000 messages, each its own Data API client (separate requests, so
// separate database connections), claiming and completing in batches of 100 as the node does. One
// of them dies now and then holding a batch (its messages come back when the lease runs out), and
// some sends fail (retried, then dead). In the end: no message was held by two workers at a time,
// every message ended in exactly one final state, and the metrics equal the ledger's counts.
import type { ClaimedMessage, SendResult } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { addLeads, createOwner, leadItems, ledger, metrics, prepare, RpcError, TOMORROW } from './fixtures';

const ITEMS = 10_000;
const WORKERS = 4;
const LEASE_SECONDS = 300;

/** What the fake sender answers for a message: the same for the same item and attempt. */
function outcome(item: ClaimedMessage): SendResult {
	const n = parseInt(item.item_id.slice(0, 8), 16) + item.attempt * 7;
	if (n % 10 === 0) return { item_id: item.item_id, outcome: 'failed', error: { code: '131000', message: 'Something went wrong' } };
	if (n % 97 === 0) return { item_id: item.item_id, outcome: 'failed', error: { code: '131026', message: 'Message undeliverable', permanent: true } };
	return { item_id: item.item_id, outcome: 'sent', message_id: `wamid.${item.item_id}.${item.attempt}` };
}

describe('four concurrent workers', () => {
	jest.setTimeout(600_000);

	it('over 10,000 messages: none held by two workers at once, each ends in exactly one final state, the metrics equal the ledger', async () => {
		const userId = await createOwner({ daily_capacity: ITEMS, send_from: '00:00', send_until: '23:59', max_attempts: 3, retry_backoff_seconds: 60 });
		for (let i = 0; i < ITEMS; i += 1000) await addLeads(leadItems(userId, 1000, (n) => (i + n) % 101));
		const [prepared] = await prepare(userId);
		expect(prepared.queued).toBe(ITEMS);

		// Thursday's 10,000 slots are spread over the day; on Friday at midnight every one is due.
		let now = Date.parse('2026-11-27T00:00:00.000Z');
		const claims: Array<{ worker: string; item: string; attempt: number; at: number }> = [];
		let accepted = 0;
		let refused = 0;
		const worker = async (name: string) => {
			const client = serviceClient();
			for (let batch = 0; ; batch++) {
				const at = new Date(now).toISOString();
				const claimed = await client.rpc('queue_claim', { p_worker: name, p_limit: 100, p_lease_seconds: LEASE_SECONDS, p_now: at, p_user_id: userId });
				if (claimed.error) throw new RpcError(claimed.error);
				const items = claimed.data as ClaimedMessage[];
				if (items.length === 0) return;
				for (const item of items) claims.push({ worker: name, item: item.item_id, attempt: item.attempt, at: now });
				// The last worker dies holding every seventh batch: nobody reports it.
				if (name === `worker-${WORKERS}` && batch % 7 === 3) continue;
				const done = await client.rpc('queue_complete', { p_worker: name, p_results: items.map(outcome), p_now: at });
				if (done.error) throw new RpcError(done.error);
				for (const row of done.data as Array<{ accepted: boolean }>) {
					if (row.accepted) accepted++;
					else refused++;
				}
			}
		};

		// Rounds: the four run at once until nothing is due, then the clock moves on 10 minutes
		// (past every lease and backoff), until no message waits.
		for (let round = 0; round < 20; round++) {
			await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(`worker-${i + 1}`)));
			const waiting = await withDb(async (db) =>
				(await db.query<{ n: number }>(`select count(*)::int as n from public.whatsapp_message_queue where user_id = $1 and status in ('queued', 'claimed', 'failed')`, [userId])).rows[0].n,
			);
			if (waiting === 0) break;
			now += 10 * 60_000;
		}

		// No message held by two workers at a time: each hand-out is a new attempt, and a message is
		// handed out again only after a report or after the previous holder's lease ran out.
		const attempts = new Set(claims.map((claim) => `${claim.item}#${claim.attempt}`));
		expect(attempts.size).toBe(claims.length);
		const rows = await ledger(userId);
		const messageRows = rows.filter((row) => row.queue === 'whatsapp_message_queue');
		const byItem = new Map<string, typeof messageRows>();
		for (const row of messageRows) byItem.set(row.item_id, [...(byItem.get(row.item_id) ?? []), row]);
		expect(byItem.size).toBe(ITEMS);
		const overlapping = [...byItem].filter(([, history]) =>
			history.some((row, i) => row.reason === 'lease_expired' && row.at.getTime() - history[i - 1].at.getTime() < LEASE_SECONDS * 1000),
		);
		expect(overlapping).toEqual([]);

		// Exactly one final state each, the one the table holds.
		const current = await withDb(async (db) =>
			new Map(
				(await db.query<{ id: string; status: string }>('select id, status from public.whatsapp_message_queue where user_id = $1', [userId])).rows.map((row) => [row.id, row.status]),
			),
		);
		const finals = [...byItem].map(([item, history]) => ({
			item,
			finals: history.filter((row) => ['sent', 'dead', 'cancelled'].includes(row.to_status)).map((row) => row.to_status),
			status: current.get(item),
		}));
		expect(finals.filter((f) => f.finals.length !== 1 || f.finals[0] !== f.status)).toEqual([]);
		const count = (status: string) => finals.filter((f) => f.status === status).length;
		expect(count('sent') + count('dead')).toBe(ITEMS);
		expect(count('dead')).toBeGreaterThan(0);

		// The metrics are the ledger's counts, and the workers' own tally agrees.
		const [day] = await metrics(userId, TOMORROW, TOMORROW);
		expect(day).toMatchObject({
			day: TOMORROW,
			queued: messageRows.filter((row) => row.from_status === null).length,
			sent: messageRows.filter((row) => row.to_status === 'sent').length,
			failed: messageRows.filter((row) => row.from_status === 'claimed' && ['failed', 'dead'].includes(row.to_status)).length,
			cancelled: 0,
			taken_over: 0,
		});
		expect(day.queued).toBe(ITEMS);
		expect(day.sent).toBe(count('sent'));
		expect(accepted).toBe(day.sent + day.failed);
		expect(refused).toBe(0);
		expect(claims.length).toBe(messageRows.filter((row) => row.to_status === 'claimed').length);
		expect(Number(day.mean_processing_seconds)).toBe(0); // the fake sender answers at once (same p_now)
	});
});
