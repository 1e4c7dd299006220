// The console page's pure parts behind review K, without a browser: a contact whose name is blank
// (empty, spaces, a zero-width space) is named by its Messenger id, by the package's own blank rule
// (console/src/format.ts mirrors nodes/shared/blank.ts: checked here, code point by code point); the
// tab a fragment asks for is the same at the page's opening and typed while it is open (#owner= the
// Queue tab, #pipeline= the Pipeline tab); a hover time names its zone; an owner without queue
// settings is told so; Take Lead counts the messages cancelled, not the backlog item.
import { contactName, isBlankName, timeInZone } from '../../console/src/format';
import { parseFragment, tabOf } from '../../console/src/fragment';
import { messagesCancelled, noQueueSettingsInWords } from '../../console/src/queue-words';
import { isBlank } from '../../nodes/shared/blank';

describe('a contact\'s name', () => {
	it('is the Messenger id when the name is missing or blank, else the name trimmed', () => {
		const id = '9000000123';
		expect(contactName({ sender_name: null, sender_id: id })).toBe(id);
		expect(contactName({ sender_name: '', sender_id: id })).toBe(id);
		expect(contactName({ sender_name: '   ', sender_id: id })).toBe(id);
		expect(contactName({ sender_name: '\u200B', sender_id: id })).toBe(id);
		expect(contactName({ sender_name: ' \u200E\u2060\u00AD ', sender_id: id })).toBe(id);
		expect(contactName({ sender_name: '  Ana Lima ', sender_id: id })).toBe('Ana Lima');
		expect(contactName({ sender_name: 'Zoë', sender_id: id })).toBe('Zoë');
	});

	it('is blank exactly when the nodes\' rule (nodes/shared/blank.ts) says so, for every code point of the Basic Multilingual Plane', () => {
		// The format characters that draw a glyph (Prepended_Concatenation_Mark) are a name: the rule
		// as review S1 put it, which nodes/shared/blank.ts takes up in the same change (migration …2590).
		const marks = [0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6dd, 0x70f, 0x890, 0x891, 0x8e2, 0x110bd, 0x110cd];
		for (const mark of marks) expect(isBlankName(String.fromCodePoint(mark))).toBe(false);
		const differ: string[] = [];
		for (let code = 0; code <= 0xffff; code += 1) {
			if ((code >= 0xd800 && code <= 0xdfff) || marks.includes(code)) continue;
			const text = String.fromCharCode(code);
			if (isBlankName(text) !== isBlank(text) || isBlankName(` ${text} `) !== isBlank(` ${text} `)) differ.push(code.toString(16));
		}
		expect(differ).toEqual([]);
		expect(isBlankName(null)).toBe(true);
		expect(isBlankName('')).toBe(isBlank(''));
	});
});

describe('the tab a fragment opens', () => {
	it('is #tab= when given, else the tab of what it names; the same rule opening and typed into the open page', () => {
		const tab = (hash: string) => tabOf(parseFragment(hash));
		expect(tab('#key=k&owner=f0765e0b-2e47-4338-8b49-56ea09be0527')).toBe('queue');
		expect(tab('#key=k&pipeline=3b0c1d9e-0000-4000-8000-000000000001')).toBe('pipeline');
		expect(tab('#rule=9d73010b-1a49-4673-a45e-f7b71de01c06')).toBe('followups');
		expect(tab('#owner=a&tab=rules')).toBe('rules');
		expect(tab('#rule=r&owner=a')).toBe('followups');
		expect(tab('#key=k')).toBeUndefined();
		expect(tab('#owner=')).toBeUndefined();
		// An ID of blanks names nothing, as the pickers read it (addressId): the tab is the one the
		// rest of the address names (review RM4 F1; before, #rule=%20 took the Follow-ups tab).
		expect(tab('#rule=%20&pipeline=0A1B2C3D-1111-4111-8111-111111111111')).toBe('pipeline');
		expect(tab('#rule=%20%20&owner=bbbbbbbb-2222-4222-8222-222222222222')).toBe('queue');
		expect(tab('#pipeline=%20&owner=bbbbbbbb-2222-4222-8222-222222222222')).toBe('queue');
		expect(tab('#owner=%20')).toBeUndefined();
	});
});

describe('a hover time', () => {
	it('names its zone: the one given, else the browser\'s', () => {
		expect(timeInZone('2026-12-06T04:05:00Z', 'Asia/Tokyo')).toBe('Dec 6, 2026, 1:05 PM Asia/Tokyo');
		expect(timeInZone('2026-12-06T04:05:00Z', 'UTC')).toBe('Dec 6, 2026, 4:05 AM UTC');
		expect(timeInZone('2026-12-06T04:05:00Z', 'Mars/Olympus')).toBe('Dec 6, 2026, 4:05 AM UTC');
		expect(timeInZone('2026-12-06T04:05:00Z')).toMatch(/^Dec 6, 2026, .+ \S+$/);
		expect(timeInZone('2026-12-06T04:05:00Z')).toContain(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
	});
});

describe('the Queue tab', () => {
	it('tells an owner without queue settings that nothing is ever queued, what to do, and where the owners with a queue are', () => {
		expect(noQueueSettingsInWords('f0765e0b-2e47-4338-8b49-56ea09be0527', 3)).toBe(
			'Owner f0765e0b-2e47-4338-8b49-56ea09be0527 has no queue settings, so nothing is ever queued for them: Queue: prepare fills a day only for an owner '
			+ 'with a row in user_queue_settings (daily capacity, sending hours, the message). Give them one to start their queue. The 3 owners with a queue are in the Owner list.',
		);
		expect(noQueueSettingsInWords('a', 1)).toMatch(/ The owner with a queue is in the Owner list\.$/);
		expect(noQueueSettingsInWords('a', 0)).toMatch(/ No owner has a lead queue in this database yet\.$/);
		expect(noQueueSettingsInWords('x'.repeat(80), 1)).toContain(`Owner ${'x'.repeat(60)}… has`);
	});

	it('never says "nothing is ever queued" for an owner whose settings were removed after messages were queued', () => {
		const words = noQueueSettingsInWords('f0765e0b-2e47-4338-8b49-56ea09be0527', 1, 2);
		expect(words).toBe('Owner f0765e0b-2e47-4338-8b49-56ea09be0527 has no queue settings any more: the 2 messages in this day\'s queue stay there, '
			+ 'but Queue: prepare queues nothing new for them: it fills a day only for an owner with a row in user_queue_settings (daily capacity, sending hours, the message). '
			+ 'Give them one again to go on queuing. The owner with a queue is in the Owner list.');
		expect(words).not.toMatch(/nothing is ever queued/);
		expect(noQueueSettingsInWords('a', 1, 1)).toContain('the 1 message in this day\'s queue stays there');
		expect(noQueueSettingsInWords('a', 1, 0)).toMatch(/nothing is ever queued/);
	});

	it('counts the messages Take Lead cancelled, not the lead\'s backlog item', () => {
		expect(messagesCancelled([
			{ queue: 'whatsapp_message_queue', item_id: 'm1', from_status: 'queued' },
			{ queue: 'lead_processing_queue', item_id: 'b1', from_status: 'queued' },
		])).toBe(1);
		expect(messagesCancelled([{ queue: 'lead_processing_queue' }])).toBe(0);
		expect(messagesCancelled([])).toBe(0);
		expect(messagesCancelled([null, 'x', { queue: 'whatsapp_message_queue' }, { queue: 'whatsapp_message_queue' }])).toBe(2);
	});
});
