// Reading a delivery's body (pure): every kind of messaging event Meta sends, into the events the
// database records or the events ignored with their reason; and the signature check itself.
import { createHmac } from 'node:crypto';
import { readDelivery } from '../../../nodes/MessengerTrigger/helpers/events';
import { checkSignature, sameSecret } from '../../../nodes/MessengerTrigger/helpers/signature';
import { messengerDelivery, messengerEvents } from '../../../simulators';

const PAGE = '111';
const read = (events: unknown[], onlyPage: string | null = PAGE, extra: Record<string, unknown> = {}) => {
	const result = readDelivery(Buffer.from(JSON.stringify({ ...messengerDelivery([{ pageId: PAGE, events }]), ...extra })), onlyPage);
	if (!result.ok) throw new Error(result.problem.message);
	return result.delivery;
};

describe('readDelivery', () => {
	it('reads messages, echoes (app id as digits), postbacks and receipts into the database’s events, with their extras', () => {
		const delivery = read([
			messengerEvents.message(PAGE, { psid: '9', mid: 'm_1', text: 'hi', timestamp: 10 }),
			messengerEvents.echo(PAGE, { psid: '9', mid: 'm_2', text: 'hello', appId: 263902037430900, timestamp: 11 }),
			messengerEvents.postback(PAGE, { psid: '9', mid: 'm_3', title: 'Yes', payload: 'YES', timestamp: 12 }),
			messengerEvents.delivery(PAGE, { psid: '9', watermark: 13, mids: ['m_2'] }),
			messengerEvents.read(PAGE, { psid: '9', watermark: 14.7 }),
		]);
		expect(delivery.events).toEqual([
			{ type: 'message', page_id: PAGE, psid: '9', mid: 'm_1', text: 'hi', timestamp: 10 },
			{ type: 'echo', page_id: PAGE, psid: '9', mid: 'm_2', text: 'hello', timestamp: 11, app_id: '263902037430900' },
			{ type: 'postback', page_id: PAGE, psid: '9', mid: 'm_3', text: 'Yes', timestamp: 12 },
			{ type: 'delivery', page_id: PAGE, psid: '9', watermark: 13 },
			{ type: 'read', page_id: PAGE, psid: '9', watermark: 14 },
		]);
		expect(delivery.extras).toEqual([{}, { app_id: '263902037430900' }, { postback_payload: 'YES' }, {}, {}]);
		expect(delivery.ignored).toEqual([]);
	});

	it('reads standby events (conversations another app controls) like messaging ones', () => {
		const body = { object: 'page', entry: [{ id: PAGE, time: 1, standby: [messengerEvents.message(PAGE, { psid: '9', mid: 'm_s', text: 'hi', timestamp: 1 })] }] };
		const result = readDelivery(Buffer.from(JSON.stringify(body)), PAGE);
		expect(result.ok && result.delivery.events.map((event) => event.type)).toEqual(['message']);
	});

	it('ignores, with the reason: other Pages, unsupported kinds, events without a message id, malformed ids and times', () => {
		const delivery = read(
			[
				{ sender: { id: '9' }, recipient: { id: PAGE }, timestamp: 1, reaction: { mid: 'm_1', action: 'react', emoji: '❤' } },
				{ sender: { id: '9' }, recipient: { id: PAGE }, timestamp: 1, message: { text: 'no id' } },
				{ sender: { id: 'abc' }, recipient: { id: PAGE }, timestamp: 1, message: { mid: 'm_x', text: 'bad psid' } },
				{ sender: { id: '9' }, recipient: { id: PAGE }, timestamp: 'soon', message: { mid: 'm_y', text: 'bad time' } },
				{ sender: { id: '9' }, recipient: { id: '222' }, timestamp: 1, message: { mid: 'm_z' } },
				'not an event',
			],
			PAGE,
		);
		expect(delivery.events).toEqual([]);
		expect(delivery.ignored.map((event) => [event.type, event.reason])).toEqual([
			['reaction', 'unsupported_event'],
			['message', 'no_message_id'],
			['message', 'invalid_event'],
			['message', 'invalid_event'],
			['message', 'invalid_event'],
			['event', 'invalid_event'],
		]);
	});

	it('ignores as invalid_event, before anything is sent, every message id, time and watermark the database refuses (messenger_record’s checks), and takes what it accepts', () => {
		const YEAR_3000 = Date.UTC(3000, 0, 1);
		const message = (mid: string, timestamp = 1) => ({ sender: { id: '9' }, recipient: { id: PAGE }, timestamp, message: { mid, text: 'x' } });
		const refused: Array<[string, unknown]> = [
			['a C0 control', message('m_\u0001x')],
			['unit separator', message('m_\u001fx')],
			['DEL', message('m_\u007fx')],
			['a C1 control (NEL, not \\s)', message('m_\u0085x')],
			['the last C1 control', message('m_\u009fx')],
			['NUL', message('m_\u0000x')],
			['a lone surrogate', message('m_\ud800x')],
			['a space', message('m_ x')],
			['513 characters', message('m'.repeat(513))],
			['a postback id with a control', { sender: { id: '9' }, recipient: { id: PAGE }, timestamp: 1, postback: { mid: 'm_\u0002', title: 'Yes', payload: 'Y' } }],
			['an echo id with a C1 control', messengerEvents.echo(PAGE, { psid: '9', mid: 'm_\u0090', appId: 1, timestamp: 1 })],
			['a time after the year 3000', message('m_late', YEAR_3000 + 1)],
			['a fractional time', message('m_half', 1.5)],
			['a negative time', message('m_early', -1)],
			['a delivery watermark after the year 3000', messengerEvents.delivery(PAGE, { psid: '9', watermark: YEAR_3000 + 1 })],
			['a read watermark after the year 3000', messengerEvents.read(PAGE, { psid: '9', watermark: 1e300 })],
		];
		const delivery = read(refused.map(([, event]) => event));
		expect(delivery.events).toEqual([]);
		expect(delivery.ignored.map((event, index) => [refused[index][0], event.reason])).toEqual(refused.map(([name]) => [name, 'invalid_event']));
		expect(delivery.ignored[0].detail).toMatch(/^message\.mid contains a control character \(U\+0001 at character 3\)/);

		// The bounds themselves are taken, and a length counts characters as the database does (code points).
		const astral = '😀'.repeat(512);
		const taken = read([
			message(astral, YEAR_3000),
			messengerEvents.read(PAGE, { psid: '9', watermark: YEAR_3000 }),
			message('m_ok', 0),
		]);
		expect(taken.ignored).toEqual([]);
		expect(taken.events).toEqual([
			expect.objectContaining({ type: 'message', mid: astral, timestamp: YEAR_3000 }),
			{ type: 'read', page_id: PAGE, psid: '9', watermark: YEAR_3000 },
			expect.objectContaining({ type: 'message', mid: 'm_ok', timestamp: 0 }),
		]);
	});

	it('keeps only the credential’s Page unless every Page is accepted', () => {
		const body = messengerDelivery([{ pageId: '222', events: [messengerEvents.message('222', { psid: '9', mid: 'm_1', timestamp: 1 })] }]);
		const raw = Buffer.from(JSON.stringify(body));
		const only = readDelivery(raw, PAGE);
		expect(only.ok && only.delivery.ignored).toEqual([{ page_id: '222', psid: '9', type: 'message', reason: 'other_page', detail: expect.any(String) }]);
		const every = readDelivery(raw, null);
		expect(every.ok && every.delivery.events.map((event) => event.page_id)).toEqual(['222']);
	});

	it('says what is wrong with a body that is not a delivery', () => {
		expect(readDelivery(Buffer.from('nope'), PAGE)).toEqual({ ok: false, problem: { status: 400, error: 'invalid_json', message: expect.any(String) } });
		expect(readDelivery(Buffer.from('[]'), PAGE)).toMatchObject({ ok: false, problem: { error: 'invalid_delivery' } });
		expect(readDelivery(Buffer.from('{"object":"page"}'), PAGE)).toMatchObject({ ok: false, problem: { error: 'invalid_delivery', message: expect.stringContaining('entry') } });
		expect(readDelivery(Buffer.from('{"object":"user","entry":[]}'), PAGE)).toEqual({ ok: true, object: 'user', delivery: { events: [], extras: [], ignored: [] } });
	});
});

describe('checkSignature', () => {
	const body = Buffer.from('{"object":"page","entry":[]}');
	const sign = (secret: string, bytes = body) => `sha256=${createHmac('sha256', secret).update(bytes).digest('hex')}`;

	it('accepts the HMAC-SHA256 of the exact bytes with the app secret (hex in either case)', () => {
		expect(checkSignature(body, sign('s'), 's')).toEqual({ ok: true });
		expect(checkSignature(body, sign('s').toUpperCase().replace('SHA256=', 'sha256='), 's')).toEqual({ ok: true });
	});

	it('refuses a missing header (401), another secret, other bytes or a malformed header (403)', () => {
		expect(checkSignature(body, undefined, 's')).toMatchObject({ ok: false, status: 401, error: 'missing_signature' });
		expect(checkSignature(body, '', 's')).toMatchObject({ status: 401 });
		expect(checkSignature(body, sign('t'), 's')).toMatchObject({ ok: false, status: 403, error: 'invalid_signature' });
		expect(checkSignature(body, sign('s', Buffer.from('{"object": "page", "entry": []}')), 's')).toMatchObject({ status: 403 });
		expect(checkSignature(body, 'sha256=abc', 's')).toMatchObject({ status: 403 });
		expect(checkSignature(body, sign('s').replace('sha256=', 'sha1='), 's')).toMatchObject({ status: 403 });
	});

	it('compares verify tokens in constant time and never matches an empty expected token', () => {
		expect(sameSecret('abc', 'abc')).toBe(true);
		expect(sameSecret('abd', 'abc')).toBe(false);
		expect(sameSecret('', '')).toBe(false);
	});
});
