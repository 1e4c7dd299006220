// pipeline_conversation_messages: the sender names and last messages of a batch of conversations in
// one call (Analyze From the Input): one row per known conversation, in the order asked, its last
// p_max_messages messages oldest first; unknown conversations (and, with p_user_id, another owner's)
// not answered; only the service role may call it. Times are fixed instants; nothing depends on the date.
import { randomUUID } from 'node:crypto';
import type { ConversationMessages } from '../../../nodes/shared/contract';
import { anonClient, userClient, withDb } from '../../helpers/stack';
import { createPipelineWorld, failure, minutesAfter, rpc, type PipelineWorld } from './fixtures';

const read = (args: Record<string, unknown>) => rpc<ConversationMessages[]>('pipeline_conversation_messages', args);

/** Messages written straight in Postgres. */
async function say(conversationId: string, userId: string, messages: Array<{ direction: 'inbound' | 'outbound'; text: string | null; at: string }>) {
	await withDb((db) =>
		db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, $2, m.direction, m.text, m.at from jsonb_to_recordset($3::jsonb) as m (direction text, text text, at timestamptz)`,
			[userId, conversationId, JSON.stringify(messages)],
		),
	);
}

describe('pipeline_conversation_messages', () => {
	let world: PipelineWorld;

	beforeAll(async () => {
		world = await createPipelineWorld();
	});

	it('answers each known conversation once, in the order first asked, with its sender name and its last messages oldest first', async () => {
		const [first, second, silent] = await world.contacts(3);
		await say(first, world.userId, [
			{ direction: 'outbound', text: 'It is 40 euros.', at: minutesAfter(-40) },
			{ direction: 'inbound', text: 'Hi, how much is it?', at: minutesAfter(-50) },
			{ direction: 'inbound', text: null, at: minutesAfter(-30) },
		]);
		await say(second, world.userId, [{ direction: 'inbound', text: 'Hello', at: minutesAfter(-5) }]);
		const unknown = randomUUID();

		const rows = await read({ p_conversation_ids: [second, unknown, first, second, silent], p_max_messages: 20 });
		expect(rows.map((row) => row.conversation_id)).toEqual([second, first, silent]);
		const [secondRow, firstRow, silentRow] = rows;
		expect(firstRow.sender_name).toMatch(/^Contact /);
		expect(firstRow.messages.map((message) => [message.direction, message.text, Date.parse(message.sent_at)])).toEqual([
			['inbound', 'Hi, how much is it?', Date.parse(minutesAfter(-50))],
			['outbound', 'It is 40 euros.', Date.parse(minutesAfter(-40))],
			['inbound', '', Date.parse(minutesAfter(-30))],
		]);
		expect(secondRow.messages.map((message) => message.text)).toEqual(['Hello']);
		expect(silentRow.messages).toEqual([]);
		// Nothing asked, nothing answered.
		expect(await read({ p_conversation_ids: [] })).toEqual([]);
	});

	it('keeps to the last p_max_messages messages, whatever their sent_at (equal times in one order)', async () => {
		const [contact] = await world.contacts(1);
		await say(contact, world.userId, [
			...Array.from({ length: 5 }, (_, n) => ({ direction: 'inbound' as const, text: `message ${n + 1}`, at: minutesAfter(-60 + n) })),
			{ direction: 'outbound', text: 'a day later', at: minutesAfter(24 * 60) },
		]);
		const [row] = await read({ p_conversation_ids: [contact], p_max_messages: 2 });
		expect(row.messages.map((message) => message.text)).toEqual(['message 5', 'a day later']);
		const [all] = await read({ p_conversation_ids: [contact], p_max_messages: 200 });
		expect(all.messages).toHaveLength(6);

		// Equal times: the two of highest id, the lower first, whichever order they were written in
		// (highest id first in one conversation, last in the other, so that neither the insert order
		// nor its reverse gives the answer in both).
		for (const order of ['highest first', 'highest last'] as const) {
			const [tied] = await world.contacts(1);
			const ids = Array.from({ length: 4 }, () => randomUUID()).sort();
			if (order === 'highest first') ids.reverse();
			await withDb((db) =>
				db.query(
					`insert into public.messenger_messages (id, user_id, conversation_id, direction, text, sent_at)
					 select i.id, $1, $2, 'inbound', i.id::text, $3 from unnest($4::uuid[]) with ordinality i (id, n) order by i.n`,
					[world.userId, tied, minutesAfter(-1), ids],
				),
			);
			const [answer] = await read({ p_conversation_ids: [tied], p_max_messages: 2 });
			expect({ order, texts: answer.messages.map((message) => message.text) }).toEqual({ order, texts: [...ids].sort().slice(2) });
		}
	});

	it('with p_user_id, only that owner\'s conversations: another owner\'s is not answered', async () => {
		const other = await createPipelineWorld();
		const [mine] = await world.contacts(1);
		const [theirs] = await other.contacts(1);
		expect((await read({ p_conversation_ids: [theirs, mine], p_user_id: world.userId })).map((row) => row.conversation_id)).toEqual([mine]);
		expect((await read({ p_conversation_ids: [theirs, mine] })).map((row) => row.conversation_id)).toEqual([theirs, mine]);
	});

	it('refuses more than 1,000 conversations and a p_max_messages outside 1–200, naming the argument', async () => {
		const tooMany = Array.from({ length: 1001 }, () => randomUUID());
		expect(await failure(read({ p_conversation_ids: tooMany }))).toMatchObject({ code: '22023', message: 'p_conversation_ids: at most 1000 conversations per call (got 1001)' });
		expect((await read({ p_conversation_ids: tooMany.slice(0, 1000) }))).toEqual([]);
		for (const bad of [0, 201]) {
			expect(await failure(read({ p_conversation_ids: [], p_max_messages: bad }))).toMatchObject({ code: '22023', message: `p_max_messages must be between 1 and 200 (got ${bad})` });
		}
	});

	it('only the service role may call it: an owner\'s JWT and the anonymous key are refused', async () => {
		const [contact] = await world.contacts(1);
		for (const client of [userClient(world.userId), anonClient()]) {
			const { data, error } = await client.rpc('pipeline_conversation_messages', { p_conversation_ids: [contact] });
			expect(data).toBeNull();
			expect(error?.code).toBe('42501');
		}
	});
});
