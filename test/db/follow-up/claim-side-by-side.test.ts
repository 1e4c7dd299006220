// Claims of one rule side by side (migration 20261201001420_follow_up_claim_rule_locked_last.sql):
// a claim walks, holds its candidates' conversations and writes without its rule's lock, and locks
// the rule's row only at its end to count the day's use. Each test keeps the first claim's
// transaction open on its own connection, so what the second one does meanwhile can be seen.
import { Client } from 'pg';
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { serviceClient, testStack, untilWaitingForLock, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, recordSend } from './stage-helpers';

const connections: Client[] = [];
async function connect(): Promise<Client> {
	const db = new Client({ connectionString: testStack().dbUrl });
	await db.connect();
	connections.push(db);
	return db;
}

afterEach(async () => {
	for (const db of connections.splice(0)) await db.end();
});

async function claimOn(db: Client, ruleId: string, limit: number, executionId: string): Promise<ClaimExplained> {
	const { rows } = await db.query<{ answer: ClaimExplained }>('select public.automation_claim_explained($1, $2, $3, 600, $4) as answer', [ruleId, limit, executionId, NOW.toISOString()]);
	return rows[0].answer;
}

const pidOf = async (db: Client) => (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;

const claimedIds = (answer: ClaimExplained) => answer.contacts.map((contact) => contact.conversation_id);

const heldStates = (ruleId: string) =>
	withDb(async (db) => (await db.query<{ conversation_id: string }>(`select conversation_id from public.ai_automation_contact_states where rule_id = $1 and current_stage = 'eligible'`, [ruleId])).rows.map((row) => row.conversation_id));

describe('claims of one rule side by side', () => {
	it('a second claim walks, holds other contacts and writes while the first is open, and waits only to count', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 100 });
		const contacts = await world.contacts(10);
		const first = await connect();
		const second = await connect();
		await first.query('begin');
		const firstAnswer = await claimOn(first, ruleId, 4, 'exec-first');
		expect(firstAnswer.summary.claimed).toBe(4);

		const secondPid = await pidOf(second);
		const secondClaim = claimOn(second, ruleId, 4, 'exec-second');
		await untilWaitingForLock(secondPid);
		// While it waits, the second claim already holds the conversations of its 4: with the first
		// claim's 4, 8 of the 10 are held, and only 2 can be locked by anyone else.
		const free = await withDb(async (db) => {
			await db.query('begin');
			const { rows } = await db.query<{ id: string }>('select id from public.messenger_conversations where id = any ($1::uuid[]) for no key update skip locked', [contacts]);
			await db.query('rollback');
			return rows.map((row) => row.id);
		});
		expect(free).toHaveLength(2);
		expect(free.some((id) => claimedIds(firstAnswer).includes(id))).toBe(false);

		await first.query('commit');
		const secondAnswer = await secondClaim;
		expect(secondAnswer.summary).toMatchObject({ claimed: 4, reason: null });
		expect(claimedIds(secondAnswer).some((id) => claimedIds(firstAnswer).includes(id))).toBe(false);
		expect(claimedIds(secondAnswer).some((id) => free.includes(id))).toBe(false);
		expect((await heldStates(ruleId)).sort()).toEqual([...claimedIds(firstAnswer), ...claimedIds(secondAnswer)].sort());
	});

	it('keeps the daily limit exact: a claim whose count passes it, once the first has committed, claims again under the lock', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 6 });
		await world.contacts(10);
		const first = await connect();
		const second = await connect();
		await first.query('begin');
		const firstAnswer = await claimOn(first, ruleId, 4, 'exec-first');
		expect(firstAnswer.summary.claimed).toBe(4);

		const secondPid = await pidOf(second);
		const secondClaim = claimOn(second, ruleId, 4, 'exec-second');
		await untilWaitingForLock(secondPid);
		await first.query('commit');
		const secondAnswer = await secondClaim;
		// 4 + 4 would pass 6: the second claim's first write is rolled back, and under the lock it takes 2.
		expect(secondAnswer.summary).toMatchObject({ claimed: 2, reason: 'daily_limit_reached' });
		expect(secondAnswer.summary.rules[0]).toMatchObject({ status: 'daily_limit_reached', usedToday: 4, dailyLimit: 6 });
		expect(claimedIds(secondAnswer).some((id) => claimedIds(firstAnswer).includes(id))).toBe(false);
		expect(await heldStates(ruleId)).toHaveLength(6);
	});

	it('claims with the rule as it is once counted: a limit lowered while the claim waits holds', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 100 });
		await world.contacts(10);
		const first = await connect();
		const second = await connect();
		await first.query('begin');
		expect((await claimOn(first, ruleId, 4, 'exec-first')).summary.claimed).toBe(4);

		const secondPid = await pidOf(second);
		const secondClaim = claimOn(second, ruleId, 4, 'exec-second');
		await untilWaitingForLock(secondPid);
		await first.query('update public.ai_automation_rules set daily_limit = 5 where id = $1', [ruleId]);
		await first.query('commit');
		const secondAnswer = await secondClaim;
		// Counted against the limit it read (100), 4 more would have been kept: 8 held for a limit of 5.
		expect(secondAnswer.summary).toMatchObject({ claimed: 1 });
		expect(secondAnswer.summary.rules[0]).toMatchObject({ dailyLimit: 5, usedToday: 4 });
		expect(await heldStates(ruleId)).toHaveLength(5);
	});
});

describe('a rule deleted while one of its claims runs', () => {
	it('a claim that starts during the delete waits for it, then passes the rule over: no error, nothing claimed', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contacts(5);
		const deleting = await connect();
		const claiming = await connect();
		await deleting.query('begin');
		await deleting.query('delete from public.ai_automation_rules where id = $1', [ruleId]);
		const claimingPid = await pidOf(claiming);
		const answer = claimOn(claiming, ruleId, 5, 'exec-during-delete');
		await untilWaitingForLock(claimingPid);
		await deleting.query('commit');
		// Without its lock on the rule, the claim wrote new states for a rule being deleted: 23503.
		expect((await answer).summary).toMatchObject({ claimed: 0, reason: 'no_enabled_rules' });
	});

	it('a delete that starts during a claim waits for it (with the states the claim wrote), then deletes everything', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contacts(5);
		const claiming = await connect();
		const deleting = await connect();
		await claiming.query('begin');
		expect((await claimOn(claiming, ruleId, 5, 'exec-before-delete')).summary.claimed).toBe(5);
		const deletingPid = await pidOf(deleting);
		const deleted = deleting.query('delete from public.ai_automation_rules where id = $1', [ruleId]);
		await untilWaitingForLock(deletingPid);
		await claiming.query('commit');
		expect((await deleted).rowCount).toBe(1);
		expect(await withDb(async (db) => (await db.query('select from public.ai_automation_contact_states where rule_id = $1', [ruleId])).rowCount)).toBe(0);
	});
});

describe('automation_claim_hold', () => {
	it('holds only candidates still due on their state, read again, and free: not one sent meanwhile, in progress, or held by another claim', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ minHours: 4 });
		const service = serviceClient({ now: NOW });
		// Claimed in window order (the oldest last message first): first the one to be sent, then the one left in progress.
		const sentMeanwhile = await world.contact({ lastMessageHoursAgo: 6 });
		const inProgress = await world.contact({ lastMessageHoursAgo: 5 });
		const [toSend] = await claim(service, ruleId, 'exec-sent', 1);
		expect(toSend.conversation_id).toBe(sentMeanwhile);
		await generate(service, 'exec-sent', [toSend.state_id]);
		await beginSend(service, 'exec-sent', [toSend.state_id]);
		await recordSend(service, 'exec-sent', [{ state_id: toSend.state_id, outcome: 'sent', facebook_message_id: 'm_sent_meanwhile' }]);
		expect((await claim(service, ruleId, 'exec-busy', 1))[0].conversation_id).toBe(inProgress);
		const heldElsewhere = await world.contact({ lastMessageHoursAgo: 3 });
		const due = await world.contact({ lastMessageHoursAgo: 2 });
		const alsoDue = await world.contact({ lastMessageHoursAgo: 1 });

		const other = await connect();
		await other.query('begin');
		await other.query('select from public.messenger_conversations where id = $1 for no key update', [heldElsewhere]);
		const held = await withDb(async (db) => {
			await db.query('begin');
			const { rows } = await db.query<{ held: string[] }>(
				'select leadflow_private.automation_claim_hold(r, $2::uuid[], $3) as held from public.ai_automation_rules r where r.id = $1',
				[ruleId, [alsoDue, sentMeanwhile, inProgress, heldElsewhere, due], NOW.toISOString()],
			);
			await db.query('rollback');
			return rows[0].held;
		});
		await other.query('rollback');
		expect(held).toEqual([alsoDue, due]);
	});
});
