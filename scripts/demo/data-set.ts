// The demo's data set, shared by `npm run demo` (scripts/demo/follow-up.ts runs the follow-up
// pipeline on it in-process) and `npm run editor` (scripts/editor.ts leaves it for real n8n): a new
// demo owner with about 300 Messenger contacts, five tags, three rules, some outside the 24 h window
// or the rule's active hours, some excluded, stopped or archived, on a Page connected to that owner;
// the credentials that reach the stack and the simulators; and the refusals Facebook answers for
// three of the contacts. The CRM pipeline's and the lead queue's data are pipeline-data.ts's and
// queue.ts's (seedQueueDemo); scripts/editor/data.ts seeds all three for the editor. Each start
// retires the demo owners of earlier starts on a kept `.stack/` first, so one set is shown.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { RunningSimulators } from '../../simulators';
import { createAuthUser, type StackInfo } from '../../stack';
import { addContacts, addRule, addStops, createTags, hoursExcludingNow, type Owner } from './seed';

/**
 * The Page the demo's Messenger contacts are on: what the Facebook Page credential's Page ID must be
 * (`npm run demo` prints it). A workflow run with another Page ID fails them for good (page_mismatch).
 */
export const DEMO_PAGE_ID = '104857600012345';

/** The Header Auth credential the webhooks check. */
export const WEBHOOK_KEY = { name: 'X-Leadflow-Key', value: `demo-${randomUUID()}` };
const HOUR = 60;
const DAY = 24 * HOUR;

export interface DemoRules {
	contacts: number;
	rules: Array<{ name: string; ruleId: string }>;
	/** Webinar guests Facebook will refuse: two no longer reachable (551), one unknown (100/2018001). */
	unreachable: string[];
	unknown: string[];
}

export interface DemoDataSet extends DemoRules {
	owner: Owner;
	/** Credential data by n8n credential type, pointing at the stack and the simulators. */
	credentials: Record<string, Record<string, string>>;
}

/** About 300 contacts on one Page: who is due, and who is not and why, is known in advance. */
async function seedDemo(db: Client, owner: Owner): Promise<DemoRules> {
	const tags = await createTags(db, owner, ['Hot lead', 'Asked price', 'Webinar', 'Do not contact', 'Customer']);
	const groups = [
		// Hot leads: 80 wrote in the last 20 h, more than the rule's daily limit of 60.
		{ label: 'Hot lead', count: 80, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 20, spreadMinutes: 20 * HOUR },
		{ label: 'Cold lead', count: 30, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 2 * DAY, spreadMinutes: 8 * DAY },
		{ label: 'Opted out', count: 10, tagIds: [tags['Hot lead'], tags['Do not contact']], lastMessageMinutesAgo: 3 * HOUR },
		{ label: 'Price asker', count: 60, tagIds: [tags['Asked price']], lastMessageMinutesAgo: 45, spreadMinutes: 12 * HOUR },
		{ label: 'Webinar guest', count: 70, tagIds: [tags.Webinar], lastMessageMinutesAgo: 10, spreadMinutes: 22 * HOUR },
		{ label: 'Archived guest', count: 15, tagIds: [tags.Webinar], lastMessageMinutesAgo: 5 * HOUR, active: false },
		{ label: 'Customer', count: 30, tagIds: [tags.Customer], lastMessageMinutesAgo: 2 * HOUR, spreadMinutes: 10 * DAY },
	];
	let contacts = 0;
	const psidsOf: Record<string, string[]> = {};
	for (const group of groups) {
		psidsOf[group.label] = (await addContacts(db, owner, group)).psids;
		contacts += group.count;
	}
	const handedOver = await addContacts(db, owner, { label: 'With an agent', count: 5, tagIds: [tags['Hot lead']], lastMessageMinutesAgo: 30 });
	contacts += 5;

	const hot = await addRule(db, owner, {
		name: 'Hot leads: next-day nudge',
		includeTagIds: [tags['Hot lead']],
		excludeTagIds: [tags['Do not contact']],
		dailyLimit: 60,
	});
	await addStops(db, owner, handedOver.conversationIds, hot, 'human_takeover');
	const price = await addRule(db, owner, {
		name: 'Price askers: evening offer',
		includeTagIds: [tags['Asked price']],
		// An hour-long evening window that is not now, so the demo shows outside_active_hours.
		activeHours: hoursExcludingNow(),
	});
	const webinar = await addRule(db, owner, { name: 'Webinar guests: recording link', includeTagIds: [tags.Webinar], dailyLimit: 200 });
	return {
		contacts,
		rules: [
			{ name: 'Hot leads: next-day nudge', ruleId: hot },
			{ name: 'Price askers: evening offer', ruleId: price },
			{ name: 'Webinar guests: recording link', ruleId: webinar },
		],
		unreachable: psidsOf['Webinar guest'].slice(0, 2),
		unknown: psidsOf['Webinar guest'].slice(2, 3),
	};
}

function credentialsFor(stack: StackInfo, simulators: RunningSimulators, owner: Owner): DemoDataSet['credentials'] {
	return {
		httpHeaderAuth: WEBHOOK_KEY,
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		leadflowGeminiApi: { apiKeys: 'demo-gemini-key-1\ndemo-gemini-key-2', baseUrl: simulators.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowFacebookPageApi: { pageId: owner.pageId, accessToken: 'demo-page-token', appSecret: '', graphApiVersion: 'v25.0', baseUrl: simulators.graph.baseUrl },
		// The queue's WhatsApp sends (workflows/queue-run.json) reach the Graph simulator's Cloud API, which accepts any token.
		leadflowWhatsAppApi: { phoneNumberId: '106540352242922', accessToken: 'demo-whatsapp-token', graphApiVersion: 'v25.0', baseUrl: simulators.graph.baseUrl },
	};
}

/**
 * The demo's Page connected to the new demo owner (its `messenger_pages` row), as the Messenger
 * Trigger connects a Page on its first delivery: Messenger Sync (`POST /webhook/leadflow/sync`)
 * syncs only a connected Page. A Page has one owner: a demo owner of an earlier start gives it up.
 */
async function connectPage(db: Client, owner: Owner): Promise<void> {
	await db.query('begin');
	try {
		await db.query('delete from public.messenger_pages where page_id = $1', [owner.pageId]);
		await db.query(`insert into public.messenger_pages (page_id, user_id, name) values ($1, $2, 'Leadflow demo Page')`, [owner.pageId, owner.userId]);
		await db.query('commit');
	} catch (error) {
		await db.query('rollback');
		throw error;
	}
}

/** The demo owners' addresses: `demo-<uuid>@leadflow.demo` (no other user of the stack has one). */
const DEMO_OWNER_EMAILS = 'demo-%@leadflow.demo';

/**
 * Removes the demo owners of earlier starts on a kept `.stack/` (`npm run demo`, then `npm run
 * editor`), with everything that is theirs (every owner table references auth.users on delete
 * cascade): their rules, contacts, pipelines and queue settings. Else each start added a set, the
 * console listed the rules and pipelines twice, and the earlier owner's contacts were all on
 * another owner's Page (the Page goes to the newest owner).
 */
async function retireEarlierDemoOwners(db: Client): Promise<void> {
	await db.query('delete from auth.users where email like $1', [DEMO_OWNER_EMAILS]);
}

/** A new demo owner (a Supabase Auth user, the earlier ones retired) with the data set, and the credentials to reach it. */
export async function seedDemoDataSet(stack: StackInfo, simulators: RunningSimulators): Promise<DemoDataSet> {
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		await retireEarlierDemoOwners(db);
		const owner: Owner = { userId: await createAuthUser(stack.dbUrl, `demo-${randomUUID()}@leadflow.demo`), pageId: DEMO_PAGE_ID };
		const seeded = await seedDemo(db, owner);
		await connectPage(db, owner);
		return { ...seeded, owner, credentials: credentialsFor(stack, simulators, owner) };
	} finally {
		await db.end();
	}
}

/**
 * Facebook's real refusals for the data set's unreachable and unknown contacts, so that runs show
 * skips and failures with their reasons. Returns what removes them again.
 */
export async function addFacebookRefusals(simulators: RunningSimulators, data: DemoRules): Promise<() => Promise<void>> {
	const faults = [
		...data.unreachable.map((recipient) => ({ match: { recipient }, effect: { kind: 'graphError' as const, code: 551, subcode: 1545041 } })),
		...data.unknown.map((recipient) => ({ match: { recipient }, effect: { kind: 'graphError' as const, code: 100, subcode: 2018001 } })),
	];
	const added = await Promise.all(faults.map((fault) => simulators.graph.control.addFault(fault)));
	return async () => {
		await Promise.all(added.map((fault) => simulators.graph.control.removeFault(fault.id)));
	};
}
