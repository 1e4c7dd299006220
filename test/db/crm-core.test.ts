// The CRM core tables through supabase-js against the local stack, as each kind of caller sees them:
// the owner (their JWT), another signed-in user, anonymous, and n8n's service role.
import type { SupabaseClient } from '@supabase/supabase-js';
import { anonClient, createTestUser, serviceClient, userClient, withDb } from '../helpers/stack';

const TABLES = ['tags', 'messenger_conversations', 'messenger_messages', 'conversation_tags'] as const;

interface OwnerData {
	userId: string;
	tagId: string;
	conversationId: string;
}

async function seedOwner(service: SupabaseClient, label: string, psid: string): Promise<OwnerData> {
	const userId = await createTestUser(label);
	const tag = await service.from('tags').insert({ user_id: userId, name: `AI Lead ${label}` }).select('id').single();
	expect(tag.error).toBeNull();
	const conversation = await service
		.from('messenger_conversations')
		.insert({ user_id: userId, page_id: '1000001', sender_id: psid, sender_name: `${label} contact` })
		.select('id')
		.single();
	expect(conversation.error).toBeNull();
	const link = await service.from('conversation_tags').insert({ user_id: userId, conversation_id: conversation.data!.id, tag_id: tag.data!.id });
	expect(link.error).toBeNull();
	const message = await service
		.from('messenger_messages')
		.insert({ user_id: userId, conversation_id: conversation.data!.id, direction: 'inbound', text: 'Hello, is this still available?' });
	expect(message.error).toBeNull();
	return { userId, tagId: tag.data!.id, conversationId: conversation.data!.id };
}

describe('CRM core: row level security', () => {
	let alice: OwnerData;
	let bob: OwnerData;

	beforeAll(async () => {
		const service = serviceClient();
		alice = await seedOwner(service, 'alice', `${Date.now()}1`);
		bob = await seedOwner(service, 'bob', `${Date.now()}2`);
	});

	it.each(TABLES)('%s: a user sees their own rows and none of another user’s', async (table) => {
		const { data, error } = await userClient(alice.userId).from(table).select('user_id');
		expect(error).toBeNull();
		expect(data!.length).toBeGreaterThan(0);
		expect(new Set(data!.map((row) => row.user_id))).toEqual(new Set([alice.userId]));
	});

	it.each(TABLES)('%s: anonymous callers see nothing', async (table) => {
		const { data, error } = await anonClient().from(table).select('*');
		// anon holds no privileges on these tables at all: PostgREST refuses rather than returning rows.
		expect(data ?? []).toEqual([]);
		expect(error?.code).toBe('42501');
	});

	it.each(TABLES)('%s: the service role sees every owner’s rows', async (table) => {
		const { data, error } = await serviceClient().from(table).select('user_id').in('user_id', [alice.userId, bob.userId]);
		expect(error).toBeNull();
		expect(new Set(data!.map((row) => row.user_id))).toEqual(new Set([alice.userId, bob.userId]));
	});

	it('a user cannot create rows owned by someone else', async () => {
		const { error } = await userClient(alice.userId).from('tags').insert({ user_id: bob.userId, name: 'sneaky' });
		expect(error?.code).toBe('42501');
	});

	it('a user’s inserts are owned by them without naming user_id', async () => {
		const { data, error } = await userClient(alice.userId).from('tags').insert({ name: `Hot ${Date.now()}` }).select('user_id').single();
		expect(error).toBeNull();
		expect(data!.user_id).toBe(alice.userId);
	});

	it('a user cannot change or delete another user’s rows', async () => {
		const client = userClient(alice.userId);
		const update = await client.from('messenger_conversations').update({ is_active: false }).eq('id', bob.conversationId).select('id');
		expect(update.data).toEqual([]);
		const removal = await client.from('tags').delete().eq('id', bob.tagId).select('id');
		expect(removal.data).toEqual([]);
		const still = await serviceClient().from('messenger_conversations').select('is_active').eq('id', bob.conversationId).single();
		expect(still.data!.is_active).toBe(true);
	});
});

describe('CRM core: constraints', () => {
	it('one owner cannot tag another owner’s conversation, even with the service role', async () => {
		const service = serviceClient();
		const alice = await seedOwner(service, 'carol', `${Date.now()}3`);
		const bob = await seedOwner(service, 'dave', `${Date.now()}4`);
		const { error } = await service.from('conversation_tags').insert({ user_id: alice.userId, conversation_id: alice.conversationId, tag_id: bob.tagId });
		expect(error?.code).toBe('23503');
	});

	it('a tag link or a follow-up stop belongs to its conversation\'s owner, and goes with the owner', async () => {
		// Their user_id has no key of its own to auth.users: the key to the conversation, (conversation_id,
		// user_id), says the same (20261201000330). Proven here: a user_id that is not the conversation's owner,
		// or no user at all, is refused; deleting the owner deletes its links and stops with its conversations.
		const service = serviceClient();
		const owner = await seedOwner(service, 'gina', `${Date.now()}7`);
		const stranger = await createTestUser('hank');
		const tag = await service.from('tags').insert({ user_id: owner.userId, name: 'Hot' }).select('id').single();
		expect(tag.error).toBeNull();
		for (const userId of [stranger, '00000000-0000-4000-8000-000000000000']) {
			const link = await service.from('conversation_tags').insert({ user_id: userId, conversation_id: owner.conversationId, tag_id: tag.data!.id });
			expect(link.error?.code).toBe('23503');
			const stop = await service.from('ai_automation_stops').insert({ user_id: userId, conversation_id: owner.conversationId, reason: 'manual' });
			expect(stop.error?.code).toBe('23503');
			expect(stop.error?.message).toContain('ai_automation_stops_conversation_id_user_id_fkey');
		}
		expect((await service.from('ai_automation_stops').insert({ user_id: owner.userId, conversation_id: owner.conversationId, reason: 'manual' })).error).toBeNull();
		const counts = () =>
			withDb(async (db) => {
				const { rows } = await db.query<{ links: number; stops: number }>(
					`select (select count(*)::int from public.conversation_tags where conversation_id = $1) as links,
					        (select count(*)::int from public.ai_automation_stops where conversation_id = $1) as stops`,
					[owner.conversationId],
				);
				return rows[0];
			});
		expect(await counts()).toEqual({ links: 1, stops: 1 });
		await withDb((db) => db.query('delete from auth.users where id = $1', [owner.userId]));
		expect(await counts()).toEqual({ links: 0, stops: 0 });
	});

	it('tag names are unique per owner whatever the case', async () => {
		const service = serviceClient();
		const userId = await createTestUser('erin');
		expect((await service.from('tags').insert({ user_id: userId, name: 'Follow Up' })).error).toBeNull();
		expect((await service.from('tags').insert({ user_id: userId, name: 'follow up' })).error?.code).toBe('23505');
	});

	it('rejects a PSID or page id that is not numeric', async () => {
		const userId = await createTestUser('frank');
		const { error } = await serviceClient().from('messenger_conversations').insert({ user_id: userId, page_id: '1000001', sender_id: 'not-a-psid' });
		expect(error?.code).toBe('23514');
	});

	it('an inbound message moves the conversation’s 24 h window; an outbound one does not', async () => {
		const service = serviceClient();
		const owner = await seedOwner(service, 'gina', `${Date.now()}5`);
		const inboundAt = '2026-11-20T10:00:00.000Z';
		const outboundAt = '2026-11-20T12:00:00.000Z';
		await service.from('messenger_messages').insert({ user_id: owner.userId, conversation_id: owner.conversationId, direction: 'inbound', text: 'hi', sent_at: inboundAt });
		const before = await service.from('messenger_conversations').select('last_customer_message_at').eq('id', owner.conversationId).single();
		await service.from('messenger_messages').insert({ user_id: owner.userId, conversation_id: owner.conversationId, direction: 'outbound', text: 'hello', sent_at: outboundAt });
		const after = await service.from('messenger_conversations').select('last_customer_message_at, last_message_at').eq('id', owner.conversationId).single();
		expect(new Date(after.data!.last_message_at).getTime()).toBeGreaterThanOrEqual(new Date(outboundAt).getTime());
		expect(after.data!.last_customer_message_at).toBe(before.data!.last_customer_message_at);
	});
});
