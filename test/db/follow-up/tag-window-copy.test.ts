// The claim's way in: every tag link carries its conversation's last customer message time, and the
// database alone keeps that copy right (the claim walks (tag, time) and would miss a contact whose
// copy lagged behind).
import { withDb } from '../../helpers/stack';
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
});
