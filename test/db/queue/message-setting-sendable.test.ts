// The owner's message setting (user_queue_settings.message) is refused by the database when Send
// (the Queue Ledger's readMessage, nodes/QueueLedger/helpers/messages.ts) would refuse it as stored,
// and when it is only {{name}} (empty for a lead without a name). Not every refusal is known when
// the setting is written: a long name can still push a text over 4,096 characters, which Send
// refuses for that lead (docs/whatsapp.md). Before migration 20261201002240 a template
// language like en_us (Meta's codes, like Send, take the country in capitals) and a text of only
// tabs, line breaks or no-break spaces (btrim removed spaces only) were stored, and then Send refused
// every message of the owner (invalid_message, dead) every day. Refused as the other checks: 23514,
// naming the field.
import { readMessage } from '../../../nodes/QueueLedger/helpers/messages';
import { withDb } from '../../helpers/stack';
import { addLeads, claim, createOwner, phone, prepare, TOMORROW } from './fixtures';

const insert = (userId: string, message: unknown) =>
	withDb(async (db) => {
		try {
			await db.query(`insert into public.user_queue_settings (user_id, message) values ($1, $2)`, [userId, JSON.stringify(message)]);
			await db.query(`delete from public.user_queue_settings where user_id = $1`, [userId]);
			return { accepted: true as const };
		} catch (error) {
			return { accepted: false as const, code: (error as { code?: string }).code, message: (error as Error).message };
		}
	});

const template = (language: string) => ({ type: 'template', name: 'first_contact', language });
const text = (body: string) => ({ type: 'text', text: body });

test.each([
	['a language with the country in small letters', template('en_us'), /^message\.language: required, a template language code as Meta writes it/],
	['a language with a script', template('zh_Hant'), /^message\.language:/],
	['a language with a three-letter country', template('en_USA'), /^message\.language:/],
	['a text of tabs and line breaks', text('\t\n\r\n'), /^message\.text: required, 1 to 4096 characters without control characters, not only white space/],
	['a text of no-break spaces', text('\u00a0\u00a0'), /^message\.text:/],
	['a text of other Unicode spaces', text('\u2003\u3000\ufeff'), /^message\.text:/],
])('%s: Send refuses it, and the database refuses to store it (23514, naming the field)', async (_case, message, refusal) => {
	expect('problem' in readMessage(message)).toBe(true);
	const owner = await createOwner(null);
	const answer = await insert(owner, message);
	expect(answer).toEqual({ accepted: false, code: '23514', message: expect.stringMatching(refusal) });
});

test.each([
	['en', template('en')],
	['en_US', template('en_US')],
	['pt_BR', template('pt_BR')],
	['fil', template('fil')],
	['a text with white space around it', text('\n Hi {{name}}! \t')],
	['a text with a no-break space inside', text('Hi\u00a0there')],
])('%s: Send takes it, and the database stores it', async (_case, message) => {
	expect('message' in readMessage(message)).toBe(true);
	const owner = await createOwner(null);
	expect(await insert(owner, message)).toEqual({ accepted: true });
});

// A text that is only {{name}} (with white space) is one Send takes as stored, but Claim removes the
// placeholder for a lead without a name, and Send refuses the empty text it hands out: every such
// lead's message died (invalid_message). The database refuses it (migration
// 20261201002320_queue_opted_out_marketing_keeps_lead.sql; before, it was stored).
test.each([
	['{{name}}', text('{{name}}')],
	['{{name}} with white space around it', text('\t {{name}}\u00a0\n')],
	['{{name}} twice', text('{{name}} {{name}}')],
])('a text of only %s: the database refuses to store it (23514, naming message.text)', async (_case, message) => {
	const owner = await createOwner(null);
	expect(await insert(owner, message)).toEqual({ accepted: false, code: '23514', message: expect.stringMatching(/^message\.text: .*not only white space or \{\{name\}\}/) });
});

test('why: for a lead without a name Claim hands out the text without {{name}}, and Send refuses an empty text; a text with more than {{name}} is stored and sent', async () => {
	expect('problem' in readMessage(text(''))).toBe(true);
	for (const body of ['{{name}}!', 'Hi {{name}}']) expect(await insert(await createOwner(null), text(body))).toEqual({ accepted: true });
	const owner = await createOwner({ message: text('Hi {{name}}') });
	await addLeads([{ user_id: owner, name: null, phone: phone(), source: 'test' }]);
	await prepare(owner);
	const [claimed] = await claim('w-nameless', owner, `${TOMORROW}T13:00:00.000Z`);
	expect(claimed.message).toEqual(text('Hi'));
});

// A row stored before the rule keeps working (the check is NOT VALID: not re-read), but any write of
// it must bring a message Send takes: changing its capacity alone is refused, naming the message.
test('a setting stored before the rule: a later write of the row is refused until its message is fixed', async () => {
	const owner = await createOwner(null);
	await withDb(async (db) => {
		await db.query('begin');
		try {
			await db.query('alter table public.user_queue_settings drop constraint user_queue_settings_message_sendable');
			await db.query(`insert into public.user_queue_settings (user_id, message) values ($1, $2)`, [owner, JSON.stringify(template('en_us'))]);
			await db.query(
				`alter table public.user_queue_settings add constraint user_queue_settings_message_sendable check (leadflow_private.queue_message_sendable(message)) not valid`,
			);
			const capacity = await db.query('savepoint s').then(() =>
				db.query('update public.user_queue_settings set daily_capacity = 5 where user_id = $1', [owner]).then(
					() => 'accepted',
					(error: Error) => error.message,
				),
			);
			expect(capacity).toMatch(/^message\.language:/);
			await db.query('rollback to savepoint s');
			await db.query(`update public.user_queue_settings set daily_capacity = 5, message = $2 where user_id = $1`, [owner, JSON.stringify(template('en_US'))]);
		} finally {
			await db.query('rollback');
		}
	});
});
