// scripts/demo/queue.ts prints Run Now's answer as the shipped workflow counts it: every count,
// cancelled included (a message whose lead was taken over while it was being sent). Before, the line
// left cancelled out, so a run's counts did not add up to what it claimed.
import { printQueueDemo, type QueueDemo } from '../../scripts/demo/queue';

test('the run line prints every count of Run Now, cancelled included', () => {
	const demo: QueueDemo = {
		added: { created: 3 },
		refused: [],
		yesterday: { day: '2026-12-01', queued: 3, skipped: {} },
		tomorrow: { day: '2026-12-03', queued: 0, skipped: {} },
		takenOver: { name: 'Lead 1', cancelled: 1 },
		run: { claimed: 5, sent: 1, failed: 1, dead: 0, released: 1, cancelled: 2, refused: 0, errors: [{ code: '131056', count: 1 }] },
		statuses: { sent: 1 },
		csv: { rows: 0, header: 'item_id', firstRow: '' },
		metrics: { day: '2026-12-01', queued: 3, sent: 1, failed: 1, cancelled: 2, taken_over: 1 },
		seconds: 1,
	};
	const lines: string[] = [];
	const log = console.log;
	console.log = (...args: unknown[]) => void lines.push(args.join(' '));
	try {
		printQueueDemo(demo);
	} finally {
		console.log = log;
	}
	expect(lines.join('\n')).toMatch(
		/run \(Run Now\): claimed 5, sent 1, failed 1 \(due again later\), dead 0, released 1, cancelled 2 \(taken over while being sent\), refused 0; Meta's errors: 131056 ×1\n/,
	);
});

test('the reasons a lead was left out of a day are said in words, and Meta\'s codes point at docs/whatsapp.md', () => {
	const demo: QueueDemo = {
		added: { created: 3 },
		refused: [],
		yesterday: { day: '2026-12-01', queued: 20, skipped: { over_capacity: 3, taken_over: 0 } },
		tomorrow: { day: '2026-12-03', queued: 0, skipped: { not_a_sending_day: 2 } },
		takenOver: { name: 'Lead 1', cancelled: 1 },
		run: { claimed: 1, sent: 0, failed: 0, dead: 1, released: 0, cancelled: 0, refused: 0, errors: [{ code: '131026', count: 1 }] },
		statuses: { dead: 1 },
		csv: { rows: 0, header: 'item_id', firstRow: '' },
		metrics: { day: '2026-12-01', queued: 20, sent: 0, failed: 1, cancelled: 0, taken_over: 0 },
		seconds: 1,
	};
	const lines: string[] = [];
	const log = console.log;
	console.log = (...args: unknown[]) => void lines.push(args.join(' '));
	try {
		printQueueDemo(demo);
	} finally {
		console.log = log;
	}
	const out = lines.join('\n');
	expect(out).toContain("  left out: over_capacity, eligible, but the day's capacity was used; not_a_sending_day, that day is not one of the sending days.\n");
	expect(out).not.toContain('taken_over, ');
	expect(out).toContain("Meta's error codes and what each leads to: docs/whatsapp.md");
});
