// Bad input: every function refuses a malformed call with SQLSTATE 22023 (unknown ids: P0002), a
// message naming the argument, the item and the field, and a hint; and writes nothing.
import { withDb } from '../../helpers/stack';
import { addLeads, claim, complete, createOwner, failure, NOW, phone, preparedOwner, rowCounts, rpc, TOMORROW } from './fixtures';

const UNKNOWN = '00000000-0000-4000-8000-0000000000aa';

describe('queue_add_leads refuses, naming the item and the field', () => {
	let userId: string;
	beforeAll(async () => {
		userId = await createOwner();
	});

	it.each([
		['not an array', { lead: 1 }, /^p_items: must be a JSON array of leads \(got object\)$/],
		['an item that is not an object', ['x'], /^p_items\[1\]: must be an object \(got string\)$/],
		['a phone not in E.164', [{ name: 'A', phone: '0044 20 7946 0000' }], /^p_items\[1\]\.phone: must be a phone number in E\.164/],
		['a score out of range', [{ name: 'A', phone: '+14155550000', lead_score: 101 }], /^p_items\[1\]\.lead_score: must be a whole number from 0 to 100/],
		['a fractional score', [{ name: 'A', phone: '+14155550000', lead_score: 50.5 }], /^p_items\[1\]\.lead_score:/],
		['a name with a line break', [{ name: 'A\nB', phone: '+14155550000' }], /^p_items\[1\]\.name: must be one line/],
		['an empty name', [{ name: ' ', phone: '+14155550000' }], /^p_items\[1\]\.name: must be one line of 1 to 200 characters, or null/],
		// Blank as the nodes read it (leadflow_private.is_blank): refused as an empty one is (migration 20261201002380).
		['a name of only invisible characters (U+200B, U+2060)', [{ name: '\u200b \u2060', phone: '+14155550000' }], /^p_items\[1\]\.name: must be one line of 1 to 200 characters, or null/],
		['an unknown field', [{ name: 'A', phone: '+14155550000', email: 'a@b.c' }], /^p_items\[1\]\.email: not a field of a lead/],
		['no way to reach the lead', [{ name: 'A' }], /^p_items\[1\]: a lead needs a phone, a conversation_id or a campaign_session_id/],
		['a conversation id that is not a uuid', [{ name: 'A', conversation_id: '42' }], /^p_items\[1\]\.conversation_id: must be a Messenger conversation id/],
	])('%s', async (_case, items, message) => {
		const payload = Array.isArray(items) ? [{ user_id: userId, name: 'Fine', phone: phone() }, ...items.map((item) => (typeof item === 'object' ? { user_id: userId, ...item } : item))] : items;
		const error = await failure(addLeads(payload as unknown[]));
		expect(error.code).toBe('22023');
		expect(error.message).toMatch(message); // item 0 is fine: item 1 is named
		expect(error.hint).toEqual(expect.any(String));
		expect(await rowCounts(userId)).toEqual({ leads: 0, backlog: 0, messages: 0, ledger: 0 });
	});

	it('a missing or malformed user_id, and more than 1,000 items', async () => {
		expect((await failure(addLeads([{ name: 'A', phone: phone() }]))).message).toMatch(/^p_items\[0\]\.user_id: required, the owner's user id/);
		const many = Array.from({ length: 1001 }, () => ({ user_id: userId, phone: phone() }));
		expect((await failure(addLeads(many))).message).toBe('p_items: at most 1000 leads per call (got 1001)');
	});
});

describe('the other functions refuse what they cannot do', () => {
	it('queue_add_leads_from_crm: neither or both of tag and campaign, an unknown tag, a page too long', async () => {
		const userId = await createOwner();
		const neither = await failure(rpc('queue_add_leads_from_crm', { p_user_id: userId }));
		expect([neither.code, neither.message]).toEqual(['22023', 'p_tag_id, p_campaign_id: give exactly one (got neither)']);
		const both = await failure(rpc('queue_add_leads_from_crm', { p_user_id: userId, p_tag_id: UNKNOWN, p_campaign_id: UNKNOWN }));
		expect(both.message).toBe('p_tag_id, p_campaign_id: give exactly one (got both)');
		const tag = await failure(rpc('queue_add_leads_from_crm', { p_user_id: userId, p_tag_id: UNKNOWN }));
		expect([tag.code, tag.message]).toEqual(['P0002', `p_tag_id: tag ${UNKNOWN} does not exist for user ${userId}`]);
		const owner = await failure(rpc('queue_add_leads_from_crm', { p_user_id: UNKNOWN, p_campaign_id: UNKNOWN }));
		expect([owner.code, owner.message]).toEqual(['P0002', `p_user_id: user ${UNKNOWN} does not exist`]);
		expect((await failure(rpc('queue_add_leads_from_crm', { p_user_id: userId, p_tag_id: UNKNOWN, p_limit: 1001 }))).message).toBe('p_limit: must be between 1 and 1000 (got 1001)');
	});

	it('queue_prepare: an unknown owner, an owner without settings', async () => {
		const withoutSettings = await createOwner(null);
		const none = await failure(rpc('queue_prepare', { p_user_id: withoutSettings, p_now: NOW }));
		expect([none.code, none.message]).toEqual(['P0002', `p_user_id: user ${withoutSettings} has no queue settings`]);
		expect(none.hint).toMatch(/user_queue_settings/);
		const unknown = await failure(rpc('queue_prepare', { p_user_id: UNKNOWN, p_now: NOW }));
		expect([unknown.code, unknown.message]).toEqual(['P0002', `p_user_id: user ${UNKNOWN} does not exist`]);
	});

	it('queue_claim: no worker, a limit or lease out of range, an unknown owner', async () => {
		const userId = await createOwner();
		for (const [args, message] of [
			[{ p_worker: ' ' }, /^p_worker: required/],
			[{ p_worker: 'w', p_limit: 0 }, /^p_limit: must be between 1 and 1000 \(got 0\)$/],
			[{ p_worker: 'w', p_lease_seconds: 1 }, /^p_lease_seconds: must be between 5 and 86400 \(got 1\)$/],
		] as const) {
			const error = await failure(rpc('queue_claim', { ...args, p_user_id: userId, p_now: NOW }));
			expect([error.code, error.message]).toEqual(['22023', expect.stringMatching(message)]);
		}
		expect((await failure(rpc('queue_claim', { p_worker: 'w', p_user_id: UNKNOWN, p_now: NOW }))).code).toBe('P0002');
	});

	it('queue_complete: a malformed result fails the whole batch, the good results included; nothing is recorded', async () => {
		const { userId } = await preparedOwner(2);
		const [a, b] = await claim('w-bad', userId, `${TOMORROW}T16:00:00.000Z`);
		const before = await rowCounts(userId);
		for (const [result, message] of [
			[{ item_id: b.item_id, outcome: 'delivered' }, /^p_results\[1\]\.outcome: required, sent, failed or released \(got "delivered"\)$/],
			[{ item_id: b.item_id, outcome: 'sent' }, /^p_results\[1\]\.message_id: required when the outcome is sent/],
			[{ item_id: 'b', outcome: 'failed' }, /^p_results\[1\]\.item_id: required, the item_id the claim gave/],
			[{ item_id: b.item_id, outcome: 'failed', error: { message: 'x', retry: 5 } }, /^p_results\[1\]\.error\.retry: not a field of an error/],
			[{ item_id: b.item_id, outcome: 'failed', error: { message: '' } }, /^p_results\[1\]\.error\.message: required/],
			[{ item_id: b.item_id, outcome: 'failed', error: { message: 'x', permanent: 'yes' } }, /^p_results\[1\]\.error\.permanent: must be true, false or null/],
			[{ item_id: b.item_id, outcome: 'failed', error: { message: 'x', retry_after_seconds: -1 } }, /^p_results\[1\]\.error\.retry_after_seconds:/],
			[{ item_id: a.item_id, outcome: 'failed' }, /^p_results\[1\]\.item_id: item .* is listed twice \(also p_results\[0\]\)$/],
		] as const) {
			const error = await failure(complete('w-bad', [{ item_id: a.item_id, outcome: 'sent', message_id: 'wamid.ok' }, result as never], `${TOMORROW}T16:00:00.000Z`));
			expect([error.code, error.message]).toEqual(['22023', expect.stringMatching(message)]);
		}
		expect(await rowCounts(userId)).toEqual(before);
		const statuses = await withDb(async (db) => (await db.query('select status from public.whatsapp_message_queue where user_id = $1', [userId])).rows.map((row) => row.status));
		expect(statuses).toEqual(['claimed', 'claimed']);
	});

	it('queue_export and queue_metrics: a day range backwards or too long, a status that does not exist, an unknown owner', async () => {
		const userId = await createOwner();
		const backwards = await failure(rpc('queue_export', { p_user_id: userId, p_from: '2026-11-27', p_to: '2026-11-26' }));
		expect([backwards.code, backwards.message]).toEqual(['22023', 'p_from, p_to: required, p_from on or before p_to, at most 366 days (got 2026-11-27 to 2026-11-26)']);
		const long = await failure(rpc('queue_metrics', { p_user_id: userId, p_from: '2025-01-01', p_to: '2026-11-26' }));
		expect(long.message).toMatch(/^p_from, p_to: .*at most 366 days/);
		const status = await failure(rpc('queue_export', { p_user_id: userId, p_from: TOMORROW, p_to: TOMORROW, p_statuses: ['queued', 'sending'] }));
		expect(status.message).toBe('p_statuses[1]: sending is not a queue status; they are queued, claimed, sent, failed, cancelled, dead');
		expect((await failure(rpc('queue_metrics', { p_user_id: UNKNOWN, p_from: TOMORROW, p_to: TOMORROW }))).code).toBe('P0002');
	});

	it('settings the database cannot honour are refused, naming the field', async () => {
		const userId = await createOwner(null);
		const insert = (settings: Record<string, unknown>) =>
			withDb(async (db) => {
				try {
					await db.query(
						`insert into public.user_queue_settings (user_id, time_zone, days_of_week, send_from, send_until, message) values ($1, $2, $3, $4, $5, $6)`,
						[userId, settings.time_zone ?? 'UTC', settings.days ?? [1], settings.from ?? '09:00', settings.until ?? '17:00', JSON.stringify(settings.message ?? { type: 'text', text: 'Hi' })],
					);
					return 'accepted';
				} catch (error) {
					return (error as Error).message;
				}
			});
		expect(await insert({ time_zone: 'Mars/Olympus' })).toBe('time_zone: "Mars/Olympus" is not a time zone name');
		expect(await insert({ time_zone: 'CET+1' })).toMatch(/^time_zone:/);
		expect(await insert({ days: [0, 8] })).toMatch(/^days_of_week: must list days 1 \(Monday\) to 7 \(Sunday\)/);
		expect(await insert({ days: [1, 1] })).toMatch(/^days_of_week:/);
		expect(await insert({ from: '18:00', until: '09:00' })).toMatch(/user_queue_settings_hours/);
		expect(await insert({ message: { type: 'text', text: '' } })).toMatch(/^message\.text: required, 1 to 4096 characters/);
		expect(await insert({ message: { type: 'template', name: 'Welcome!', language: 'en_US' } })).toMatch(/^message\.name: required, a WhatsApp template name/);
		expect(await insert({ message: { type: 'template', name: 'welcome', language: 'en_US', components: [] } })).toMatch(/^message\.components: not a field of a template message/);
		expect(await insert({ message: { type: 'audio' } })).toBe('message.type: required, text or template (got "audio")');
		expect(await insert({ time_zone: 'Asia/Kolkata', message: { type: 'template', name: 'welcome', language: 'en_US' } })).toBe('accepted');
	});
});
