// The claim's way in: every tag link carries its conversation's last customer message time, and the
// database alone keeps that copy right (the claim walks (tag, time) and would miss a contact whose
// copy lagged behind).
import { userClient, withDb } from '../../helpers/stack';
import { NOW, analysis, assign, createPipelineWorld } from '../pipelines/fixtures';
import { addMessage, at, createWorld, tagContacts } from './fixtures';

const linkTimes = (conversationId: string) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ name: string; copy: Date | null; actual: Date | null }>(
			`select t.name, ct.last_customer_message_at as copy, c.last_customer_message_at as actual
			   from public.conversation_tags ct
			   join public.tags t on t.id = ct.tag_id
			   join public.messenger_conversations c on c.id = ct.conversation_id
			  where ct.conversation_id = $1 order by t.name`,
			[conversationId],
		);
		return rows.map((row) => ({ name: row.name, copy: row.copy?.toISOString() ?? null, actual: row.actual?.toISOString() ?? null }));
	});

describe('the tag links\' copy of the conversation\'s last customer message time', () => {
	it('is set when a link is made and follows every change of the conversation\'s time', async () => {
		const world = await createWorld();
		const conversationId = await world.contact({ tags: ['AI Lead', 'Hot'], lastMessageHoursAgo: 30 });
		expect(await linkTimes(conversationId)).toEqual([
			{ name: 'AI Lead', copy: at(-30), actual: at(-30) },
			{ name: 'Hot', copy: at(-30), actual: at(-30) },
		]);

		await addMessage(conversationId, 'inbound', at(-1));
		expect((await linkTimes(conversationId)).map((link) => link.copy)).toEqual([at(-1), at(-1)]);
		await addMessage(conversationId, 'outbound', at(-0.5));
		expect((await linkTimes(conversationId)).map((link) => link.copy)).toEqual([at(-1), at(-1)]);

		await withDb(async (db) => {
			await db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [conversationId, at(-0.25)]);
			await tagContacts(db, world.userId, world.tags['Do Not Contact'], [conversationId]);
		});
		const links = await linkTimes(conversationId);
		expect(links).toHaveLength(3);
		for (const link of links) expect(link).toMatchObject({ copy: at(-0.25), actual: at(-0.25) });
	});

	it('cannot be set to anything but the conversation\'s time, even by the service role', async () => {
		const world = await createWorld();
		const conversationId = await world.contact({ lastMessageHoursAgo: 2 });
		await withDb(async (db) => {
			await db.query('update public.conversation_tags set last_customer_message_at = $2 where conversation_id = $1', [conversationId, at(5)]);
			await db.query(
				`insert into public.conversation_tags (conversation_id, tag_id, user_id, last_customer_message_at) values ($1, $2, $3, $4)`,
				[conversationId, world.tags['Hot'], world.userId, at(7)],
			);
		});
		for (const link of await linkTimes(conversationId)) expect(link.copy).toBe(at(-2));
	});

	it('is the conversation\'s time on the links the owner\'s app inserts, whatever time it sends', async () => {
		const world = await createWorld();
		const [sent, none] = await world.contacts(2, { lastMessageHoursAgo: 3, tags: [] });
		const { error } = await userClient(world.userId)
			.from('conversation_tags')
			.insert([
				{ conversation_id: sent, tag_id: world.tags['Hot'], user_id: world.userId, last_customer_message_at: at(9) },
				{ conversation_id: none, tag_id: world.tags['Hot'], user_id: world.userId },
			]);
		expect(error).toBeNull();
		for (const conversationId of [sent, none]) expect(await linkTimes(conversationId)).toEqual([{ name: 'Hot', copy: at(-3), actual: at(-3) }]);
	});

	it('is the conversation\'s time in the rows the owner\'s app\'s insert returns, whatever time it sends', async () => {
		const world = await createWorld();
		const [sent, none] = await world.contacts(2, { lastMessageHoursAgo: 3, tags: [] });
		// supabase-js .insert().select(): PostgREST's return=representation, the row as inserted.
		const { data, error } = await userClient(world.userId)
			.from('conversation_tags')
			.insert([
				{ conversation_id: sent, tag_id: world.tags['Hot'], user_id: world.userId, last_customer_message_at: at(9) },
				{ conversation_id: none, tag_id: world.tags['Hot'], user_id: world.userId },
			])
			.select('conversation_id, last_customer_message_at');
		expect(error).toBeNull();
		const returned = (data ?? []).map((row) => ({ conversation_id: row.conversation_id, copy: new Date(row.last_customer_message_at as string).toISOString() }));
		expect(returned.sort((a, b) => (a.conversation_id < b.conversation_id ? -1 : 1))).toEqual(
			[sent, none].sort().map((conversation_id) => ({ conversation_id, copy: at(-3) })),
		);
	});

	it('is written with the link, never updated after, when a signed-in user or the service role inserts it with no time or another', async () => {
		const world = await createWorld();
		const [userSent, userNone, serviceSent, serviceNone] = await world.contacts(4, { lastMessageHoursAgo: 3, tags: [] });
		await withDb(async (db) => {
			// This transaction's own counts (pg_stat_xact_user_tables): no other test's writes in them.
			await db.query('begin');
			try {
				await db.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: world.userId, role: 'authenticated' })]);
				await db.query('set local role authenticated');
				const asUser = await db.query<{ conversation_id: string; copy: Date }>(
					`insert into public.conversation_tags (conversation_id, tag_id, user_id, last_customer_message_at)
					 select unnest($1::uuid[]), $2, $3, unnest($4::timestamptz[])
					 returning conversation_id, last_customer_message_at as copy`,
					[[userSent, userNone], world.tags['Hot'], world.userId, [at(9), null]],
				);
				await db.query('reset role');
				const asService = await db.query<{ conversation_id: string; copy: Date }>(
					`insert into public.conversation_tags (conversation_id, tag_id, user_id, last_customer_message_at)
					 select unnest($1::uuid[]), $2, $3, unnest($4::timestamptz[])
					 returning conversation_id, last_customer_message_at as copy`,
					[[serviceSent, serviceNone], world.tags['Hot'], world.userId, [at(-40), null]],
				);
				for (const row of [...asUser.rows, ...asService.rows]) expect(row.copy.toISOString()).toBe(at(-3));
				const { rows } = await db.query<{ inserted: number; updated: number }>(
					`select n_tup_ins::int as inserted, n_tup_upd::int as updated from pg_stat_xact_user_tables where relid = 'public.conversation_tags'::regclass`,
				);
				expect(rows[0]).toEqual({ inserted: 4, updated: 0 });
				await db.query('commit');
			} catch (error) {
				await db.query('rollback');
				throw error;
			}
		});
		for (const conversationId of [userSent, userNone, serviceSent, serviceNone]) {
			expect(await linkTimes(conversationId)).toEqual([{ name: 'Hot', copy: at(-3), actual: at(-3) }]);
		}
	});

	it('is right after one statement whose links came with the right time, a wrong one and none', async () => {
		const world = await createWorld();
		const [right, wrong, none] = await world.contacts(3, { lastMessageHoursAgo: 4, tags: [] });
		const [other] = await world.contacts(1, { lastMessageHoursAgo: 6, tags: [] });
		await withDb(async (db) => {
			await db.query(
				`insert into public.conversation_tags (conversation_id, tag_id, user_id, last_customer_message_at)
				 select unnest($1::uuid[]), $2, $3, unnest($4::timestamptz[])`,
				[[right, wrong, none], world.tags['AI Lead'], world.userId, [at(-4), at(-40), null]],
			);
		});
		for (const conversationId of [right, wrong, none]) expect(await linkTimes(conversationId)).toEqual([{ name: 'AI Lead', copy: at(-4), actual: at(-4) }]);

		// A link moved to another conversation takes that conversation's time.
		await withDb((db) => db.query('update public.conversation_tags set conversation_id = $2 where conversation_id = $1', [none, other]));
		expect(await linkTimes(other)).toEqual([{ name: 'AI Lead', copy: at(-6), actual: at(-6) }]);
	});

	it('is the conversation\'s time on the links an automation\'s add_tag makes', async () => {
		const world = await createPipelineWorld();
		await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
		const [withWindow, withoutWindow] = [await world.contact(), await world.contact()];
		await withDb((db) => db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = $1', [withWindow, at(-5)]));
		await assign([analysis(withWindow, 50), analysis(withoutWindow, 50)]);
		expect(await linkTimes(withWindow)).toEqual([{ name: 'In pipeline', copy: at(-5), actual: at(-5) }]);
		expect(await linkTimes(withoutWindow)).toEqual([{ name: 'In pipeline', copy: null, actual: null }]);
	});

	it('is written with the link on the links an automation\'s add_tag makes: inserted with the time, never updated after', async () => {
		const world = await createPipelineWorld();
		await world.automation({ trigger_type: 'ENTERED_PIPELINE', actions: [{ type: 'add_tag', tag_id: world.tags['In pipeline'] }] });
		const contacts = [await world.contact(), await world.contact(), await world.contact()];
		await withDb(async (db) => {
			await db.query('update public.messenger_conversations set last_customer_message_at = $2 where id = any ($1)', [contacts.slice(0, 2), at(-5)]);
			// This transaction's own counts (pg_stat_xact_user_tables): no other test's writes in them.
			await db.query('begin');
			try {
				// And its calls of PL/pgSQL functions (pg_stat_xact_user_functions): the row trigger is not run for them.
				await db.query(`set local track_functions = 'pl'`);
				await db.query('select count(*) from public.pipeline_assign($1::jsonb, $2)', [JSON.stringify(contacts.map((id) => analysis(id, 50))), NOW]);
				const { rows } = await db.query<{ inserted: number; updated: number }>(
					`select n_tup_ins::int as inserted, n_tup_upd::int as updated from pg_stat_xact_user_tables where relid = 'public.conversation_tags'::regclass`,
				);
				expect(rows[0]).toEqual({ inserted: 3, updated: 0 });
				const copies = await db.query<{ calls: number }>(
					`select coalesce(sum(calls), 0)::int as calls from pg_stat_xact_user_functions where funcname = 'conversation_tags_copy_window'`,
				);
				expect(copies.rows[0].calls).toBe(0);
				await db.query('commit');
			} catch (error) {
				await db.query('rollback');
				throw error;
			}
		});
		expect(await linkTimes(contacts[0])).toEqual([{ name: 'In pipeline', copy: at(-5), actual: at(-5) }]);
		expect(await linkTimes(contacts[2])).toEqual([{ name: 'In pipeline', copy: null, actual: null }]);
	});
});
