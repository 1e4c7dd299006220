// Reading a Conversations answer (pure): the person among the participants, the Page's own messages
// as echoes, Graph's time format, the cursors (by the next link), and what cannot be read; and storable text; which
// refusals of a conversation's messages edge are that conversation's alone.
import { addMessages, graphTimeMs, NO_CURSOR, readConversationsPage } from '../../../nodes/MessengerSync/helpers/conversations';
import { storableName, storableText } from '../../../nodes/shared/messenger-text';
import { refusesConversation } from '../../../nodes/MessengerSync/transport/graph';

const PAGE = '111';
const body = {
	data: [
		{
			id: 't_1',
			updated_time: '2026-11-25T12:00:00+0000',
			participants: { data: [{ name: 'Ana\nSouza', id: '9' }, { name: 'The Page', id: PAGE }] },
			messages: {
				data: [
					{ id: 'm_2', message: 'Yes, we ship', from: { id: PAGE }, created_time: '2026-11-25T12:00:00+0000' },
					{ id: 'm_1', message: 'Do you ship?', from: { id: '9' }, created_time: '2026-11-25T11:59:00+0000' },
					{ message: 'no id', from: { id: '9' }, created_time: '2026-11-25T11:58:00+0000' },
				],
				paging: { cursors: { before: 'b', after: 'older' }, next: 'https://graph.facebook.com/v25.0/t_1/messages?after=older' },
			},
		},
		{ id: 't_2', updated_time: 'not a time', participants: { data: [{ id: PAGE }] } },
	],
	paging: { cursors: { before: 'x', after: 'page2' }, next: 'https://graph.facebook.com/…' },
};

test('reads conversations into events: the person’s messages, the Page’s as echoes, Graph times, the cursors', () => {
	const page = readConversationsPage(body, PAGE);
	expect(page.nextAfter).toBe('page2');
	const [first, second] = page.conversations;
	expect(first).toMatchObject({ id: 't_1', psid: '9', name: 'Ana Souza', updatedMs: Date.UTC(2026, 10, 25, 12), moreMessagesAfter: 'older', unreadable: 1, oldestMs: Date.UTC(2026, 10, 25, 11, 59) });
	expect(first.events).toEqual([
		{ type: 'echo', page_id: PAGE, psid: '9', mid: 'm_2', text: 'Yes, we ship', timestamp: Date.UTC(2026, 10, 25, 12), name: 'Ana Souza' },
		{ type: 'message', page_id: PAGE, psid: '9', mid: 'm_1', text: 'Do you ship?', timestamp: Date.UTC(2026, 10, 25, 11, 59), name: 'Ana Souza' },
	]);
	expect(second).toMatchObject({ psid: null, updatedMs: undefined, events: [] });

	addMessages(first, { data: [{ id: 'm_0', message: 'Hi', from: { id: '9' }, created_time: '2026-11-25T11:00:00+0000' }] }, PAGE);
	expect(first.events).toHaveLength(3);
	expect(first.moreMessagesAfter).toBeNull();
	expect(readConversationsPage({ data: [] }, PAGE)).toEqual({ conversations: [], nextAfter: null });
});

test('the next page is where Graph’s `next` link says: its cursor from paging.cursors.after, else from the link (an empty page may come without cursors); none without `next`; NO_CURSOR for a `next` without any', () => {
	const next = (paging: unknown) => readConversationsPage({ data: [], paging }, PAGE).nextAfter;
	expect(next({ cursors: { before: 'b', after: 'c2' }, next: 'https://graph.facebook.com/v25.0/111/conversations?after=other' })).toBe('c2');
	expect(next({ next: 'https://graph.facebook.com/v25.0/111/conversations?limit=25&after=QVFI%3D' })).toBe('QVFI=');
	expect(next({ cursors: { after: '' }, next: 'https://graph.facebook.com/v25.0/111/conversations?after=c3' })).toBe('c3');
	// Only `next` says more follows: cursors without it are the last page.
	expect(next({ cursors: { before: 'b', after: 'c2' } })).toBeNull();
	expect(next(undefined)).toBeNull();
	expect(next({ next: 'https://graph.facebook.com/v25.0/111/conversations?limit=25' })).toBe(NO_CURSOR);
	expect(next({ next: 'not a link' })).toBe(NO_CURSOR);
	const [conversation] = readConversationsPage(body, PAGE).conversations;
	addMessages(conversation, { data: [], paging: { next: 'https://graph.facebook.com/v25.0/t_1/messages?after=older2' } }, PAGE);
	expect(conversation.moreMessagesAfter).toBe('older2');
});

test('Graph times with +0000 and +05:30 offsets', () => {
	expect(graphTimeMs('2026-11-25T12:00:00+0000')).toBe(Date.UTC(2026, 10, 25, 12));
	expect(graphTimeMs('2026-11-25T17:30:00+0530')).toBe(Date.UTC(2026, 10, 25, 12));
	expect(graphTimeMs('yesterday')).toBeUndefined();
});

test('text Postgres cannot hold is replaced, never refused; names are one line', () => {
	expect(storableText('a\u0000b\uD800c')).toBe('a\uFFFDb\uFFFDc');
	expect(storableText('😀 ok')).toBe('😀 ok');
	expect(Array.from(storableText('😀'.repeat(5), 3))).toHaveLength(3);
	expect(storableName(' Ana\u2028Souza\t ')).toBe('Ana Souza');
	expect(storableName('\u0001')).toBeNull();
});

test('a message the database would refuse (a control character in its id, a time after the year 3000) is counted unreadable, not sent', () => {
	const conversation = readConversationsPage({ data: [{ id: 't_3', participants: { data: [{ name: 'Bo', id: '10' }, { id: PAGE }] } }] }, PAGE).conversations[0];
	addMessages(conversation, {
		data: [
			{ id: 'm_\u0001', message: 'control character', from: { id: '10' }, created_time: '2026-11-25T11:00:00+0000' },
			{ id: 'm_\u0085', message: 'C1 control', from: { id: '10' }, created_time: '2026-11-25T11:00:00+0000' },
			{ id: 'm_late', message: 'after the year 3000', from: { id: '10' }, created_time: '3001-01-01T00:00:00+0000' },
			{ id: 'm_ok', message: 'fine', from: { id: '10' }, created_time: '2026-11-25T11:00:00+0000' },
		],
	}, PAGE);
	expect(conversation.events.map((event) => ('mid' in event ? event.mid : null))).toEqual(['m_ok']);
	expect(conversation.unreadable).toBe(3);
});

test('a refusal of one conversation’s messages edge is that conversation’s alone only for Meta’s "does not exist" answers (100/33, 803); a refused cursor (read again from the newest), the token’s or the app’s permissions, throttles and other 100s are not', () => {
	expect(refusesConversation({ code: 100, subcode: 33, message: 'Unsupported get request.' })).toBe(true);
	expect(refusesConversation({ code: 803, message: '(#803) Some of the aliases you requested do not exist: t_1' })).toBe(true);
	expect(refusesConversation({ code: 100, message: '(#100) The after cursor is not valid' })).toBe(false);
	// The token's or the app's permissions are every conversation's: the sync stops, as before.
	for (const code of [190, 10, 200, 299, 2, 4, 32, 80006]) expect(refusesConversation({ code, message: 'x' })).toBe(false);
	expect(refusesConversation({ code: 100, message: '(#100) Syntax error in fields' })).toBe(false);
	expect(refusesConversation({ code: 100, subcode: 2018278, message: 'x' })).toBe(false);
});
