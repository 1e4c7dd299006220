// An automation's add_tag skips the tag links' settle step (migration
// 20261201002850_crm_pipelines_add_tag_held_no_settle.sql): its callers, pipeline_assign and
// pipeline_move, hold the contacts' conversations FOR NO KEY UPDATE since before add_tag's insert
// reads the time, so a message recorded at the same time (its writer takes the same lock) either
// committed before that read or waits for the Assign's commit and then rewrites the new link.
// Two real connections, one transaction held open while the other runs, in both orders; and the
// links are written once, without the settle step (pg_stat_xact_*: this transaction's own counts).
import { Client } from 'pg';
import { testStack, untilWaitingForLock, withDb } from '../../helpers/stack';
import { NOW, analysis, createPipelineWorld, minutesAfter } from './fixtures';

/** When the person writes: a minute before NOW. */
const WROTE = minutesAfter(-1);
/** When they wrote before: a day before NOW. */
const BEFORE = minutesAfter(-24 * 60);

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

const pidOf = async (db: Client) => (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;

const recordMessage = (db: Client, userId: string, conversationId: string) =>
	db.query(
		`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
		 values ($1, $2, 'inbound', 'Still interested, how much is it?', $3)`,
		[userId, conversationId, WROTE],
	);

const assignOn = (db: Client, conversationIds: string[]) =>
	db.query('select count(*) from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify(conversationIds.map((id) => analysis(id, 50))), NOW]);

/** The link's copy and the conversation's own time. */
const windowTimes = (conversationId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ copy: Date | null; actual: Date | null }>(
			`select ct.last_customer_message_at as copy, c.last_customer_message_at as actual
			   from public.messenger_conversations c join public.conversation_tags ct on ct.conversation_id = c.id
			  where c.id = $1`,
			[conversationId],
		);
		return rows.map((row) => ({ copy: row.copy?.toISOString() ?? null, actual: row.actual?.toISOString() ?? null }));
	});

async function taggingWorld() {
	const world = await createPipelineWorld();
	await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
	const conversationId = await world.contact();
	await withDb((db) => db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, BEFORE]));
	return { world, conversationId };
}

describe('an automation\'s add_tag while the contact\'s message is being recorded', () => {
	it('the message\'s transaction first, the Assign while it is open: the Assign waits, and its link gets the new time', async () => {
		const { world, conversationId } = await taggingWorld();
		const messages = await connect();
		const assigning = await connect();
		const assigningPid = await pidOf(assigning);
		await messages.query('begin');
		await recordMessage(messages, world.userId, conversationId);
		const assigned = assignOn(assigning, [conversationId]);
		await untilWaitingForLock(assigningPid, 'the Assign did not wait for the message\'s transaction');
		await messages.query('commit');
		await assigned;
		expect(await windowTimes(conversationId)).toEqual([{ copy: WROTE, actual: WROTE }]);
	});

	it('the Assign\'s transaction first, the message recorded while it is open: the message waits, then sets the new link', async () => {
		const { world, conversationId } = await taggingWorld();
		const messages = await connect();
		const assigning = await connect();
		const messagesPid = await pidOf(messages);
		await assigning.query('begin');
		await assignOn(assigning, [conversationId]);
		const recorded = recordMessage(messages, world.userId, conversationId);
		await untilWaitingForLock(messagesPid, 'the message did not wait for the Assign\'s transaction');
		await assigning.query('commit');
		await recorded;
		expect(await windowTimes(conversationId)).toEqual([{ copy: WROTE, actual: WROTE }]);
	});

	it('makes its links without the settle step: inserted with the time, never updated, the step not called', async () => {
		const { conversationId } = await taggingWorld();
		const { world: other } = await taggingWorld();
		const more = await other.contacts(2);
		await withDb(async (db) => {
			await db.query('begin');
			try {
				await db.query(`set local track_functions = 'pl'`);
				await assignOn(db, [conversationId]);
				await assignOn(db, more);
				const { rows } = await db.query<{ inserted: number; updated: number }>(
					`select n_tup_ins::int as inserted, n_tup_upd::int as updated from pg_stat_xact_user_tables where relid = 'public.conversation_tags'::regclass`,
				);
				expect(rows[0]).toEqual({ inserted: 3, updated: 0 });
				const settled = await db.query<{ calls: number }>(
					`select coalesce(sum(calls), 0)::int as calls from pg_stat_xact_user_functions where funcname = 'conversation_tags_settle_window'`,
				);
				expect(settled.rows[0].calls).toBe(0);
				// Any other insert still runs it.
				await db.query(
					`insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)`,
					[more[0], other.tags['Qualified'], other.userId],
				);
				const after = await db.query<{ calls: number }>(
					`select coalesce(sum(calls), 0)::int as calls from pg_stat_xact_user_functions where funcname = 'conversation_tags_settle_window'`,
				);
				expect(after.rows[0].calls).toBe(1);
				await db.query('commit');
			} catch (error) {
				await db.query('rollback');
				throw error;
			}
		});
		expect(await windowTimes(conversationId)).toEqual([{ copy: BEFORE, actual: BEFORE }]);
	});

	it('a Move whose STAGE_CHANGED automation adds a tag, the message recorded while it is open: the message waits, then sets the new link', async () => {
		const world = await createPipelineWorld();
		await world.automation({ trigger_type: 'STAGE_CHANGED', trigger_conditions: { to_stage_id: world.pipeline.stages.Won }, actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
		const conversationId = await world.contact();
		await withDb((db) => db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, BEFORE]));
		await withDb((db) => db.query('select count(*) from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify([analysis(conversationId, 10)]), NOW]));
		const messages = await connect();
		const moving = await connect();
		const messagesPid = await pidOf(messages);
		await moving.query('begin');
		await moving.query('select count(*) from public.pipeline_move($1::jsonb, $2)', [JSON.stringify([{ conversation_id: conversationId, stage_id: world.pipeline.stages.Won }]), NOW]);
		const recorded = recordMessage(messages, world.userId, conversationId);
		await untilWaitingForLock(messagesPid, 'the message did not wait for the Move\'s transaction');
		await moving.query('commit');
		await recorded;
		expect(await windowTimes(conversationId)).toEqual([{ copy: WROTE, actual: WROTE }]);
	});
});
