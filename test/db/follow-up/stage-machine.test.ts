// The pipeline's guarantees, enforced by the database: only valid transitions, one send per
// follow-up, nothing stuck after a crash, nothing resent after an uncertain send, a reply stops
// the contact, and three overlapping runs never double-send nor pass the daily limit.
import { anonClient, serviceClient, userClient, withDb } from '../../helpers/stack';
import { addMessage, at, createWorld, NOW } from './fixtures';
import { beginSend, claim, generate, judgementOf, recordSend, rpc, runPipeline } from './stage-helpers';

const service = serviceClient({ now: NOW });
const plus = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

describe('the stage machine', () => {
	it('records every transition of a full run, and the sent message in the conversation', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ maxFollowUps: 1 });
		const conversationId = await world.contact();
		const { sent } = await runPipeline(service, ruleId, 'exec-1');
		expect(sent.map((row) => row.outcome)).toEqual(['completed']);
		const timeline = await rpc<Array<{ from_stage: string | null; to_stage: string; execution_id: string }>>(service, 'automation_timeline', {
			p_rule_id: ruleId,
			p_conversation_id: conversationId,
		});
		expect(timeline.map((event) => `${event.from_stage ?? '∅'}→${event.to_stage}`)).toEqual([
			'∅→queued', 'queued→checking', 'checking→eligible', 'eligible→generating', 'generating→ready_to_send',
			'ready_to_send→sending', 'sending→sent', 'sent→completed',
		]);
		const outbound = await withDb((db) =>
			db.query(`select text from public.messenger_messages where conversation_id = $1 and direction = 'outbound'`, [conversationId]),
		);
		expect(outbound.rows).toHaveLength(1);
	});

	it('rejects invalid transitions, a state born past queued, and edits to the history', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-2');
		await withDb(async (db) => {
			await expect(db.query(`update public.ai_automation_contact_states set current_stage = 'sent' where id = $1`, [claimed.state_id])).rejects.toThrow(
				/invalid stage transition eligible → sent/,
			);
			// A contact in the pipeline without a lease could never be freed by the reaper.
			await expect(db.query(`update public.ai_automation_contact_states set locked_until = null where id = $1`, [claimed.state_id])).rejects.toThrow(
				/held_has_lease/,
			);
			await expect(db.query(`update public.ai_automation_contact_states set current_stage = 'queued' where id = $1`, [claimed.state_id])).resolves.toBeDefined();
			await expect(
				db.query(`insert into public.ai_automation_contact_states (user_id, rule_id, conversation_id, current_stage, locked_by, locked_until) select user_id, $1, id, 'sending', 'exec-2', now() + interval '1 minute' from public.messenger_conversations where id = $2`, [
					ruleId,
					await world.contact(),
				]),
			).rejects.toThrow(/must start as queued/);
			await expect(db.query(`update public.ai_automation_stage_events set to_stage = 'sent' where state_id = $1`, [claimed.state_id])).rejects.toThrow(/append-only/);
			await expect(db.query(`delete from public.ai_automation_stage_events where state_id = $1`, [claimed.state_id])).rejects.toThrow(/append-only/);
		});
		expect(conversationId).toBe(claimed.conversation_id);
	});

	// The history has no foreign key to its state (a per-row check on every event written): these
	// are the guarantees the key gave, kept by the triggers and the grants instead.
	it('keeps every event tied to a real state: only the triggers write history, and it goes with its state', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const keptRuleId = await world.rule();
		const conversationId = await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-history');
		const [kept] = await claim(service, keptRuleId, 'exec-history-kept');
		const eventsOf = (stateId: string) =>
			withDb(async (db) => (await db.query(`select count(*)::int as n from public.ai_automation_stage_events where state_id = $1`, [stateId])).rows[0].n);
		expect(await eventsOf(claimed.state_id)).toBe(3);

		const forged = await service.from('ai_automation_stage_events').insert({
			user_id: world.userId, state_id: '00000000-0000-4000-8000-000000000000', rule_id: ruleId, conversation_id: conversationId,
			to_stage: 'sent', occurred_at: NOW.toISOString(),
		});
		expect(forged.error?.code).toBe('42501');
		// A truncate fires no delete trigger, so it would leave the history behind: not for service_role.
		await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query('set local role service_role');
				await expect(db.query('truncate public.ai_automation_contact_states')).rejects.toMatchObject({ code: '42501' });
			} finally {
				await db.query('rollback');
			}
		});

		// Deleting the rule cascades to its states, and their history goes with them; another
		// rule's history of the same contact stays.
		expect((await service.from('ai_automation_rules').delete().eq('id', ruleId)).error).toBeNull();
		expect(await eventsOf(claimed.state_id)).toBe(0);
		expect(await eventsOf(kept.state_id)).toBe(3);
		await withDb((db) => db.query(`delete from public.messenger_conversations where id = $1`, [conversationId]));
		expect(await eventsOf(kept.state_id)).toBe(0);
	});
});

describe('the duplicate guard', () => {
	it('a second begin-send of the same follow-up is a duplicate and calls nothing', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-3');
		await generate(service, 'exec-3', [claimed.state_id]);
		const first = await beginSend(service, 'exec-3', [claimed.state_id]);
		expect(first[0]).toMatchObject({ outcome: 'send', follow_up_number: 1, recipient_id: claimed.recipient_id });
		expect(first[0].message).toMatch(/^Hi again/);
		const second = await beginSend(service, 'exec-3', [claimed.state_id]);
		expect(second[0]).toMatchObject({ outcome: 'duplicate', reason: 'sending', attempt_id: first[0].attempt_id });
		const guard = await withDb((db) => db.query('select status from public.ai_automation_executions where rule_id = $1', [ruleId]));
		expect(guard.rows).toEqual([{ status: 'sending' }]);
	});
});

describe('a run that dies', () => {
	it('leaves contacts claimable when their lease runs out before the send step', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contact();
		const [held] = await claim(service, ruleId, 'exec-dead', 10, NOW, 60);
		expect(await claim(service, ruleId, 'exec-next', 10, plus(0.5))).toEqual([]);
		const [retaken] = await claim(service, ruleId, 'exec-next', 10, plus(2));
		expect(retaken.state_id).toBe(held.state_id);
		const late = await rpc<Array<{ outcome: string }>>(service, 'automation_mark_generating', {
			p_execution_id: 'exec-dead', p_state_ids: [held.state_id], p_now: plus(2).toISOString(),
		});
		expect(late[0].outcome).toBe('lease_lost');
	});

	it('turns a contact left in sending into failed send_uncertain and never resends it', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-crash');
		await generate(service, 'exec-crash', [claimed.state_id]);
		expect((await beginSend(service, 'exec-crash', [claimed.state_id], NOW, 30))[0].outcome).toBe('send');
		// The process dies here. The next run reaps the expired lease and claims nothing.
		expect(await claim(service, ruleId, 'exec-after', 10, plus(5))).toEqual([]);
		const judgement = await judgementOf(service, ruleId, conversationId, plus(5));
		expect(judgement).toMatchObject({ reason: 'failed', due_at: null });
		const rows = await withDb((db) =>
			db.query(
				`select s.current_stage, s.error_code, e.status from public.ai_automation_contact_states s
				 join public.ai_automation_executions e on e.id = s.attempt_id where s.id = $1`,
				[claimed.state_id],
			),
		);
		expect(rows.rows).toEqual([{ current_stage: 'failed', error_code: 'send_uncertain', status: 'uncertain' }]);
		expect(await claim(service, ruleId, 'exec-days-later', 10, plus(60 * 48))).toEqual([]);
		// A late confirmation from the crashed sender is still the truth.
		const late = await recordSend(service, 'exec-crash', [{ state_id: claimed.state_id, outcome: 'sent', facebook_message_id: 'm_late' }], plus(6));
		expect(late[0].outcome).toBe('sent');
	});
});

describe('stop on reply', () => {
	it('a customer message between claim and send: not sent, stopped replied', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-r');
		await generate(service, 'exec-r', [claimed.state_id]);
		await addMessage(conversationId, 'inbound', at(0.1), 'Actually, can we talk now?');
		const [result] = await beginSend(service, 'exec-r', [claimed.state_id], plus(7));
		expect(result).toMatchObject({ outcome: 'skipped', reason: 'stopped' });
		const stops = await withDb((db) => db.query('select reason, rule_id from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ reason: 'replied', rule_id: ruleId }]);
		expect(await judgementOf(service, ruleId, conversationId, plus(60))).toMatchObject({ reason: 'stopped', stop_reason: 'replied' });
		const ledger = await withDb((db) => db.query('select 1 from public.ai_automation_executions where conversation_id = $1', [conversationId]));
		expect(ledger.rowCount).toBe(0);
	});

	it('Facebook reporting the person unavailable stops the contact for every rule', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		const conversationId = await world.contact();
		const [claimed] = await claim(service, ruleId, 'exec-u');
		await generate(service, 'exec-u', [claimed.state_id]);
		await beginSend(service, 'exec-u', [claimed.state_id]);
		const [result] = await recordSend(service, 'exec-u', [
			{ state_id: claimed.state_id, outcome: 'skipped', reason: 'unavailable', error_code: '551/1545041', error_message: 'This person isn\'t available right now.' },
		]);
		expect(result.outcome).toBe('skipped');
		const stops = await withDb((db) => db.query('select reason, rule_id from public.ai_automation_stops where conversation_id = $1', [conversationId]));
		expect(stops.rows).toEqual([{ reason: 'unavailable', rule_id: null }]);
	});
});

describe('three overlapping executions over the same 500 due contacts', () => {
	it('send each contact at most once and never pass the daily limit', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ dailyLimit: 300 });
		await world.contacts(500);
		const worker = async (name: string) => {
			const sentHere: string[] = [];
			for (let round = 0; round < 20; round++) {
				const { claimed, sent } = await runPipeline(serviceClient({ now: NOW }), ruleId, `${name}-${round}`, NOW, 40);
				if (!claimed.length) break;
				sentHere.push(...sent.filter((row) => row.outcome === 'sent').map((row) => row.state_id));
			}
			return sentHere;
		};
		const results = await Promise.all([worker('run-a'), worker('run-b'), worker('run-c')]);
		const all = results.flat();
		expect(new Set(all).size).toBe(all.length);
		expect(all).toHaveLength(300);
		expect(results.filter((sent) => sent.length > 0).length).toBeGreaterThan(1);
		const ledger = await withDb((db) =>
			db.query<{ sends: string; contacts: string }>(
				`select count(*) as sends, count(distinct conversation_id) as contacts from public.ai_automation_executions where rule_id = $1 and status = 'sent'`,
				[ruleId],
			),
		);
		expect(ledger.rows[0]).toEqual({ sends: '300', contacts: '300' });
	});
});

describe('row level security', () => {
	it('owners see their own rows in every table and view; strangers and anon see none; only service_role runs the pipeline', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contact();
		await runPipeline(service, ruleId, 'exec-rls');
		const stranger = userClient((await createWorld()).userId, { now: NOW });
		const owner = userClient(world.userId, { now: NOW });
		const tables = ['ai_automation_rules', 'ai_automation_contact_states', 'ai_automation_stage_events', 'ai_automation_executions'];
		const views = ['automation_eligible_contacts', 'active_automation_contacts', 'automation_monitor_summary', 'automation_live_stats'];
		for (const relation of [...tables, ...views]) {
			const filter = relation === 'ai_automation_rules' ? 'id' : 'rule_id';
			const ownRows = await owner.from(relation).select('*').eq(filter, ruleId);
			expect({ relation, error: ownRows.error, some: (ownRows.data ?? []).length > 0 }).toEqual({ relation, error: null, some: true });
			const theirs = await stranger.from(relation).select('*').eq(filter, ruleId);
			expect({ relation, rows: theirs.data }).toEqual({ relation, rows: [] });
			const anon = await anonClient({ now: NOW }).from(relation).select('*').eq(filter, ruleId);
			expect({ relation, denied: anon.error !== null || (anon.data ?? []).length === 0 }).toEqual({ relation, denied: true });
			const all = await service.from(relation).select('*').eq(filter, ruleId);
			expect({ relation, some: (all.data ?? []).length > 0 }).toEqual({ relation, some: true });
		}
		const ownStops = await owner.from('ai_automation_stops').insert({ conversation_id: (await world.contact()), reason: 'manual' }).select();
		expect(ownStops.error).toBeNull();
		expect((await stranger.from('ai_automation_stops').select('*')).data).toEqual([]);
		const claimAsUser = await owner.rpc('automation_claim', { p_limit: 1, p_execution_id: 'sneaky' });
		expect(claimAsUser.error?.code).toBe('42501');
		const snapshotAsStranger = await stranger.rpc('automation_snapshot', { p_rule_id: ruleId });
		expect(snapshotAsStranger).toMatchObject({ error: null, data: null });
		const snapshotAsOwner = await owner.rpc('automation_snapshot', { p_rule_id: ruleId });
		expect(snapshotAsOwner.data?.stats?.total_with_tags).toBe(2);
	});
});
