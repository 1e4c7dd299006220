// workflows/queue-actions.json's settle route through n8n's engine in-process against the local
// stack: POST leads/:leadId/settle {outcome, by?, reason?} settles a lead whose last WhatsApp
// message ended dead (queue_settle_lead): 200 delivered (contacted) or send_again (new), harmless
// twice (already_settled); 409 not_settleable naming its field (a message not dead, the other
// outcome after the first, a lead taken over); 404 an unknown or another owner's lead; 400 naming
// the field for a missing or bad outcome, a lead id that is not a UUID, a bad by, an unknown body
// field, a missing owner; 403 without the key. (In its own file beside queue-actions.test.ts, whose
// other routes another change was editing at the same time.)
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { loadWorkflow, runWorkflow, type TestCredentials } from '../harness';
import { claim, complete, failed, preparedOwner, rowCounts, takeLead, TOMORROW } from '../db/queue/fixtures';
import { leadStatus, supabaseCredentials } from '../nodes/QueueLedger/support/queue';

const WORKFLOW = 'workflows/queue-actions.json';
const KEY = { name: 'X-Leadflow-Key', value: `key-${randomUUID()}` };
const credentials = (): TestCredentials => ({ httpHeaderAuth: KEY, ...supabaseCredentials() });
const headers = (owner: string, withKey = true): Record<string, string> => ({ ...(withKey && { [KEY.name]: KEY.value }), ...(owner !== '' && { 'X-Leadflow-Owner': owner }) });
const UNCERTAIN = { code: 'uncertain', message: 'No answer from the WhatsApp Cloud API (timeout): the message may have been delivered', permanent: true };

const settle = (owner: string, leadId: string, body: unknown, withKey = true, query?: Record<string, string>) =>
	runWorkflow(WORKFLOW, {
		startNode: 'Settle Lead Request',
		webhook: { method: 'POST', path: `leads/${leadId}/settle`, headers: headers(owner, withKey), body: body as IDataObject, ...(query && { query }) },
		credentials: credentials(),
	});

const noStackTrace = (body: unknown) => expect(JSON.stringify(body)).not.toMatch(/at \S+ \(|\.(js|ts):\d+/);

async function uncertainLeads(count: number) {
	const { userId } = await preparedOwner(count, { max_attempts: 3 });
	const worker = `w-settle-wf-${randomUUID().slice(0, 8)}`;
	const claimed = await claim(worker, userId, `${TOMORROW}T16:00:00.000Z`);
	await complete(worker, claimed.map((item) => failed(item, UNCERTAIN)), `${TOMORROW}T16:01:00.000Z`);
	return { owner: userId, leadIds: claimed.map((item) => item.lead_id) };
}

test('POST leads/:leadId/settle: 200 delivered or send_again, harmless twice; 409 not_settleable naming its field; 404 unknown or another owner\'s lead', async () => {
	const { owner, leadIds } = await uncertainLeads(3);
	const [a, b, c] = leadIds;

	const delivered = await settle(owner, a, { outcome: 'delivered', by: owner, reason: 'She answered on the phone' });
	expect(delivered.error).toBeUndefined();
	expect(delivered.response?.statusCode).toBe(200);
	expect(delivered.response?.body).toEqual({
		lead_id: a,
		outcome: 'delivered',
		status: 'contacted',
		already_settled: false,
		item_id: expect.any(String),
		error_code: 'uncertain',
		explanation: expect.stringContaining('is contacted'),
	});
	expect(await leadStatus(a)).toBe('contacted');
	const again = await settle(owner, a, { outcome: 'delivered' });
	expect(again.response?.statusCode).toBe(200);
	expect(again.response?.body).toMatchObject({ status: 'contacted', already_settled: true });

	// The other outcome afterwards: 409 naming outcome.
	const other = await settle(owner, a, { outcome: 'send_again' });
	expect(other.response?.statusCode).toBe(409);
	expect(other.response?.body).toMatchObject({ status: 409, field: 'outcome', refusal: 'not_settleable', lead_status: 'contacted', error: expect.stringContaining('already settled as delivered') });

	const sendAgain = await settle(owner, b, { outcome: 'send_again' });
	expect(sendAgain.response?.statusCode).toBe(200);
	expect(sendAgain.response?.body).toMatchObject({ outcome: 'send_again', status: 'new', already_settled: false });
	expect(await leadStatus(b)).toBe('new');

	// A lead taken over: 409 naming leadId, saying why.
	await takeLead(c, { userId: owner });
	const taken = await settle(owner, c, { outcome: 'send_again' });
	expect(taken.response?.statusCode).toBe(409);
	expect(taken.response?.body).toMatchObject({ status: 409, field: 'leadId', lead_status: 'human_controlled', error: expect.stringContaining('taken it over') });

	// Unknown, or another owner's: 404 naming leadId.
	const stranger = (await uncertainLeads(1)).owner;
	for (const [who, leadId] of [
		[owner, randomUUID()],
		[stranger, b],
	]) {
		const missing = await settle(who, leadId, { outcome: 'delivered' });
		expect(missing.response?.statusCode).toBe(404);
		expect(missing.response?.body).toMatchObject({ status: 404, field: 'leadId', error: expect.stringMatching(/^Lead ID: lead .* does not exist for user/) });
		noStackTrace(missing.response?.body);
	}
	expect(await leadStatus(b)).toBe('new');
});

test('POST leads/:leadId/settle with bad input answers 400 naming the field, 403 without the key; nothing is settled', async () => {
	const { owner, leadIds } = await uncertainLeads(1);
	const [lead] = leadIds;
	const counts = await rowCounts(owner);
	const cases: Array<[string, string, unknown, string, RegExp]> = [
		['missing outcome', lead, {}, 'outcome', /^outcome is missing/],
		['a list as the body', lead, ['delivered'], 'body', /not a JSON object/],
		['bad outcome', lead, { outcome: 'arrived' }, 'outcome', /^outcome must be "delivered" or "send_again", and got "arrived"/],
		['outcome not text', lead, { outcome: true }, 'outcome', /^outcome must be/],
		['lead id not a UUID', 'lead-7', { outcome: 'delivered' }, 'leadId', /is not a UUID/],
		['bad by', lead, { outcome: 'delivered', by: 'me' }, 'by', /^by must be the Supabase user ID/],
		['reason not text', lead, { outcome: 'delivered', reason: { text: 'x' } }, 'reason', /^reason must be text/],
		['unknown field', lead, { outcome: 'delivered', takenBy: owner }, 'takenBy', /^Unknown field "takenBy"/],
	];
	for (const [what, leadId, body, field, error] of cases) {
		const run = await settle(owner, leadId, body);
		expect({ what, status: run.response?.statusCode }).toEqual({ what, status: 400 });
		expect({ what, body: run.response?.body }).toEqual({ what, body: { status: 400, field, error: expect.stringMatching(error), hint: expect.stringContaining('"outcome": "delivered"') } });
	}
	const noOwner = await settle('', lead, { outcome: 'delivered' });
	expect(noOwner.response?.statusCode).toBe(400);
	expect(noOwner.response?.body).toMatchObject({ field: 'X-Leadflow-Owner' });
	const query = await settle(owner, lead, { outcome: 'delivered' }, true, { outcome: 'delivered' });
	expect(query.response?.body).toMatchObject({ status: 400, field: 'outcome', error: expect.stringContaining('Query parameter') });
	// An unknown by (a UUID of no user): 400 naming by.
	const unknownBy = await settle(owner, lead, { outcome: 'delivered', by: randomUUID() });
	expect(unknownBy.response?.statusCode).toBe(400);
	expect(unknownBy.response?.body).toMatchObject({ status: 400, field: 'by', error: expect.stringMatching(/^Settled By: user .* does not exist/) });

	// A reason too long or with a control character (refused by the node, not the request check):
	// 400 naming reason (review RF1 F5: it named no field).
	for (const [what, reason, error] of [
		['reason too long', 'x'.repeat(2001), /^Reason is too long: 2001 characters, at most 2000/],
		['reason with a control character', 'she said \u0007 yes', /^Reason contains a control character/],
	] as Array<[string, string, RegExp]>) {
		const run = await settle(owner, lead, { outcome: 'delivered', reason });
		expect({ what, status: run.response?.statusCode }).toEqual({ what, status: 400 });
		expect({ what, body: run.response?.body }).toEqual({ what, body: { status: 400, field: 'reason', error: expect.stringMatching(error), hint: 'Write the reason as plain text of at most 2,000 characters.' } });
	}

	const noKey = await settle(owner, lead, { outcome: 'delivered' }, false);
	expect(noKey.response?.statusCode).toBe(403);
	expect(await rowCounts(owner)).toEqual(counts);
	expect(await leadStatus(lead)).toBe('queued');
});

test('an Owner User ID set in the workflow\'s Settle Lead (typed, or an expression not reading X-Leadflow-Owner) that the node refuses is the workflow\'s 500 naming no field; read from the header it stays the caller\'s 400', async () => {
	const { owner, leadIds } = await uncertainLeads(1);
	const [lead] = leadIds;
	const before = await leadStatus(lead);
	const shipped = loadWorkflow(WORKFLOW);
	const withOwner = (ownerUserId: string) => ({
		...shipped,
		nodes: shipped.nodes.map((node) => (node.name === 'Settle Lead' ? { ...node, parameters: { ...node.parameters, ownerUserId } } : node)),
	});
	const typo = owner.slice(0, 35); // typed in the node, one character short
	for (const ownerUserId of [typo, `={{ '${typo}' }}`]) {
		const { response } = await runWorkflow(withOwner(ownerUserId), {
			startNode: 'Settle Lead Request',
			webhook: { method: 'POST', path: `leads/${lead}/settle`, headers: headers(owner), body: { outcome: 'delivered' } },
			credentials: credentials(),
		});
		expect({ ownerUserId, statusCode: response?.statusCode, body: response?.body }).toEqual({
			ownerUserId,
			statusCode: 500,
			body: {
				status: 500,
				error: `The owner user ID "${typo}" is not a UUID`,
				hint: expect.stringMatching(/^The workflow's node Settle Lead refuses its own setting: fix it in the workflow \(the request is not at fault\)\. /),
			},
		});
	}
	expect(await leadStatus(lead)).toBe(before);
	// The shipped expression reads the header: a bad header is the caller's 400 naming it.
	const byHeader = await settle(typo, lead, { outcome: 'delivered' });
	expect(byHeader.response).toMatchObject({ statusCode: 400, body: { status: 400, field: 'X-Leadflow-Owner' } });
	expect(await leadStatus(lead)).toBe(before);
});
