// Add Leads: from items or from the CRM (the conversations carrying a tag, the sessions of a
// campaign), deduplicated by phone, conversation and campaign session, in one call; every new lead
// waits in the backlog.
import type { AddLeadsFromCrmResult } from '../../../nodes/shared/contract';
import { withDb } from '../../helpers/stack';
import { addLeads, createOwner, ledger, NOW, phone, prepare, rowCounts, rpc } from './fixtures';

const fromCrm = (args: Record<string, unknown>) => rpc<AddLeadsFromCrmResult[]>('queue_add_leads_from_crm', { p_now: NOW, ...args });

describe('queue_add_leads', () => {
	it('deduplicates by phone, conversation and campaign session, against existing leads and inside the call', async () => {
		const userId = await createOwner();
		const conversation = await withDb(async (db) =>
			(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '1', '2') returning id`, [userId])).rows[0].id,
		);
		const [p1, p2, p3] = [phone(), phone(), phone()];
		const [existing] = await addLeads([{ user_id: userId, name: 'Existing', phone: p1 }]);
		const rows = await addLeads([
			{ user_id: userId, name: 'Same phone', phone: p1 }, // the existing lead
			{ user_id: userId, name: 'New', phone: p2, lead_score: 70, source: 'fair' }, // created
			{ user_id: userId, name: 'Via Messenger', phone: null, conversation_id: conversation }, // created
			{ user_id: userId, name: 'New again', phone: p2 }, // item 1's lead
			{ user_id: userId, name: 'Both', phone: p3, conversation_id: conversation }, // item 2's lead (its conversation)
			{ user_id: userId, name: 'Third', phone: p3 }, // item 4's, so item 2's lead
		]);
		expect(rows.map((row) => row.outcome)).toEqual(['existing', 'created', 'created', 'existing', 'existing', 'existing']);
		expect(rows[0].lead_id).toBe(existing.lead_id);
		expect(rows[3].lead_id).toBe(rows[1].lead_id);
		expect(rows[4].lead_id).toBe(rows[2].lead_id);
		expect(rows[5].lead_id).toBe(rows[2].lead_id);
		expect(rows.every((row) => row.status === 'new')).toBe(true);
		expect(await rowCounts(userId)).toMatchObject({ leads: 3, backlog: 3 });
		const lead = await withDb(async (db) => (await db.query('select name, phone, lead_score, source, status from public.leads where id = $1', [rows[1].lead_id])).rows[0]);
		expect(lead).toEqual({ name: 'New', phone: p2, lead_score: 70, source: 'fair', status: 'new' });
		// Every new lead and backlog item has its ledger row, actor automation.
		const added = (await ledger(userId)).map((row) => [row.queue, row.to_status, row.actor, row.reason]);
		expect(added.filter(([queue]) => queue === 'leads')).toHaveLength(3);
		expect(new Set(added.map((row) => row.join(' ')))).toEqual(new Set(['leads new automation added', 'lead_processing_queue queued automation added']));
	});

	it('two calls adding the same phone at once make one lead', async () => {
		const userId = await createOwner();
		const shared = phone();
		const results = await Promise.all(Array.from({ length: 4 }, (_, i) => addLeads([{ user_id: userId, name: `Caller ${i}`, phone: shared }])));
		const ids = new Set(results.map(([row]) => row.lead_id));
		expect(ids.size).toBe(1);
		expect(results.filter(([row]) => row.outcome === 'created')).toHaveLength(1);
		expect((await rowCounts(userId)).leads).toBe(1);
	});
});

describe('queue_add_leads: an existing lead takes the fields it lacks', () => {
	const conversationOf = (userId: string, sender: string) =>
		withDb(async (db) => (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id) values ($1, '1', $2) returning id`, [userId, sender])).rows[0].id);
	const leadRow = (id: string) => withDb(async (db) => (await db.query('select name, phone, conversation_id from public.leads where id = $1', [id])).rows[0]);

	it('a Messenger lead given its phone later keeps it (queue_prepare queues it), never overwriting a stored value', async () => {
		const userId = await createOwner();
		const conversation = await conversationOf(userId, '2');
		const [first] = await addLeads([{ user_id: userId, name: null, phone: null, conversation_id: conversation }]);
		const [again] = await addLeads([{ user_id: userId, name: 'Maria', phone: '+61491570156', conversation_id: conversation }]);
		expect(again).toMatchObject({ lead_id: first.lead_id, outcome: 'existing', name: 'Maria', phone: '+61491570156', conversation_id: conversation });
		expect(await leadRow(first.lead_id)).toEqual({ name: 'Maria', phone: '+61491570156', conversation_id: conversation });
		expect((await prepare(userId))[0]).toMatchObject({ queued: 1, skipped: expect.objectContaining({ no_phone: 0 }) });

		// Stored values stay: the answer is the stored lead, not the item.
		const [third] = await addLeads([{ user_id: userId, name: 'Someone else', phone: '+447853723699', conversation_id: conversation }]);
		expect(third).toMatchObject({ lead_id: first.lead_id, outcome: 'existing', name: 'Maria', phone: '+61491570156' });
		expect(await leadRow(first.lead_id)).toEqual({ name: 'Maria', phone: '+61491570156', conversation_id: conversation });
	});

	it('a phone another lead holds, or that two leads are offered, is stored once (the unique keys hold)', async () => {
		const userId = await createOwner();
		const [c1, c2, c3] = [await conversationOf(userId, '11'), await conversationOf(userId, '12'), await conversationOf(userId, '13')];
		const [taken, shared] = [phone(), phone()];
		const [holder] = await addLeads([{ user_id: userId, name: 'Holder', phone: taken }]);
		const before = await addLeads([c1, c2, c3].map((conversation_id) => ({ user_id: userId, name: null, phone: null, conversation_id })));
		const rows = await addLeads([
			{ user_id: userId, name: null, phone: null, conversation_id: c1 }, // no phone given
			{ user_id: userId, name: null, phone: shared, conversation_id: c2 }, // c2's lead takes it
			{ user_id: userId, name: null, phone: shared, conversation_id: c3 }, // offered the same phone: item 1's lead takes it
		]);
		expect(rows.map((row) => [row.lead_id, row.phone])).toEqual([
			[before[0].lead_id, null],
			[before[1].lead_id, shared],
			[before[2].lead_id, null],
		]);
		// Matched by conversation (no lead had the phone yet); the earlier item's lead takes it.
		expect(await leadRow(before[1].lead_id)).toMatchObject({ phone: shared });
		expect(await leadRow(before[2].lead_id)).toMatchObject({ phone: null });
		const [theirs] = await addLeads([{ user_id: userId, name: null, phone: taken, conversation_id: c3 }]);
		expect(theirs).toMatchObject({ lead_id: holder.lead_id, phone: taken, conversation_id: null }); // matched by phone first
		expect(await rowCounts(userId)).toMatchObject({ leads: 4 });
	});
});

describe('queue_add_leads: p_refused', () => {
	it('answer: each refused item is a row naming its field, the others are added; check: only the refusals, nothing written; raise: the first, nothing written', async () => {
		const userId = await createOwner();
		const stranger = '00000000-0000-4000-8000-000000000001';
		const items = [
			{ user_id: userId, name: 'Fine', phone: phone() },
			{ user_id: userId, name: 'Stranger', phone: null, conversation_id: stranger },
			{ user_id: stranger, name: 'Nobody', phone: phone() },
			{ user_id: userId, name: 'Session', phone: null, campaign_session_id: stranger },
		];
		const refusals = [
			{ item_index: 1, outcome: 'refused', lead_id: null, field: 'conversation_id', message: `conversation ${stranger} does not exist for user ${userId}` },
			{ item_index: 2, outcome: 'refused', lead_id: null, field: 'user_id', message: `user ${stranger} does not exist` },
			{ item_index: 3, outcome: 'refused', lead_id: null, field: 'campaign_session_id', message: `campaign session ${stranger} does not exist for user ${userId}` },
		];
		const checked = await rpc<Record<string, unknown>[]>('queue_add_leads', { p_items: items, p_now: NOW, p_refused: 'check' });
		expect(checked).toEqual(refusals.map((refusal) => expect.objectContaining(refusal)));
		expect((await rowCounts(userId)).leads).toBe(0);
		await expect(addLeads(items)).rejects.toThrow(/p_items\[1\]\.conversation_id: conversation .* does not exist/);
		expect((await rowCounts(userId)).leads).toBe(0);

		const answered = await rpc<Record<string, unknown>[]>('queue_add_leads', { p_items: items, p_now: NOW, p_refused: 'answer' });
		expect([...answered].sort((a, b) => Number(a.item_index) - Number(b.item_index))).toEqual([
			expect.objectContaining({ item_index: 0, outcome: 'created', name: 'Fine', field: null, message: null }),
			...refusals.map((refusal) => expect.objectContaining(refusal)),
		]);
		expect((await rowCounts(userId)).leads).toBe(1);
	});
	it('answer reads the refusals once: a conversation created right after they are read leaves its item refused, not also added', async () => {
		const userId = await createOwner();
		const late = '00000000-0000-4000-8000-0000000000a7';
		// Stands in for another session creating the conversation just after this call read the
		// refusals: the read is wrapped, and the wrapper creates it once the read is done.
		await withDb(async (db) => {
			await db.query('alter function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) rename to queue_add_lead_refusals_read');
			await db.query(`
				create function leadflow_private.queue_add_lead_refusals(p_items leadflow_private.queue_new_lead[])
				returns table (item_index integer, field text, message text, hint text)
				language plpgsql volatile set search_path = '' as $fn$
				begin
				  return query select * from leadflow_private.queue_add_lead_refusals_read(p_items);
				  insert into public.messenger_conversations (id, user_id, page_id, sender_id)
				  select i.conversation_id, i.user_id, '1', '987654' from unnest(p_items) i where i.conversation_id = '${late}'
				  on conflict do nothing;
				end $fn$`);
			await db.query('grant execute on function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) to service_role');
		});
		try {
			const answered = await rpc<Record<string, unknown>[]>('queue_add_leads', {
				p_items: [
					{ user_id: userId, name: 'Fine', phone: phone() },
					{ user_id: userId, name: 'Arrives late', phone: null, conversation_id: late },
				],
				p_now: NOW,
				p_refused: 'answer',
			});
			expect([...answered].sort((a, b) => Number(a.item_index) - Number(b.item_index))).toEqual([
				expect.objectContaining({ item_index: 0, outcome: 'created', name: 'Fine' }),
				expect.objectContaining({ item_index: 1, outcome: 'refused', field: 'conversation_id', lead_id: null }),
			]);
			expect((await rowCounts(userId)).leads).toBe(1);
		} finally {
			await withDb(async (db) => {
				await db.query('drop function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[])');
				await db.query('alter function leadflow_private.queue_add_lead_refusals_read(leadflow_private.queue_new_lead[]) rename to queue_add_lead_refusals');
			});
		}
	});
});

describe('queue_add_leads_from_crm', () => {
	it('the conversations carrying a tag, a page at a time, named after the sender; a second call finds them all existing', async () => {
		const userId = await createOwner();
		const { tagId, conversations } = await withDb(async (db) => {
			const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Hot') returning id`, [userId]);
			const rows = await db.query<{ id: string }>(
				`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
				 select $1, '77', (1000 + n)::text, case when n = 2 then e'bad\\u0007name' else 'Person ' || n end from generate_series(1, 5) n returning id`,
				[userId],
			);
			// Four of the five carry the tag.
			await db.query('insert into public.conversation_tags (conversation_id, tag_id, user_id) select unnest($1::uuid[]), $2, $3', [rows.rows.slice(0, 4).map((r) => r.id), tag.rows[0].id, userId]);
			return { tagId: tag.rows[0].id, conversations: rows.rows.map((r) => r.id).slice(0, 4).sort() };
		});
		const first = await fromCrm({ p_user_id: userId, p_tag_id: tagId, p_limit: 3 });
		expect(first.map((row) => row.conversation_id)).toEqual(conversations.slice(0, 3));
		const second = await fromCrm({ p_user_id: userId, p_tag_id: tagId, p_limit: 3, p_after: first[2].conversation_id });
		expect(second.map((row) => row.conversation_id)).toEqual(conversations.slice(3));
		expect([...first, ...second].every((row) => row.outcome === 'created' && row.source === 'crm_tag' && row.campaign_session_id === null)).toBe(true);
		const names = await withDb(async (db) => (await db.query('select name, phone from public.leads where user_id = $1 order by name nulls first', [userId])).rows);
		// The sender name with a control character is not a valid name: the lead has none.
		expect(names).toEqual([{ name: null, phone: null }, { name: 'Person 1', phone: null }, { name: 'Person 3', phone: null }, { name: 'Person 4', phone: null }]);
		const again = await fromCrm({ p_user_id: userId, p_tag_id: tagId });
		expect(again.map((row) => row.outcome)).toEqual(['existing', 'existing', 'existing', 'existing']);
	});

	it('the sessions of a campaign, with their phones; a phone already a lead is that lead', async () => {
		const userId = await createOwner();
		const [p1, p2] = [phone(), phone()];
		const campaignId = await withDb(async (db) => {
			await db.query('insert into public.numbers (user_id, phone_e164, contact_name) values ($1, $2, $3), ($1, $4, null)', [userId, p1, 'Carla', p2]);
			const campaign = await db.query<{ id: string }>(
				`insert into public.campaign_info (user_id, name_uid, name) values ($1, 'plumbers_abc123', 'Plumbers') returning id`,
				[userId],
			);
			await db.query(
				`insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name) values ($1, 's1', $2, $3, null), ($1, 's2', $2, $4, 'Dario')`,
				[userId, campaign.rows[0].id, p1, p2],
			);
			return campaign.rows[0].id;
		});
		const [known] = await addLeads([{ user_id: userId, name: 'Known', phone: p2 }]);
		const rows = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId });
		expect(rows).toHaveLength(2);
		const byPhone = await withDb(async (db) =>
			Object.fromEntries((await db.query<{ phone: string; id: string; name: string; source: string; campaign_session_id: string | null }>('select * from public.leads where user_id = $1', [userId])).rows.map((row) => [row.phone, row])),
		);
		expect(byPhone[p1]).toMatchObject({ name: 'Carla', source: 'campaign', campaign_session_id: expect.any(String) });
		expect(rows.find((row) => row.lead_id === known.lead_id)).toMatchObject({ outcome: 'existing', source: null, conversation_id: null });
	});
	it('an existing lead takes the name, conversation or campaign session it lacks; each row is the stored lead, from_id the CRM row', async () => {
		const userId = await createOwner();
		const [p1, p2, p3] = [phone(), phone(), phone()];
		const { campaignId, sessions, otherSession, conversation, tagId } = await withDb(async (db) => {
			await db.query('insert into public.numbers (user_id, phone_e164, contact_name) values ($1, $2, $3), ($1, $4, null), ($1, $5, null)', [userId, p1, 'Carla', p2, p3]);
			const campaigns = await db.query<{ id: string }>(
				`insert into public.campaign_info (user_id, name_uid, name) values ($1, 'plumbers_fill01', 'Plumbers'), ($1, 'roofers_fill01', 'Roofers') returning id`,
				[userId],
			);
			const rows = await db.query<{ id: string }>(
				`insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name)
				 values ($1, 'f1', $2, $3, null), ($1, 'f2', $2, $4, 'Dario'), ($1, 'f3', $2, $5, 'Eva'), ($1, 'f0', $6, $4, null) returning id`,
				[userId, campaigns.rows[0].id, p1, p2, p3, campaigns.rows[1].id],
			);
			const conversations = await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1', '31', 'Fatima') returning id`, [userId]);
			const tag = await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'Warm') returning id`, [userId]);
			await db.query('insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)', [conversations.rows[0].id, tag.rows[0].id, userId]);
			return { campaignId: campaigns.rows[0].id, sessions: rows.rows.slice(0, 3).map((r) => r.id), otherSession: rows.rows[3].id, conversation: conversations.rows[0].id, tagId: tag.rows[0].id };
		});
		const [bare, holder, messenger] = await addLeads([
			{ user_id: userId, name: null, phone: p1 }, // no name, no session
			{ user_id: userId, name: 'Known', phone: p2, campaign_session_id: otherSession }, // another campaign's session
			{ user_id: userId, name: null, phone: null, conversation_id: conversation }, // no name
		]);
		const rows = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId });
		const [s1, s2, s3] = sessions;
		const byFrom = Object.fromEntries(rows.map((row) => [row.from_id, row]));
		expect(rows.map((row) => row.from_id)).toEqual([...sessions].sort());
		// The lead found by its phone takes the session and the name it lacked.
		expect(byFrom[s1]).toEqual({ from_id: s1, lead_id: bare.lead_id, outcome: 'existing', status: 'new', source: null, name: 'Carla', phone: p1, conversation_id: null, campaign_session_id: s1, reason: null });
		// One holding another session and a name keeps them: the answer is what it holds, and says
		// why its session is not from_id (20261201001570: that lead is this session's lead all the same).
		expect(byFrom[s2]).toEqual({ from_id: s2, lead_id: holder.lead_id, outcome: 'existing', status: 'new', source: null, name: 'Known', phone: p2, conversation_id: null, campaign_session_id: otherSession, reason: 'phone_holds_other_session' });
		expect(byFrom[s3]).toMatchObject({ from_id: s3, outcome: 'created', source: 'campaign', name: 'Eva', phone: p3, campaign_session_id: s3 });
		const stored = await withDb(async (db) => (await db.query('select id, name, campaign_session_id from public.leads where id = any ($1) order by name', [[bare.lead_id, holder.lead_id]])).rows);
		expect(stored).toEqual([
			{ id: bare.lead_id, name: 'Carla', campaign_session_id: s1 },
			{ id: holder.lead_id, name: 'Known', campaign_session_id: otherSession },
		]);

		// A tag's conversation gives the lead found by it the sender's name it lacked.
		const tagged = await fromCrm({ p_user_id: userId, p_tag_id: tagId });
		expect(tagged).toEqual([{ from_id: conversation, lead_id: messenger.lead_id, outcome: 'existing', status: 'new', source: null, name: 'Fatima', phone: null, conversation_id: conversation, campaign_session_id: null, reason: null }]);
	});
});

/** A campaign of the owner with one session per [phone, display name]; returns the campaign and session ids in that order. */
const campaignWith = (userId: string, nameUid: string, sessions: Array<[string, string | null]>) =>
	withDb(async (db) => {
		const campaign = await db.query<{ id: string }>(`insert into public.campaign_info (user_id, name_uid, name) values ($1, $2, 'Plumbers') returning id`, [userId, nameUid]);
		const ids: string[] = [];
		for (const [index, [number, name]] of sessions.entries()) {
			await db.query('insert into public.numbers (user_id, phone_e164) values ($1, $2) on conflict do nothing', [userId, number]);
			const row = await db.query<{ id: string }>(
				'insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name) values ($1, $2, $3, $4, $5) returning id',
				[userId, `${nameUid}-${index}`, campaign.rows[0].id, number, name],
			);
			ids.push(row.rows[0].id);
		}
		return { campaignId: campaign.rows[0].id, sessions: ids };
	});

describe('queue_add_leads: a lead given only its campaign session (or conversation) takes what it names', () => {
	it('the session\'s phone and name, so Prepare queues it; a phone another lead holds finds that lead; a conversation gives its sender\'s name', async () => {
		const userId = await createOwner();
		const [p1, p2, p3] = [phone(), phone(), phone()];
		await withDb((db) => db.query('insert into public.numbers (user_id, phone_e164, contact_name) values ($1, $2, $3)', [userId, p2, 'Bea']));
		const { sessions } = await campaignWith(userId, 'plumbers_only01', [[p1, 'Ann'], [p2, null], [p3, null]]);
		const [s1, s2, s3] = sessions;
		const conversation = await withDb(async (db) =>
			(await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1', '41', 'Fatima') returning id`, [userId])).rows[0].id,
		);
		const [holder] = await addLeads([{ user_id: userId, name: 'Holder', phone: p3 }]);
		const rows = await addLeads([
			{ user_id: userId, name: null, phone: null, campaign_session_id: s1 }, // the session's phone and display name
			{ user_id: userId, name: 'Given', phone: null, campaign_session_id: s2 }, // its phone; the name given stays
			{ user_id: userId, name: null, phone: null, campaign_session_id: s3 }, // its phone is the holder's: that lead, which takes the session
			{ user_id: userId, name: null, phone: null, conversation_id: conversation }, // the sender's name; Messenger has no phone
		]);
		expect(rows.map((row) => [row.outcome, row.name, row.phone, row.campaign_session_id, row.conversation_id])).toEqual([
			['created', 'Ann', p1, s1, null],
			['created', 'Given', p2, s2, null],
			['existing', 'Holder', p3, s3, null],
			['created', 'Fatima', null, null, conversation],
		]);
		expect(rows[2].lead_id).toBe(holder.lead_id);
		const [onlySession] = await addLeads([{ user_id: userId, name: null, phone: null, campaign_session_id: s1 }]);
		expect(onlySession).toMatchObject({ lead_id: rows[0].lead_id, outcome: 'existing', phone: p1 });
		expect(await rowCounts(userId)).toMatchObject({ leads: 4 });
		const [prepared] = await prepare(userId);
		expect(prepared).toMatchObject({ queued: 3, skipped: expect.objectContaining({ no_phone: 1 }) });
	});
});

// A name that shows nothing (only white space and format characters such as U+200B zero width
// space: leadflow_private.is_blank, the nodes' rule) is no name (migration 20261201002380): a
// session or sender named so (a session stored before, a Messenger profile) gives the lead none.
describe('queue_add_leads: a session\'s or sender\'s name of only invisible characters is not taken', () => {
	it('the lead takes the sender\'s name after a blank session name, or none; the tag import takes none either', async () => {
		const userId = await createOwner();
		const [p1, p2] = [phone(), phone()];
		const { campaignId, sessions } = await campaignWith(userId, 'plumbers_blank01', [[p1, '\u200b'], [p2, ' \u2060\u00ad ']]);
		const [tagId, conversation, blankSender] = await withDb(async (db) => {
			const tag = (await db.query<{ id: string }>(`insert into public.tags (user_id, name) values ($1, 'blank-names') returning id`, [userId])).rows[0].id;
			const named = (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1', '51', 'Fatima') returning id`, [userId])).rows[0].id;
			const blank = (await db.query<{ id: string }>(`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, '1', '52', '\u200b\u200b') returning id`, [userId])).rows[0].id;
			await db.query('insert into public.conversation_tags (conversation_id, tag_id, user_id) values ($1, $2, $3)', [blank, tag, userId]);
			return [tag, named, blank];
		});
		const rows = await addLeads([
			{ user_id: userId, name: null, phone: null, campaign_session_id: sessions[0], conversation_id: conversation }, // the sender's name, not the session's blank one
			{ user_id: userId, name: null, phone: null, conversation_id: blankSender }, // no name
		]);
		expect(rows.map((row) => [row.outcome, row.name, row.phone])).toEqual([['created', 'Fatima', p1], ['created', null, null]]);
		const imported = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId });
		expect(imported.map((row) => [row.from_id, row.outcome, row.name])).toEqual(
			[[sessions[0], 'existing', 'Fatima'], [sessions[1], 'created', null]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
		);
		const tagged = await fromCrm({ p_user_id: userId, p_tag_id: tagId });
		expect(tagged.map((row) => [row.from_id, row.outcome, row.name])).toEqual([[blankSender, 'existing', null]]);
	});
});

describe('queue_add_leads_from_crm: a campaign\'s sessions whose outreach started are skipped', () => {
	it('contacted, rejected or with an objective: a skipped row with the reason, no lead; one a lead holds is that lead; Prepare queues only the untouched', async () => {
		const userId = await createOwner();
		const numbers = [phone(), phone(), phone(), phone(), phone()];
		const { campaignId, sessions } = await campaignWith(userId, 'plumbers_saidno01', [
			[numbers[0], 'Ann'],
			[numbers[1], 'Bob'],
			[numbers[2], 'Cleo'],
			[numbers[3], 'Dan'],
			[numbers[4], 'Eve'],
		]);
		const [untouched, saidNo, contacted, objective, queued] = sessions;
		// Eve's session is already the Queue Ledger's lead, and the outreach contacted it since.
		const [eve] = await addLeads([{ user_id: userId, name: null, phone: null, campaign_session_id: queued }]);
		await withDb(async (db) => {
			await db.query(`update public.session_info set contacted_at = '2026-11-24T09:00:00Z', objectives = '{"rejected": true}' where id = $1`, [saidNo]);
			await db.query(`update public.session_info set contacted_at = '2026-11-24T09:00:00Z' where id = any ($1)`, [[contacted, queued]]);
			await db.query(`update public.session_info set objectives = '{"answered_screening": "yes"}' where id = $1`, [objective]);
		});

		const rows = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId });
		expect(rows.map((row) => row.from_id)).toEqual([...sessions].sort());
		const byFrom = Object.fromEntries(rows.map((row) => [row.from_id, row]));
		const skipped = (from: string, name: string, number: string, reason: string) =>
			({ from_id: from, lead_id: null, outcome: 'skipped', status: null, source: null, name, phone: number, conversation_id: null, campaign_session_id: from, reason });
		expect(byFrom[saidNo]).toEqual(skipped(saidNo, 'Bob', numbers[1], 'session_rejected'));
		expect(byFrom[contacted]).toEqual(skipped(contacted, 'Cleo', numbers[2], 'session_contacted'));
		expect(byFrom[objective]).toEqual(skipped(objective, 'Dan', numbers[3], 'session_objective_recorded'));
		expect(byFrom[untouched]).toMatchObject({ outcome: 'created', source: 'campaign', name: 'Ann', phone: numbers[0], campaign_session_id: untouched, reason: null });
		expect(byFrom[queued]).toMatchObject({ lead_id: eve.lead_id, outcome: 'existing', campaign_session_id: queued, reason: null });

		// Nobody who was contacted or said no became a lead; Eve's lead followed her session to
		// contacted (migration 20261201001720: whoever writes the session), so Prepare queues Ann only.
		const leads = await withDb(async (db) => (await db.query<{ phone: string; status: string }>('select phone, status from public.leads where user_id = $1 order by phone', [userId])).rows);
		expect(leads.map((lead) => [lead.phone, lead.status])).toEqual([[numbers[0], 'new'], [numbers[4], 'contacted']].sort());
		expect((await prepare(userId))[0]).toMatchObject({ queued: 1 });

		// Pages: skipped rows count and order like the others, so p_after pages through them all.
		const first = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId, p_limit: 2 });
		const second = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId, p_limit: 2, p_after: first[1].from_id });
		const third = await fromCrm({ p_user_id: userId, p_campaign_id: campaignId, p_limit: 2, p_after: second[1].from_id });
		expect([...first, ...second, ...third].map((row) => [row.from_id, row.outcome])).toEqual(rows.map((row) => [row.from_id, row.outcome === 'created' ? 'existing' : row.outcome]));
	});
});
