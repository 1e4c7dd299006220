// The daily limit reads each rule's quarter-hour send counts instead of counting the day's ledger.
// The counts are kept by a trigger on the ledger; these tests hold them to the count they replace,
// through every way the ledger changes, and in time zones whose midnight is not on the hour.
import type { Client } from 'pg';
import { serviceClient, userClient, withDb } from '../../helpers/stack';
import { at, createWorld, localTime, NOW } from './fixtures';

const COUNTED = `status in ('sending', 'sent', 'uncertain')`;

/** Sends since local midnight in `timeZone`: from the counts (what the claim uses) and from the ledger. */
async function sendsToday(db: Client, ruleId: string, timeZone: string, now = NOW.toISOString()) {
	const { rows } = await db.query<{ counted: number; ledger: number }>(
		`select leadflow_private.automation_rule_usage($1, $2, $3) as counted,
		        (select count(*)::int from public.ai_automation_executions e
		          where e.rule_id = $1 and e.${COUNTED} and e.attempted_at >= leadflow_private.automation_local_day_start($2, $3)) as ledger`,
		[ruleId, timeZone, now],
	);
	return rows[0];
}

/** One ledger row per conversation, attempted at the given times, in one statement. */
async function attempt(db: Client, ruleId: string, conversationIds: string[], attemptedAt: string[], status = 'sending') {
	await db.query(
		`insert into public.ai_automation_executions (user_id, rule_id, conversation_id, follow_up_number, status, attempted_at)
		 select r.user_id, r.id, c.id, 1, $4, c.attempted_at
		   from public.ai_automation_rules r, unnest($2::uuid[], $3::timestamptz[]) as c (id, attempted_at)
		  where r.id = $1`,
		[ruleId, conversationIds, attemptedAt, status],
	);
}

describe("a rule's send counts (the daily limit)", () => {
	it('follow every insert, status change and delete of the ledger', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const contacts = await world.contacts(6);
		await withDb(async (db) => {
			// Yesterday, early today, just now: only today's count.
			await attempt(db, ruleId, contacts, [at(-30), at(-11.9), at(-3), at(-0.2), at(-0.1), at(0)]);
			expect(await sendsToday(db, ruleId, 'UTC')).toEqual({ counted: 5, ledger: 5 });

			// Facebook refused one (released), one failed for good, one is uncertain, one was sent.
			await db.query(
				`update public.ai_automation_executions e
				    set status = case e.conversation_id when $2 then 'released' when $3 then 'failed' when $4 then 'uncertain' else 'sent' end
				  where e.rule_id = $1 and e.conversation_id = any ($5)`,
				[ruleId, contacts[1], contacts[2], contacts[3], [contacts[1], contacts[2], contacts[3], contacts[4]]],
			);
			expect(await sendsToday(db, ruleId, 'UTC')).toEqual({ counted: 3, ledger: 3 });

			// A released follow-up tried again: counted again.
			await attempt(db, ruleId, [contacts[1]], [at(0)]);
			expect(await sendsToday(db, ruleId, 'UTC')).toEqual({ counted: 4, ledger: 4 });

			// A conversation deleted with its ledger.
			await db.query('delete from public.messenger_conversations where id = $1', [contacts[4]]);
			expect(await sendsToday(db, ruleId, 'UTC')).toEqual({ counted: 3, ledger: 3 });
		});
	});

	it("start at local midnight in any time zone, including those a quarter or half hour off the hour", async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		// Around each zone's midnight before NOW (12:00 UTC): one minute before it and one minute after.
		// Offsets: Kathmandu +05:45, Kolkata +05:30, Eucla +08:45, St John's -03:30 (-02:30 in summer), Paris +01:00 (+02:00).
		const zones: Array<[string, string]> = ['Asia/Kathmandu', 'Asia/Kolkata', 'Australia/Eucla', 'America/St_Johns', 'Europe/Paris'].map(
			(zone) => [zone, localTime(zone, '00:00').toISOString()],
		);
		await withDb(async (db) => {
			for (const [timeZone, midnight] of zones) {
				const start = new Date(midnight).getTime();
				const contacts = await world.contacts(2);
				await attempt(db, ruleId, contacts, [new Date(start - 60_000).toISOString(), new Date(start + 60_000).toISOString()]);
				const { rows } = await db.query('select leadflow_private.automation_local_day_start($1, $2) as start', [timeZone, NOW.toISOString()]);
				expect({ timeZone, start: rows[0].start.toISOString() }).toEqual({ timeZone, start: new Date(midnight).toISOString() });
			}
			for (const [timeZone] of zones) {
				const today = await sendsToday(db, ruleId, timeZone);
				expect({ timeZone, ...today }).toEqual({ timeZone, counted: today.ledger, ledger: today.ledger });
			}
			// St John's midnight is the latest of them: only its "one minute after" counts there.
			expect((await sendsToday(db, ruleId, 'America/St_Johns')).counted).toBe(1);
		});
	});

	it('are written only by their trigger, and read by their owner only', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await withDb(async (db) => attempt(db, ruleId, await world.contacts(2), [at(-1), at(-1)]));
		const own = await userClient(world.userId, { now: NOW }).from('ai_automation_rule_send_counts').select('sends').eq('rule_id', ruleId);
		expect(own).toMatchObject({ error: null, data: [{ sends: 2 }] });
		const stranger = await userClient((await createWorld()).userId, { now: NOW }).from('ai_automation_rule_send_counts').select('sends').eq('rule_id', ruleId);
		expect(stranger).toMatchObject({ error: null, data: [] });
		const forged = await serviceClient({ now: NOW }).from('ai_automation_rule_send_counts').insert({ rule_id: ruleId, user_id: world.userId, slot: NOW.toISOString(), sends: 1000 });
		expect(forged.error?.code).toBe('42501');
		// A truncate of the ledger fires no delete trigger and would leave the counts behind.
		await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query('set local role service_role');
				await expect(db.query('truncate public.ai_automation_executions')).rejects.toMatchObject({ code: '42501' });
			} finally {
				await db.query('rollback');
			}
		});
	});
});
