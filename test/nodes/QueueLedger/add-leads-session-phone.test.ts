// Queue Ledger's Add Leads through n8n's engine: an item whose phone, normalised, is not its
// campaign session's is refused (migration 20261201001920), naming the field phone, both phones and
// what to do: on Invalid (the other items added), as a failed item (invalid_input) with Continue On
// Fail, or stopping the node with Stop the Node; nothing is added for it. The session's phone written
// as the person typed it (national format) is the same phone, and is added.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { serviceClient, withDb } from '../../helpers/stack';
import { queueOwner, runQueue } from './support/queue';

const addFromItems = (owner: string, options: IDataObject = {}): IDataObject => ({
	resource: 'lead', operation: 'addLeads', source: 'items', ownerUserId: owner, defaultCountry: 'GB', leadSource: 'whatsapp', options,
});

async function session(owner: string, phone: string): Promise<string> {
	const { data, error } = await serviceClient().rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { name_uid: `plumber-leeds_${randomUUID().replace(/-/g, '').slice(0, 10)}`, name: 'Plumber - Leeds', job_description: 'Plumber' },
		p_tasks: [{ phone, name: 'Quinn', session: `s-${randomUUID().slice(0, 8)}` }],
	});
	if (error) throw new Error(error.message);
	return (data as { sessions: Array<{ campaign_session_id: string }> }).sessions[0].campaign_session_id;
}

const leadsOf = (owner: string) =>
	withDb(async (db) => (await db.query<{ name: string; phone: string; campaign_session_id: string | null }>('select name, phone, campaign_session_id from public.leads where user_id = $1 order by name', [owner])).rows);

let counter = Math.floor(Math.random() * 100_000);
/** A distinct valid UK mobile number in E.164 (+447853 7xxxxx). */
const mobile = () => `+4478537${String((counter = (counter + 1) % 100_000)).padStart(5, '0')}`;
/** 07853 712345 for +447853712345: how a person in the UK writes it. */
const national = (e164: string) => `0${e164.slice(3, 7)} ${e164.slice(7)}`;

test('a phone other than its campaign session\'s goes to Invalid naming phone and both numbers; the session\'s phone in national format is added', async () => {
	const owner = await queueOwner();
	const [P, Q, R] = [mobile(), mobile(), mobile()];
	const [s, t] = [await session(owner, Q), await session(owner, R)];
	const { outputs } = await runQueue(
		[
			{ name: 'Pat', phone: national(P), campaign_session_id: s },
			{ name: 'Rae', phone: national(R), campaign_session_id: t },
		],
		addFromItems(owner),
	);
	const refusal = `${P} is not the phone of its campaign session ${s} (${Q}): send that phone or leave phone empty to take it, or leave campaign_session_id out to add this number as a lead of its own`;
	expect(outputs[1]).toEqual([{ item_index: 0, message: `Not a valid lead: phone: ${refusal}`, problems: [{ field: 'phone', message: refusal }] }]);
	expect(outputs[0].map((item) => [item.item_index, item.outcome, item.phone, item.campaign_session_id])).toEqual([[1, 'created', R, t]]);
	expect(await leadsOf(owner)).toEqual([{ name: 'Rae', phone: R, campaign_session_id: t }]);
});

test('with Continue On Fail and Stop the Node: a failed item (invalid_input) saying what to do; without it the node stops; nothing is added for it', async () => {
	const owner = await queueOwner();
	const [P, Q] = [mobile(), mobile()];
	const s = await session(owner, Q);
	const items = [{ name: 'Pat', phone: P, campaign_session_id: s }];

	const failed = await runQueue(items, addFromItems(owner, { onInvalid: 'error' }), undefined, { continueOnFail: true });
	expect(failed.outputs[1]).toEqual([
		{
			error: {
				code: 'invalid_input',
				message: expect.stringMatching(new RegExp(`^item 0 \\(p_items\\[0\\]\\)\\.phone: \\${P} is not the phone of its campaign session ${s} \\(\\${Q}\\)`)),
				description: expect.stringMatching(/^Send the campaign session's phone \(or leave Phone empty: the session's is used\), or leave Campaign Session ID empty/),
			},
		},
	]);

	const stopped = await runQueue(items, addFromItems(owner, { onInvalid: 'error' }));
	expect(stopped.result.status).toBe('error');
	expect(stopped.result.error?.message).toMatch(new RegExp(`item 0 \\(p_items\\[0\\]\\)\\.phone: \\${P} is not the phone of its campaign session ${s} \\(\\${Q}\\)`));
	expect(await leadsOf(owner)).toEqual([]);
});
