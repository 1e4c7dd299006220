// The data sets the pipeline tests run on, seeded set-based (scripts/demo/seed.ts) for a new owner
// each time, so test files share the stack without seeing each other's contacts.
import { addContacts, addRule, addStops, createTags, type Owner } from '../../../scripts/demo/seed';
import { createTestUser, uniquePageId, withDb } from '../../helpers/stack';

export async function newOwner(label: string): Promise<Owner> {
	return { userId: await createTestUser(label), pageId: uniquePageId() };
}

export interface Seed001 {
	owner: Owner;
	ruleId: string;
	/** The 10 due contacts' PSIDs. */
	duePsids: string[];
	/** The 5 tagged contacts that are not due, by the reason the judgement must give. */
	notDue: Record<'outside_window' | 'excluded_tag' | 'stopped' | 'inactive', string[]>;
}

/**
 * The 15-contact run: 15 contacts carry the rule's tag. 10 wrote in the last 20 hours (due). 5 are
 * not due: two wrote 30 h and 3 days ago (outside Messenger's 24 h window), one also carries the
 * excluded "Do not contact" tag, one was taken over by a person (a stop), one conversation is
 * archived.
 */
export async function seed001(): Promise<Seed001> {
	const owner = await newOwner('seed001');
	return await withDb(async (db) => {
		const tags = await createTags(db, owner, ['AI follow-up', 'Do not contact']);
		const ai = tags['AI follow-up'];
		const due = await addContacts(db, owner, { label: 'Lead', count: 10, tagIds: [ai], lastMessageMinutesAgo: 30, spreadMinutes: 19 * 60 });
		const recent = await addContacts(db, owner, { label: 'Quiet', count: 1, tagIds: [ai], lastMessageMinutesAgo: 30 * 60 });
		const old = await addContacts(db, owner, { label: 'Old', count: 1, tagIds: [ai], lastMessageMinutesAgo: 3 * 24 * 60 });
		const excluded = await addContacts(db, owner, { label: 'Opted out', count: 1, tagIds: [ai, tags['Do not contact']], lastMessageMinutesAgo: 120 });
		const takenOver = await addContacts(db, owner, { label: 'With an agent', count: 1, tagIds: [ai], lastMessageMinutesAgo: 60 });
		const archived = await addContacts(db, owner, { label: 'Archived', count: 1, tagIds: [ai], lastMessageMinutesAgo: 180, active: false });
		const ruleId = await addRule(db, owner, {
			name: 'Follow up AI leads',
			includeTagIds: [ai],
			excludeTagIds: [tags['Do not contact']],
			dailyLimit: 50,
		});
		await addStops(db, owner, takenOver.conversationIds, ruleId, 'human_takeover');
		return {
			owner,
			ruleId,
			duePsids: due.psids,
			notDue: {
				outside_window: [...recent.psids, ...old.psids],
				excluded_tag: excluded.psids,
				stopped: takenOver.psids,
				inactive: archived.psids,
			},
		};
	});
}

/** `count` contacts due now under one rule with the given daily limit. */
export async function dueContacts(count: number, dailyLimit: number, label = 'due'): Promise<{ owner: Owner; ruleId: string; psids: string[] }> {
	const owner = await newOwner(label);
	return await withDb(async (db) => {
		const tags = await createTags(db, owner, ['AI follow-up']);
		const { psids } = await addContacts(db, owner, { label: 'Lead', count, tagIds: [tags['AI follow-up']], lastMessageMinutesAgo: 10, spreadMinutes: 600 });
		const ruleId = await addRule(db, owner, { name: 'Follow up AI leads', includeTagIds: [tags['AI follow-up']], dailyLimit });
		return { owner, ruleId, psids };
	});
}
