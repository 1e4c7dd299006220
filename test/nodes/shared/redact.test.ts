// Removing a credential's secrets from Meta's error texts (nodes/shared/redact.ts, graphRedactorFor
// and graphErrorOf in nodes/shared/graph.ts): the token, the app secret and the app access token
// wherever Meta quotes them, whole, URL-encoded, cut short or with something stuck to them, and a
// token of Meta's form that is not the credential's; Meta's own words are left as they are.
import { graphErrorOf, graphRedactorFor, metaSaid } from '../../../nodes/shared/graph';
import { reactionTo } from '../../../nodes/FacebookSend/helpers/graphErrors';
import { numberedKeys, redactorFor } from '../../../nodes/shared/redact';

// Shaped like Meta's: a Page token (EAA…, letters and digits), an app secret (32 hex digits).
const PAGE_TOKEN = 'EAAGm0PX4ZCpsBAKZBcZCvAq9rZA2fZBqLhZA3xZCZBWm7ZAJkZCqf0oZBZCx8iUyFeZAgSy1oxZC8oLpKZBw0ZD';
const APP_ID = '1234567890123456';
const APP_SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const VERIFY_TOKEN = 'my-verify-token-2026';
const redact = graphRedactorFor({ accessToken: PAGE_TOKEN, appSecret: APP_SECRET, appId: APP_ID, verifyToken: VERIFY_TOKEN });

test.each([
	[`Malformed access token ${PAGE_TOKEN}`, 'Malformed access token [access token]'],
	[`Invalid OAuth access token: ${APP_ID}|${APP_SECRET}.`, 'Invalid OAuth access token: [app access token].'],
	[`access_token=${APP_ID}%7C${APP_SECRET}&x=1`, 'access_token=[app access token]&x=1'],
	[`appsecret ${APP_SECRET} is wrong`, 'appsecret [app secret] is wrong'],
	[`verify_token "${VERIFY_TOKEN}" does not match`, 'verify_token "[verify token]" does not match'],
	// Cut short, with an ellipsis or without; stuck to other characters.
	[`Malformed access token ${PAGE_TOKEN.slice(0, 40)}...`, 'Malformed access token [access token]...'],
	[`Malformed access token ${PAGE_TOKEN.slice(0, 12)}`, 'Malformed access token [access token]'],
	[`token=x${PAGE_TOKEN.slice(5, 30)}`, 'token=[access token]'],
	[`secret ${APP_SECRET.slice(0, 16)}…`, 'secret [app secret]…'],
	// Meta's token forms, though not the credential's: another Page's token, another app's access token.
	['Malformed access token EAAB1234567890abcdefghijKLMN', 'Malformed access token [access token]'],
	['Invalid token 987654321|abcdefghijklmnop0123', 'Invalid token [app access token]'],
])('%s → %s', (text, expected) => {
	expect(redact(text)).toBe(expected);
});

test.each([
	'(#100) The parameter recipient is required',
	'Invalid OAuth access token - Cannot parse access token',
	'(#10) This message is sent outside of allowed window.',
	'Error validating access token: Session has expired on Friday, 05-Dec-26 10:00:00 PST. The current time is Friday, 05-Dec-26 11:00:00 PST.',
	'(#131026) Message undeliverable (Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.)',
	"Unsupported get request. Object with ID '104857600000077' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
	'(#80006) There have been too many messages sent to this Messenger thread. EAAccountSettings unchanged.',
	'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-',
	'12345|67890',
])('Meta’s words are left as they are: %s', (text) => {
	expect(redact(text)).toBe(text);
});

test('graphErrorOf redacts every text it reads out of the body: message, details, type', () => {
	const error = graphErrorOf(
		{ error: { message: `Malformed access token ${PAGE_TOKEN}`, type: `OAuthException ${APP_SECRET}`, code: 190, error_data: { details: `token ${PAGE_TOKEN.slice(0, 20)}` }, fbtrace_id: 'AxYz123' } },
		redact,
	);
	expect(error).toEqual({ code: 190, message: 'Malformed access token [access token]', type: 'OAuthException [app secret]', details: 'token [access token]', traceId: 'AxYz123' });
});

test('empty secrets (an App Secret left empty) redact nothing', () => {
	const noSecret = graphRedactorFor({ accessToken: 'page-token-send-tests', appSecret: '', appId: APP_ID, verifyToken: '  ' });
	expect(noSecret('(#100) Invalid parameter')).toBe('(#100) Invalid parameter');
	expect(noSecret('Malformed access token page-token-send-tests')).toBe('Malformed access token [access token]');
});

test('Gemini keys are replaced by their place in the list, a key cut short too', () => {
	const keys = redactorFor(numberedKeys(['AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW', 'AIzaSyZ9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeD']));
	expect(keys("Consumer 'api_key:AIzaSyZ9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeD' has been suspended.")).toBe("Consumer 'api_key:[key 2]' has been suspended.");
	expect(keys('API key not valid: AIzaSyA1b2C3d4E5f6G7h8…')).toBe('API key not valid: [key 1]…');
});

// The App ID is not secret: Meta quotes it ("Object with ID '…' does not exist"), and a cut quote of
// the app access token counts only when it holds some of the App Secret.
describe('the App ID and the Page ID are left as Meta quotes them', () => {
	const missing = (id: string) => `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`;

	test.each([
		['a 16-digit App ID', APP_ID],
		['a 12-digit App ID (as long as a quote must be)', '414141414141'],
	])('%s', (_, appId) => {
		const app = graphRedactorFor({ appId, appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });
		expect(app(missing(appId))).toBe(missing(appId));
		expect(app(`app ${appId}| and ${encodeURIComponent(`${appId}|`)}`)).toBe(`app ${appId}| and ${encodeURIComponent(`${appId}|`)}`);
		// Still a quote of the app access token, cut after a few characters of the App Secret or URL-encoded.
		expect(app(`Invalid token ${appId}|${APP_SECRET.slice(0, 3)}…`)).toBe('Invalid token [app access token]…');
		expect(app(`access_token=${appId}%7C${APP_SECRET.slice(0, 3)}`)).toBe('access_token=[app access token]');
		expect(app(`Invalid token ${appId}|${APP_SECRET}`)).toBe('Invalid token [app access token]');
	});

	test('a Page ID that shares 12 characters with the token is not taken for a quote of it', () => {
		const pageId = '104857600000077';
		const page = graphRedactorFor({ accessToken: `token${pageId}xyz`, pageId });
		expect(page(missing(pageId))).toBe(missing(pageId));
		expect(page(`Malformed access token token${pageId}x`)).toBe('Malformed access token [access token]');
	});
});

// Each call redacts only what it sent: Facebook Send and Messenger Sync send the access token, not
// the Verify Token, whose short values ("window", "token") are ordinary words of Meta's.
test('a redactor of the access token alone leaves the Verify Token’s words as Meta wrote them', () => {
	const send = graphRedactorFor({ accessToken: PAGE_TOKEN });
	const words = ['(#10) This message is sent outside of allowed window.', 'Error validating access token: The session has been invalidated because the user changed their password.'];
	for (const text of words) expect(send(text)).toBe(text);
	expect(send(`Malformed access token ${PAGE_TOKEN}`)).toBe('Malformed access token [access token]');
});

// What an error means is read from Meta's words, not from their redacted copy.
test('graphErrorOf keeps Meta’s message for telling errors apart (metaSaid), the redacted one for what leaves the node', () => {
	const eating = graphRedactorFor({ accessToken: 'allowed window' });
	const error = graphErrorOf({ error: { message: '(#10) This message is sent outside of allowed window.', code: 10 } }, eating);
	expect(error?.message).toBe('(#10) This message is sent outside of [access token].');
	expect(metaSaid(error!)).toBe('(#10) This message is sent outside of allowed window.');
	expect(reactionTo(error!)).toBe('outsideWindow');
	expect(JSON.stringify(error)).not.toContain('allowed window');
	// A copy carries no unredacted text: its redacted message is all there is.
	expect(metaSaid({ ...error! })).toBe('(#10) This message is sent outside of [access token].');
});

test('a label put in is never redacted again: a Verify Token "token" next to the app access token', () => {
	const app = graphRedactorFor({ appId: APP_ID, appSecret: APP_SECRET, verifyToken: 'token' });
	expect(app(`Invalid OAuth access token ${APP_ID}|${APP_SECRET}; verify_token=token`)).toBe('Invalid OAuth access [verify token] [app access token]; verify_[verify token]=[verify token]');
	expect(redactorFor([{ value: 'a.b*c', label: '[x]' }])('1 a.b*c 2 aXbbc')).toBe('1 [x] 2 aXbbc');
});
