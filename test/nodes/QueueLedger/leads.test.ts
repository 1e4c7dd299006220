// Add Leads' check of one item (nodes/QueueLedger/helpers/leads.ts): phones to E.164 in the default
// country, every problem listed with the field it is about, and nothing refused that the database
// would take (or taken that it would refuse).
import { loadPhoneLibrary } from '../../../nodes/shared/phone';
import { checkLead, problemsSentence, type LeadFields } from '../../../nodes/QueueLedger/helpers/leads';

const OWNER = '7d0f4c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f';
const CONVERSATION = '5F1D2C3B-4A5E-4F60-8A7B-9C0D1E2F3A4B';

const fields = (overrides: Partial<LeadFields> = {}): LeadFields => ({
	owner: OWNER,
	name: 'Maria López',
	phone: '0491 570 156',
	conversation_id: null,
	campaign_session_id: null,
	source: 'website-form',
	lead_score: 72,
	...overrides,
});

beforeAll(async () => {
	await loadPhoneLibrary();
});

test('a lead: the phone in E.164 from the default country, ids lower case, text trimmed', () => {
	expect(checkLead(fields({ name: '  Maria López ', conversation_id: CONVERSATION, lead_score: '80' }), 'AU')).toEqual({
		lead: {
			user_id: OWNER,
			name: 'Maria López',
			phone: '+61491570156',
			conversation_id: CONVERSATION.toLowerCase(),
			campaign_session_id: null,
			source: 'website-form',
			lead_score: 80,
		},
	});
	expect(checkLead(fields({ phone: '+1 (415) 555-2671' }), 'AU')).toMatchObject({ lead: { phone: '+14155552671' } });
	expect(checkLead(fields({ phone: '(415) 555-2671' }), 'US')).toMatchObject({ lead: { phone: '+14155552671' } });
});

test('a lead reached through its conversation needs no phone; empty fields are null', () => {
	expect(checkLead(fields({ phone: '', name: '', source: null, lead_score: '', conversation_id: CONVERSATION }), 'AU')).toEqual({
		lead: { user_id: OWNER, name: null, phone: null, conversation_id: CONVERSATION.toLowerCase(), campaign_session_id: null, source: null, lead_score: null },
	});
});

// One rule for blank (nodes/shared/blank.ts, the database's leadflow_private.is_blank): a name of
// only invisible characters (U+200B zero width space, U+2060 word joiner, soft hyphen) is no name, as
// an empty one is; queue_add_leads would refuse it.
test('a name of only invisible characters (U+200B) is no name, as an empty one is; a visible name keeps them', () => {
	expect(checkLead(fields({ name: '\u200b' }), 'AU')).toMatchObject({ lead: { name: null } });
	expect(checkLead(fields({ name: ' \u2060\u00ad\u200b ' }), 'AU')).toMatchObject({ lead: { name: null } });
	expect(checkLead(fields({ name: '\u200bMaria ' }), 'AU')).toMatchObject({ lead: { name: '\u200bMaria' } });
});

test('every problem is listed, each with its field', () => {
	const checked = checkLead(
		fields({ owner: 'me', name: 'Ana\nBob', phone: '0123', conversation_id: 'conv-1', campaign_session_id: 42, source: 'x'.repeat(101), lead_score: 101 }),
		'GB',
	);
	expect('problems' in checked && checked.problems).toEqual([
		{ field: 'owner', message: 'is not a UUID (got "me")' },
		{ field: 'name', message: expect.stringMatching(/^contains a line break \(U\+000A at character 4\)/) },
		{ field: 'phone', message: expect.stringMatching(/^is not a valid phone number in GB .*"0123"/) },
		{ field: 'conversation_id', message: 'is not a UUID (got "conv-1")' },
		{ field: 'campaign_session_id', message: 'is not a UUID (got 42)' },
		{ field: 'source', message: 'is too long: 101 characters, at most 100' },
		{ field: 'lead_score', message: 'must be a whole number from 0 to 100 (got 101)' },
	]);
	expect(problemsSentence('problems' in checked ? checked.problems : [])).toMatch(/^owner is not a UUID \(got "me"\); name contains a line break/);
});

test.each([
	[{ phone: 'call me' }, 'phone', /may contain only digits/],
	[{ phone: { number: '1' } }, 'phone', /must be a phone number as text \(got an object\)/],
	[{ name: 12 }, 'name', /must be text \(got 12\)/],
	[{ lead_score: 7.5 }, 'lead_score', /whole number/],
	[{ lead_score: '-1' }, 'lead_score', /whole number/],
	[{ owner: '' }, 'owner', /is required/],
	[{ phone: null, conversation_id: null, campaign_session_id: null }, 'phone', /is required when the lead has no conversation_id or campaign_session_id/],
])('%j is refused for its %s', (overrides, field, message) => {
	const checked = checkLead(fields(overrides as Partial<LeadFields>), 'AU');
	expect('problems' in checked && checked.problems).toEqual([{ field, message: expect.stringMatching(message) }]);
});
