// The due judgement: every reason a tagged contact is not due, with the time it will be, and the
// promise that a contact is visible the moment it is tagged, before any processing.
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { addMessage, at, createWorld, localTime, nextWeekdayAt, NOW } from './fixtures';
import { claim, explain, generate, judgementOf, rpc, runPipeline } from './stage-helpers';
import type { AutomationSnapshot, ClaimExplained, ContactJudgement, EligibleContact } from '../../../nodes/shared/contract';

const service = serviceClient({ now: NOW });
const plus = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);

describe('a contact tagged a moment ago (visible the moment it is tagged)', () => {
	it('shows in automation_eligible_contacts and the snapshot before any processing', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact({ name: 'John Doe', tags: ['AI Lead', 'Hot'] });

		const { data, error } = await userClient(world.userId, { now: NOW }).from('automation_eligible_contacts').select('*').eq('rule_id', ruleId);
		expect(error).toBeNull();
		const rows = data as EligibleContact[];
		expect(rows).toHaveLength(1);
		expect(rows[0]).toMatchObject({
			conversation_id: conversationId,
			sender_name: 'John Doe',
			matching_tags: ['AI Lead'],
			current_stage: null,
			is_being_processed: false,
			contact_status: 'eligible',
			status_reason: null,
		});
		const states = await withDb((db) => db.query('select 1 from public.ai_automation_contact_states where conversation_id = $1', [conversationId]));
		expect(states.rowCount).toBe(0);

		const snapshot = await rpc<AutomationSnapshot>(service, 'automation_snapshot', { p_rule_id: ruleId, p_now: NOW.toISOString() });
		expect(snapshot.stats).toMatchObject({ total_with_tags: 1, eligible_count: 1, active_count: 0, sent_today_count: 0 });
		expect(snapshot.eligibleContacts.map((row) => row.conversation_id)).toEqual([conversationId]);
		expect(snapshot.activeContacts).toEqual([]);
		expect(snapshot.stages.map((stage) => stage.stage)).toEqual([
			'queued', 'checking', 'eligible', 'generating', 'ready_to_send', 'sending', 'sent', 'failed', 'skipped', 'completed',
		]);
	});
});

describe('every reason a tagged contact is not due', () => {
	it('excluded_tag, inactive, stopped, outside_window, rule_disabled', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ exclude: ['Do Not Contact'] });
		const due = await world.contact();
		const excluded = await world.contact({ tags: ['AI Lead', 'Do Not Contact'] });
		const inactive = await world.contact({ isActive: false });
		const stopped = await world.contact();
		const silent = await world.contact({ lastMessageHoursAgo: 30 });
		const neverWrote = await world.contact({ lastMessageHoursAgo: null });
		await world.contact({ tags: ['Hot'] }); // not carrying the rule's tag: not listed at all
		await withDb((db) =>
			db.query(`insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, null, 'human_takeover')`, [
				world.userId,
				stopped,
			]),
		);

		const byId = new Map((await explain(service, ruleId)).map((row) => [row.conversation_id, row]));
		expect(byId.size).toBe(6);
		expect(byId.get(due)).toMatchObject({ due: true, reason: null, contact_status: 'eligible', due_at: NOW.toISOString().replace('.000Z', '+00:00') });
		expect(byId.get(excluded)).toMatchObject({ due: false, reason: 'excluded_tag', contact_status: 'skipped' });
		expect(byId.get(inactive)).toMatchObject({ reason: 'inactive' });
		expect(byId.get(stopped)).toMatchObject({ reason: 'stopped', stop_reason: 'human_takeover', contact_status: 'stopped' });
		expect(byId.get(silent)).toMatchObject({ reason: 'outside_window', due_at: null });
		expect(byId.get(neverWrote)).toMatchObject({ reason: 'outside_window' });

		await withDb((db) => db.query('update public.ai_automation_rules set enabled = false where id = $1', [ruleId]));
		expect((await judgementOf(service, ruleId, due)).reason).toBe('rule_disabled');
		expect(await claim(service, ruleId, 'exec-disabled')).toEqual([]);
	});

	it('in_progress while claimed, then interval_not_elapsed, then max_follow_ups after the last one', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ maxFollowUps: 2, minHours: 4 });
		const conversationId = await world.contact({ lastMessageHoursAgo: 1 });

		const [claimed] = await claim(service, ruleId, 'exec-a');
		expect(claimed).toMatchObject({ conversation_id: conversationId, follow_up_number: 1 });
		expect((await judgementOf(service, ruleId, conversationId)).reason).toBe('in_progress');
		expect(await claim(service, ruleId, 'exec-b')).toEqual([]);

		await generate(service, 'exec-a', [claimed.state_id]);
		const { sent } = await (async () => {
			const begun = await rpc<Array<{ outcome: string; attempt_id: string }>>(service, 'automation_begin_send', {
				p_execution_id: 'exec-a', p_state_ids: [claimed.state_id], p_now: NOW.toISOString(),
			});
			expect(begun[0].outcome).toBe('send');
			return {
				sent: await rpc<Array<{ outcome: string }>>(service, 'automation_record_send', {
					p_execution_id: 'exec-a', p_items: [{ state_id: claimed.state_id, outcome: 'sent', facebook_message_id: 'm_1' }], p_now: NOW.toISOString(),
				}),
			};
		})();
		expect(sent[0].outcome).toBe('sent');

		const soon = await judgementOf(service, ruleId, conversationId, plus(1));
		expect(soon).toMatchObject({ reason: 'interval_not_elapsed', contact_status: 'recently_sent', follow_up_count: 1 });
		expect(new Date(soon.due_at!).toISOString()).toBe(plus(4).toISOString());

		const second = await runPipeline(service, ruleId, 'exec-c', plus(5));
		expect(second.claimed.map((contact) => contact.follow_up_number)).toEqual([2]);
		expect(second.sent.map((row) => row.outcome)).toEqual(['completed']);
		expect((await judgementOf(service, ruleId, conversationId, plus(10))).reason).toBe('max_follow_ups');
	});

	it('failed: a permanent failure waits for a person; a retryable one is due again at retry_at', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const [permanent, retryable] = await world.contacts(2);
		const claimed = await claim(service, ruleId, 'exec-f');
		const stateOf = (conversationId: string) => claimed.find((row) => row.conversation_id === conversationId)!.state_id;
		await rpc(service, 'automation_mark_generating', { p_execution_id: 'exec-f', p_state_ids: claimed.map((row) => row.state_id), p_now: NOW.toISOString() });
		const results = await rpc<Array<{ state_id: string; outcome: string }>>(service, 'automation_record_generation', {
			p_execution_id: 'exec-f',
			p_items: [
				{ state_id: stateOf(permanent), error_code: 'blocked', error_message: 'SAFETY' },
				{ state_id: stateOf(retryable), error_code: 'quota', error_message: 'all keys exhausted', retry_after_seconds: 1800 },
			],
			p_now: NOW.toISOString(),
		});
		expect(results.map((row) => row.outcome)).toEqual(['failed', 'failed']);
		expect(await judgementOf(service, ruleId, permanent)).toMatchObject({ reason: 'failed', due_at: null });
		const waiting = await judgementOf(service, ruleId, retryable);
		expect(waiting.reason).toBe('failed');
		expect(new Date(waiting.due_at!).toISOString()).toBe(plus(0.5).toISOString());
		expect((await claim(service, ruleId, 'exec-g', 10, plus(1))).map((row) => row.conversation_id)).toEqual([retryable]);
	});

	it('daily_limit_reached counts today\'s sends and contacts claimed but not yet sent', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 3 });
		await world.contacts(5);
		const first = await claim(service, ruleId, 'exec-d1', 2);
		expect(first).toHaveLength(2);
		await runPipeline(service, ruleId, 'exec-d2', NOW, 10);
		const rows = await explain(service, ruleId);
		const notClaimed = rows.filter((row) => row.current_stage === null);
		expect(notClaimed).toHaveLength(2);
		for (const row of notClaimed) {
			expect(row.reason).toBe('daily_limit_reached');
			expect(new Date(row.due_at!).toISOString()).toBe(localTime('UTC', '00:00', 1).toISOString());
		}
		expect(await claim(service, ruleId, 'exec-d3')).toEqual([]);
		// An abandoned claim stops counting when its lease runs out, in the monitor as in the claim.
		const later = plus(0.5);
		const afterLease = await explain(service, ruleId, later);
		expect(afterLease.filter((row) => row.reason === 'daily_limit_reached')).toHaveLength(0);
		// Tomorrow the limit starts again (the windows are still open): 3 of the 5 now due, no more.
		expect(await claim(service, ruleId, 'exec-d4', 10, localTime('UTC', '00:30', 1))).toHaveLength(3);
	});
});

describe('what a state row alone says (the claims pass those contacts over unjudged)', () => {
	// Every kind of state: each stage (and none), a lease running or run out, a retry pending or due,
	// under, at and over the maximum, inside and past the interval, skipped for the window (Facebook's
	// refusal), for another reason or never, claimed before or after the person's last message (an
	// hour ago), on a Page of the rule's owner or of another owner. The rule is otherwise open, so the
	// judgement's reason is the state's own, none, (a send refused for the window, the person silent
	// since its claim) outside_window, or (another owner's Page) page_of_another_owner.
	const grid = `
		select g.*,
		       leadflow_private.automation_state_reason($1::timestamptz, g.stage, g.locked_until, g.retry_at, g.follow_up_count, g.last_follow_up_at, 3, 24) as state_reason,
		       leadflow_private.automation_reason_of($1::timestamptz, g.stage, g.locked_until, g.retry_at, g.follow_up_count, g.last_follow_up_at,
		                                             g.skip_reason, g.claimed_at,
		                                             true, 3, 24, 10, true, 0, false, g.other_owner, true, null, $1::timestamptz - interval '1 hour') as judged,
		       g.stage = 'skipped' and g.skip_reason = 'outside_window' and g.claimed_at > $1::timestamptz - interval '1 hour' as refused_since
		  from unnest(array[null, 'queued', 'checking', 'eligible', 'generating', 'ready_to_send', 'sending', 'sent', 'failed', 'skipped', 'completed']) stage
		 cross join unnest(array[null, $1::timestamptz - interval '1 minute', $1::timestamptz + interval '1 minute']::timestamptz[]) locked_until
		 cross join unnest(array[null, $1::timestamptz - interval '1 minute', $1::timestamptz + interval '1 minute']::timestamptz[]) retry_at
		 cross join unnest(array[null, 0, 2, 3, 4]::integer[]) follow_up_count
		 cross join unnest(array[null, $1::timestamptz - interval '24 hours', $1::timestamptz - interval '23 hours']::timestamptz[]) last_follow_up_at
		 cross join unnest(array[null, 'outside_window', 'unavailable']) skip_reason
		 cross join unnest(array[null, $1::timestamptz - interval '2 hours', $1::timestamptz - interval '30 minutes']::timestamptz[]) claimed_at
		 cross join unnest(array[false, true]) other_owner
		 cross join lateral (select stage, locked_until, retry_at, follow_up_count, last_follow_up_at, skip_reason, claimed_at, other_owner) g`;

	it('gives the judgement\'s reason for every kind of state, and no reason where the judgement finds none but a window refusal', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ state_reason: string | null; judged: string | null; refused_since: boolean | null; other_owner: boolean }>(grid, [NOW.toISOString()]),
		);
		expect(rows).toHaveLength(11 * 3 * 3 * 5 * 3 * 3 * 3 * 2);
		// Where the state gives a reason, the judgement gives it; where it gives none, the judgement
		// finds none either, except outside_window for a send Facebook refused for the window with no
		// message from the person since its claim: that needs the conversation's last message, which
		// the state's part does not read (the claims judge such a contact: migration …1660).
		// On another owner's Page the judgement says page_of_another_owner whatever the state, but
		// in_progress: where the explained claim counts the contacts it passes over on their state
		// (in_progress first, then page_of_another_owner; migrations …1620, …1690).
		const disagreeing = rows.filter((row) =>
			row.state_reason === 'in_progress'
				? row.judged !== 'in_progress'
				: row.other_owner
					? row.judged !== 'page_of_another_owner'
					: row.state_reason !== null
						? row.judged !== row.state_reason
						: row.judged !== (row.refused_since ? 'outside_window' : null),
		);
		expect(disagreeing).toEqual([]);
		expect(rows.filter((row) => row.state_reason === null && row.judged === 'outside_window').length).toBeGreaterThan(0);
		// Another owner's Page comes before each of the state's reasons but in_progress.
		expect(new Set(rows.filter((row) => row.judged === 'page_of_another_owner').map((row) => row.state_reason))).toEqual(
			new Set([null, 'failed', 'max_follow_ups', 'interval_not_elapsed']),
		);
		// The grid reaches each of the state's reasons, and states that give none.
		expect(new Set(rows.map((row) => row.state_reason))).toEqual(new Set([null, 'in_progress', 'failed', 'max_follow_ups', 'interval_not_elapsed']));
	});

	it('is inlined into the claims\' statements (the planner writes it out), run as the service role', async () => {
		const plan = await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query('set local role service_role');
				const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
					`explain (verbose, format json)
					 select leadflow_private.automation_state_reason($1, s.current_stage, s.locked_until, s.retry_at, s.follow_up_count, s.last_follow_up_at, 3, 24)
					   from public.ai_automation_contact_states s`,
					[NOW.toISOString()],
				);
				return JSON.stringify(rows[0]['QUERY PLAN']);
			} finally {
				await db.query('rollback');
			}
		});
		expect(plan).toContain('interval_not_elapsed');
		expect(plan).not.toContain('automation_state_reason');
	});
});

describe('active hours, time zones and days of week', () => {
	it('judges hours in the rule\'s zone and says when they open', async () => {
		const world = await createWorld();
		// 12:00 UTC on Wednesday is 07:00 in New York (08:00 in summer time).
		const ruleId = await world.rule({ activeHours: { start: '09:00', end: '17:00', timeZone: 'America/New_York' } });
		const conversationId = await world.contact({ lastMessageHoursAgo: 0.5 });
		const early = await judgementOf(service, ruleId, conversationId);
		expect(early.reason).toBe('outside_active_hours');
		expect(new Date(early.due_at!).toISOString()).toBe(localTime('America/New_York', '09:00').toISOString());
		expect(await claim(service, ruleId, 'exec-h1')).toEqual([]);
		expect((await judgementOf(service, ruleId, conversationId, plus(3))).reason).toBeNull();
		expect(await claim(service, ruleId, 'exec-h2', 10, plus(3))).toHaveLength(1);
	});

	it('skips days that are not active and finds the next active day', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ activeHours: { start: '09:00', end: '17:00', timeZone: 'Europe/Paris', days: [1, 2] } });
		const conversationId = await world.contact();
		const judgement = await judgementOf(service, ruleId, conversationId);
		expect(judgement.reason).toBe('outside_active_hours');
		// Next Monday 09:00 in Paris, in the offset Paris has on that Monday (DST may change over the weekend):
		// when the rule's hours begin (the monitor's next_active_at)...
		const monday = nextWeekdayAt('Europe/Paris', 1, '09:00').toISOString();
		const monitor = await rpc<{ stats: { next_active_at: string } }>(service, 'automation_monitor_page', { p_rule_id: ruleId, p_now: NOW.toISOString() });
		expect(new Date(monitor.stats.next_active_at).toISOString()).toBe(monday);
		// ...but the contact's 24 h window closes long before: no due time (nothing is sent by waiting).
		expect(judgement.due_at).toBeNull();
		expect(new Date(judgement.window_closes_at!).getTime()).toBeLessThan(Date.parse(monday));
	});

	it('an overnight window belongs to the day it starts on', async () => {
		const world = await createWorld();
		// Tuesday 22:00 → Wednesday 02:00, London. Wednesday 01:00 is inside; 03:00 and 23:00 (Wednesday's own
		// evening, not an active day) are not.
		const ruleId = await world.rule({ activeHours: { start: '22:00', end: '02:00', timeZone: 'Europe/London', days: [2] } });
		const conversationId = await world.contact({ lastMessageHoursAgo: 12 });
		expect((await judgementOf(service, ruleId, conversationId, localTime('Europe/London', '01:00'))).reason).toBeNull();
		expect((await judgementOf(service, ruleId, conversationId, localTime('Europe/London', '23:00'))).reason).toBe('outside_active_hours');
		expect((await judgementOf(service, ruleId, conversationId, localTime('Europe/London', '03:00'))).reason).toBe('outside_active_hours');
	});

	it('start = end is the whole day: an inactive day ends at the next active day\'s midnight, not at the start time', async () => {
		// 09:00–09:00 is the whole of each active day (automation_in_active_hours), so the claims begin
		// at midnight; the next start used to be said at 09:00.
		const nextStart = (zone: string, at: string) =>
			withDb((db) =>
				db.query<{ next: Date; inside: boolean; before: boolean }>(
					`select leadflow_private.automation_next_active_start('09:00', '09:00', '{1,2,3,4,5}', $1, $2) as next,
					        leadflow_private.automation_in_active_hours('09:00', '09:00', '{1,2,3,4,5}', $1,
					          leadflow_private.automation_next_active_start('09:00', '09:00', '{1,2,3,4,5}', $1, $2)) as inside,
					        leadflow_private.automation_in_active_hours('09:00', '09:00', '{1,2,3,4,5}', $1,
					          leadflow_private.automation_next_active_start('09:00', '09:00', '{1,2,3,4,5}', $1, $2) - interval '1 second') as before`,
					[zone, at],
				),
			).then(({ rows }) => ({ ...rows[0], next: rows[0].next.toISOString() }));
		// Saturday 28 November 2026 → Monday 30 November, 00:00 in Paris (UTC+1) and in New York (UTC-5).
		expect(await nextStart('Europe/Paris', '2026-11-28T12:00:00Z')).toEqual({ next: '2026-11-29T23:00:00.000Z', inside: true, before: false });
		expect(await nextStart('America/New_York', '2026-11-28T12:00:00Z')).toEqual({ next: '2026-11-30T05:00:00.000Z', inside: true, before: false });
		// Saturday 27 March 2027, the night before Paris moves to summer time: Monday 00:00 is UTC+2.
		expect(await nextStart('Europe/Paris', '2027-03-27T12:00:00Z')).toEqual({ next: '2027-03-28T22:00:00.000Z', inside: true, before: false });
		// Inside the hours (Monday 05:00 in Paris), the instant itself.
		expect(await nextStart('Europe/Paris', '2026-11-30T04:00:00Z')).toEqual({ next: '2026-11-30T04:00:00.000Z', inside: true, before: true });

		// What the judgement and the claim's summary say: NOW is a Wednesday; Monday and Tuesday only.
		const world = await createWorld();
		const ruleId = await world.rule({ activeHours: { start: '09:00', end: '09:00', timeZone: 'Europe/Paris', days: [1, 2] } });
		const conversationId = await world.contact();
		const monday = nextWeekdayAt('Europe/Paris', 1, '00:00').toISOString();
		const judgement = await judgementOf(service, ruleId, conversationId);
		expect(judgement.reason).toBe('outside_active_hours');
		// The contact's 24 h window closes before Monday: no due time for it, the rule's hours still Monday's.
		expect(judgement.due_at).toBeNull();
		const explained = await rpc<ClaimExplained>(service, 'automation_claim_explained', {
			p_rule_id: ruleId,
			p_limit: 10,
			p_execution_id: 'exec-whole-day',
			p_now: NOW.toISOString(),
		});
		expect(explained.summary.claimed).toBe(0);
		expect(explained.summary.rules).toEqual([expect.objectContaining({ status: 'outside_active_hours', inActiveHours: false })]);
		expect(new Date(explained.summary.rules[0].nextActiveAt!).toISOString()).toBe(monday);
	});

	it('rejects a time zone Postgres does not know, and tags of another owner', async () => {
		const world = await createWorld();
		await expect(world.rule({ activeHours: { start: '09:00', end: '17:00', timeZone: 'Mars/Olympus_Mons' } })).rejects.toThrow(
			/time zone "Mars\/Olympus_Mons" is not known/,
		);
		const other = await createWorld(['Foreign']);
		await expect(
			withDb((db) =>
				db.query(`insert into public.ai_automation_rules (user_id, name, include_tag_ids, instructions) values ($1, 'x', $2, 'y')`, [
					world.userId,
					[other.tags.Foreign],
				]),
			),
		).rejects.toThrow(/belongs to another owner/);
	});
});

describe('tag matching', () => {
	it('all: a contact needs every included tag', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ include: ['AI Lead', 'Hot'], tagMatch: 'all' });
		const both = await world.contact({ tags: ['AI Lead', 'Hot'] });
		await world.contact({ tags: ['AI Lead'] });
		const rows = await explain(service, ruleId);
		expect(rows.map((row) => row.conversation_id)).toEqual([both]);
		expect(rows[0].matching_tags).toEqual(['AI Lead', 'Hot']);
	});

	it('a reply after the last follow-up stops the contact with a stop row; deleting the row resumes it', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ minHours: 1 });
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		await runPipeline(service, ruleId, 'exec-r1');
		await addMessage(conversationId, 'inbound', at(0.5), 'thanks, not now');
		expect(await judgementOf(service, ruleId, conversationId, plus(3))).toMatchObject({ reason: 'stopped', stop_reason: 'replied' });
		const stops = () => withDb((db) => db.query('select reason from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect((await stops()).rows).toEqual([{ reason: 'replied' }]);

		// The owner resumes the contact: the judgement reads stop rows only, so it is due again.
		await userClient(world.userId, { now: NOW }).from('ai_automation_stops').delete().eq('conversation_id', conversationId).throwOnError();
		expect(await judgementOf(service, ruleId, conversationId, plus(3))).toMatchObject({ reason: null, due: true });

		// The next follow-up goes out; then a reply recorded by an import (the conversation's time
		// moved, no message row) stops the contact the same way.
		const { sent } = await runPipeline(service, ruleId, 'exec-r2', plus(3));
		expect(sent.map((item) => item.outcome)).toEqual(['sent']);
		expect((await stops()).rows).toEqual([]);
		await withDb((db) =>
			db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, at(3.5)]),
		);
		expect((await stops()).rows).toEqual([{ reason: 'replied' }]);
		expect(await judgementOf(service, ruleId, conversationId, plus(6))).toMatchObject({ reason: 'stopped', stop_reason: 'replied' });
	});
});

describe('explain across rules: the due contacts are never hidden by a limit filled with others', () => {
	it('only due: the limit counts due contacts; without the filter the due ones of every rule come first', async () => {
		const world = await createWorld();
		// Two rules of different tags. The contacts of the rule whose id sorts first are all not due
		// (60, more than the limit), the other rule's 10 are due: before, the rows went rule by rule,
		// so a limit of 50 held only the first rule's, and none was due.
		const byTag = { 'AI Lead': await world.rule({ include: ['AI Lead'] }), Hot: await world.rule({ include: ['Hot'] }) };
		const [firstTag, secondTag] = (Object.keys(byTag) as Array<keyof typeof byTag>).sort((a, b) => (byTag[a] < byTag[b] ? -1 : 1));
		const notDue = await world.contacts(60, { tags: [firstTag], lastMessageHoursAgo: 30 });
		const due = await world.contacts(10, { tags: [secondTag] });
		const args = { p_rule_id: null, p_conversation_ids: [...notDue, ...due], p_limit: 50, p_now: NOW.toISOString() };

		const onlyDue = await rpc<ContactJudgement[]>(service, 'automation_explain', { ...args, p_only_due: true });
		expect(onlyDue.map((row) => row.conversation_id).sort()).toEqual([...due].sort());
		expect(onlyDue.every((row) => row.due && row.rule_id === byTag[secondTag])).toBe(true);

		const all = await rpc<ContactJudgement[]>(service, 'automation_explain', args);
		expect(all).toHaveLength(50);
		expect(all.slice(0, 10).map((row) => row.conversation_id).sort()).toEqual([...due].sort());
		expect(all.slice(10).every((row) => row.reason === 'outside_window' && row.rule_id === byTag[firstTag])).toBe(true);

		// A call naming only the old arguments is the same function, unfiltered.
		expect(await rpc<ContactJudgement[]>(service, 'automation_explain', { ...args, p_rule_id: byTag[firstTag] })).toHaveLength(50);
	});
});
