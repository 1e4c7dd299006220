// A failed contact's row in the console's monitor (automation_monitor_page) carries its retry_at, so
// the console tells a failed contact whose retry falls after its 24 h window closes (no due_at since
// migration …1830, but a retry of its own) from one that failed for good (no retry at all): both
// have due_at null (migration 20261201001860_console_monitor_page_retry_at.sql; before it, the row
// had no retry_at and the console said "Failed, no retry" of both). Fixed instants.
import { serviceClient } from '../../helpers/stack';
import { contactReasonInWords } from '../../../console/src/format';
import type { MonitorPage } from '../../../nodes/shared/contract/console';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, recordSend, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plus = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);
const instant = (value: string | null | undefined) => (value ? new Date(value).toISOString() : value);

it('a failed contact whose retry comes after its window closes has retry_at and no due_at; one failed for good has neither', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({});
	// Both wrote 21 h before NOW: their windows close at NOW + 3 h.
	const late = await world.contact({ name: 'Retry after the window', lastMessageHoursAgo: 21 });
	const refused = await world.contact({ name: 'Refused for good', lastMessageHoursAgo: 21 });
	const claimed = await claim(service, ruleId, 'exec-failed-rows', 10, NOW);
	const stateOf = (conversationId: string) => claimed.find((contact) => contact.conversation_id === conversationId)!.state_id;
	const stateIds = [stateOf(late), stateOf(refused)];
	await generate(service, 'exec-failed-rows', stateIds, NOW);
	expect((await beginSend(service, 'exec-failed-rows', stateIds, NOW)).map((row) => row.outcome)).toEqual(['send', 'send']);
	// Facebook asks for a retry in 4 h (after the window's close) for one; refuses the other for good.
	await recordSend(service, 'exec-failed-rows', [
		{ state_id: stateOf(late), outcome: 'failed', error_code: 'throttled', error_message: 'Graph 613', retry_after_seconds: 4 * 3600 },
		{ state_id: stateOf(refused), outcome: 'failed', error_code: 'send_failed', error_message: 'Graph 100' },
	]);

	const page = await rpc<MonitorPage>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: plus(1).toISOString() });
	const rows = new Map(page.contacts!.rows.map((row) => [row.conversation_id, row]));
	const fields = (conversationId: string) => {
		const row = rows.get(conversationId)!;
		return [row.status_reason, instant(row.due_at), instant(row.window_closes_at), instant(row.retry_at)];
	};
	expect(fields(late)).toEqual(['failed', null, plus(3).toISOString(), plus(4).toISOString()]);
	expect(fields(refused)).toEqual(['failed', null, plus(3).toISOString(), null]);

	// What the console then says of each row (its words from these fields, read at NOW + 1 h).
	const words = (conversationId: string) => {
		const row = rows.get(conversationId)!;
		return contactReasonInWords(row.status_reason!, row.stop_reason, row.due_at, row.window_closes_at, plus(1).getTime(), row.retry_at);
	};
	expect(words(late)).toBe('Failed: its retry would come after the 24-hour window closes: no follow-up unless they write again');
	expect(words(refused)).toBe('Failed, no retry: Requeue it once the cause is fixed');
});
