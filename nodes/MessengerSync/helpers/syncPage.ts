// The sync of one Page, as a job in the database (messenger_sync_jobs):
//   1. begin: the Page's unfinished job at its cursor (a run that died, or failed), or a new one,
//      incremental from the last completed sync unless Full;
//   2. read the Conversations endpoint page by page, newest update first, each conversation's
//      newest messages expanded in the same call (as many as allowed), the rest of a long
//      conversation from its own messages edge; an incremental job stops at the first conversation
//      not updated since the last sync, and reads a conversation's older messages down to the
//      earlier of that `since` and how far a sync has read it whole (messenger_sync_read_until): to
//      its first message when none has. A conversation that gets a message while later pages are
//      read moves to the top, read already, and this sync does not see it; the next one does, and
//      reads all of it that is not recorded (its history too, which `since` alone would leave out);
//      Graph's paging is followed by its `next` link, which alone says more follows (an empty page
//      may have one, and no cursors: the cursor is then the link's `after`); a next page that cannot
//      be asked for, or that is the same page again, stops the job (conversations) or leaves that
//      conversation unread (its messages), never completes the list early nor reads a page for ever;
//   3. record each page with the cursor of the next in one database call, so a crash after page 2
//      resumes at page 3 and a page is never half recorded;
//   4. calls start no faster than the Page's rate (a setting: Meta allows the Conversations API
//      about 2 calls/s per Page); throttling (codes 4, 17, 32, 613 and the use-case limits 80001,
//      80006: nodes/shared/graph.ts) and temporary errors (1, 2, no answer, a 2xx that is no list) back off and retry; a
//      refused token (190) stops the job with a credential error, any other Graph error stops it
//      too; a stopped job is resumed by the next sync. Except one conversation's own messages edge
//      refused for that conversation alone (refusesConversation: deleted, the person gone): the
//      others are read, it is counted in the page's errors and named in this run's
//      `refused_conversations`, its newest messages (the list's) recorded, it is not marked read
//      whole, and the job's newest (the next incremental `since`, recorded with the last page) is
//      never past it, so the next sync lists it again and reads it to its first message. A refused
//      cursor of its messages is no such refusal: its edge is read again from the newest, once;
//   5. a cursor Graph refuses (code 100 naming the cursor: Meta invalidates cursors when their item
//      is deleted, and advises not to keep them long, as a failed job does) starts the job again
//      from the first page, with the same `since`, once per run: the messages read again come back
//      as duplicates, nothing is lost, and the job is never stuck on a cursor no sync can use;
//   6. the lease (Lease Seconds) is renewed with each recorded page and, in a long page (long
//      conversations, backoff), by a heartbeat before a Graph call or during a wait once half of it
//      has passed, so no other start takes the job over while this run still reads.
// One job per Page runs at a time (the database refuses a second runner), so the pacing needs no
// sharing between executions.
import { randomUUID } from 'node:crypto';
import { NodeApiError, NodeOperationError, sleep, type IExecuteFunctions, type INodeExecutionData, type INodeProperties, type JsonObject } from 'n8n-workflow';
import type { MessengerEvent, SyncJob, SyncPageResult } from '../../shared/contract';
import { graphRedactorFor, isPageThrottling, metaSaid, type GraphError } from '../../shared/graph';
import { appIdProblem } from '../../MessengerTrigger/helpers/webhook';
import { FACEBOOK_CREDENTIAL, conversationsQuery, readConversations, readMessages, refusesConversation, type GraphAnswer, type GraphTarget } from '../transport/graph';
import { asNodeError, SettingRefusedError } from '../../shared/per-item';
import { readCheckedOptions, readCheckedParameter, type OptionWhy } from '../../shared/checked-options';
import { readOwnerId, SYNC_OWNER_ID } from '../../shared/owner-id';
import { runsAsTool } from '../../shared/outputs';
import { requireToolOwner, toolOwnerAdvice, type ToolOwnerField, type ToolOwnerWords } from '../../shared/tool-owner';
import { beginJob, failJob, readUntil, recordPage, renewLease } from '../transport/syncJobs';
import { addMessages, NO_CURSOR, readConversationsPage, type ReadConversation } from './conversations';
import { properties } from '../description';

/** The node's Options collection (description.ts), whose number options readSettings checks. */
const OPTIONS = properties.find((property) => property.name === 'options') as INodeProperties;

/** The node's Mode (description.ts): a choice, checked like the Options (an expression escapes the editor's list). */
const MODE = properties.find((property) => property.name === 'mode') as INodeProperties;

/** Why a range is what it is, said in the refusal before what to do. */
const OPTION_WHY: OptionWhy = {
	requestsPerSecond: 'It is the Page\'s rate for the Conversations API (Meta allows about 2 calls a second per Page).',
	leaseSeconds: 'It is how long the job stays this run\'s without news; the database holds a job at most a day.',
};

export interface SyncSettings {
	owner: string | null;
	full: boolean;
	requestsPerSecond: number;
	pageSize: number;
	messagesPerConversation: number;
	maxRetries: number;
	backoffMs: number;
	timeoutMs: number;
	leaseSeconds: number;
}

/** At most 10,000 events per database call (messenger_sync_record_page). */
const MAX_EVENTS_PER_CALL = 10_000;
const TEMPORARY = new Set([1, 2]);

/**
 * Calls start `1.05 / rate` seconds apart at least: a little under the rate, so that a call that
 * reaches Facebook up to 5 % of an interval late (a busy network or machine) still finds the
 * previous calls outside Meta's one-second window. Counted from when each call really starts (when
 * wait() returns), not from when it was planned: a lease renewal on the way (a database call) must
 * not bring the next call closer than the interval.
 */
export class Pacer {
	private next = 0;

	constructor(
		private readonly intervalMs: number,
		private readonly lease?: Pick<Lease, 'keep' | 'dueInMs'>,
	) {}

	/** Until the next call may start; the lease is kept on the way (a backoff may be longer than it). */
	async wait(): Promise<void> {
		const at = Math.max(Date.now(), this.next);
		this.next = at + this.intervalMs;
		for (let left = at - Date.now(); left > 0; left = at - Date.now()) {
			await this.lease?.keep();
			await sleep(Math.min(left, this.lease?.dueInMs() ?? left));
		}
		await this.lease?.keep();
		this.next = Math.max(this.next, Date.now() + this.intervalMs);
	}

	/** No call before `ms` from now. */
	pause(ms: number): void {
		this.next = Math.max(this.next, Date.now() + ms);
	}
}

/**
 * The job's lease, renewed by recording a page and, in a long page, by a heartbeat
 * (messenger_sync_renew_lease) before a Graph call or during a wait once half the lease has passed
 * since the last renewal: another start takes a job over only when its runner stopped.
 */
class Lease {
	private renewedAt: number;
	renewals = 0;

	constructor(
		private readonly leaseMs: number,
		private readonly renew: () => Promise<void>,
		startedAt: number,
	) {
		this.renewedAt = startedAt;
	}

	/** The lease was renewed by a call that started at `at` (recording a page). */
	renewedBy(at: number): void {
		this.renewedAt = Math.max(this.renewedAt, at);
	}

	/** How long until the next heartbeat is due. */
	dueInMs(): number {
		return Math.max(0, this.renewedAt + this.leaseMs / 2 - Date.now());
	}

	/** Renews the lease when half of it has passed (55P03 when another run took the job: this run stops). */
	async keep(): Promise<void> {
		if (this.dueInMs() > 0) return;
		const at = Date.now();
		await this.renew();
		this.renewals += 1;
		this.renewedBy(at);
	}
}

class StopSync extends Error {
	constructor(
		readonly kind: 'token' | 'throttled' | 'graph' | 'noAnswer' | 'cursor',
		message: string,
		readonly graph?: GraphError,
	) {
		super(message);
	}
}

interface Tally {
	calls: number;
	throttled: number;
	retries: number;
	/** Errors met while reading the page being read (recorded with it). */
	pageErrors: number;
	/** Messages Graph gave that could not be read (no id, no time, no person), this run: counted in the job's errors too. */
	unreadable: number;
	databaseMs: number;
	parseMs: number;
}

/** Messenger Sync's owner field as its refusal as a tool names it, and what the refusal says. */
export const SYNC_TOOL_OWNER: ToolOwnerField = { parameter: 'owner', displayName: 'Owner ID' };
export const SYNC_TOOL_WORDS: ToolOwnerWords = { operation: 'Messenger Sync', purpose: 'whose Page to sync', without: 'syncs nothing' };

export function readSettings(context: IExecuteFunctions): SyncSettings {
	// Its refusal (not text, not a user id) names the parameter (`owner`, a FieldRefusedError): the
	// shipped webhook answers it as its caller's X-Leadflow-Owner only when this parameter reads that
	// header, else as its own fault.
	// As an AI agent's tool the owner must be given (docs/nodes.md, "One owner per tool"): before 6
	// December 2026 a tool with an empty Owner ID synced the Page for whichever owner it is connected to.
	requireToolOwner(context, 0, SYNC_TOOL_OWNER, SYNC_TOOL_WORDS);
	const hint = runsAsTool(context)
		? toolOwnerAdvice(context, SYNC_TOOL_OWNER, SYNC_TOOL_WORDS)
		: 'Give the Supabase Auth user id (a UUID) the Page belongs to, or leave it empty when the Page is connected already.';
	const owner = readOwnerId(context, 0, hint, true, SYNC_OWNER_ID);
	// The Options, each checked against the range the editor shows (description.ts): a value out of
	// it (an expression's) is a SettingRefusedError naming the option, so the failed item carries
	// `setting` and the shipped webhook answers it as its own node's fault, not the caller's. What the
	// node took before these checks it still takes, as it did, so saved workflows keep working: a
	// fraction of a page size, Retries or Lease (Seconds) within its range is rounded down (with a
	// warning logged: roundsDownFractions), one of Backoff or Timeout (Ms) used as given.
	// The Mode likewise: a value not among its choices (an expression's, or a saved workflow edited by
	// hand: "Full", "delta") is refused naming Mode and its values, as a setting; it is never read as
	// incremental, which would quietly skip what a full sync reads again.
	const mode = readCheckedParameter<'incremental' | 'full'>(context, 0, MODE, 'It says which conversations the sync reads: full, every one again; incremental, those updated since the last completed sync.');
	const options = readCheckedOptions<Omit<SyncSettings, 'owner' | 'full'>>(context, 0, OPTIONS, OPTION_WHY);
	return {
		owner,
		full: mode === 'full',
		requestsPerSecond: options.requestsPerSecond,
		pageSize: options.pageSize,
		messagesPerConversation: options.messagesPerConversation,
		maxRetries: options.maxRetries,
		backoffMs: options.backoffMs,
		timeoutMs: options.timeoutMs,
		leaseSeconds: options.leaseSeconds,
	};
}

async function readTarget(context: IExecuteFunctions): Promise<GraphTarget> {
	const credentials = await context.getCredentials<{ baseUrl?: string; graphApiVersion?: string; pageId?: string; accessToken?: string; appSecret?: string; appId?: string }>(FACEBOOK_CREDENTIAL);
	const pageId = String(credentials.pageId ?? '').trim();
	if (!/^[0-9]{1,32}$/.test(pageId)) {
		// The credential the node is set to use, not the request: its failed item names the field (setting).
		throw new SettingRefusedError(
			context.getNode(),
			'The Facebook Page credential has no valid Page ID',
			{ description: 'Enter the numeric ID of the Page in the Leadflow Facebook Page API credential.' },
			{ displayName: 'Page ID', parameter: `credentials.${FACEBOOK_CREDENTIAL}.pageId` },
		);
	}
	// The sync itself needs no App ID, but the Messenger Trigger sharing this credential does, to tell
	// the app's echoes from a person's: an empty one (or not digits) is said where the user looks, as
	// a warning on this node's output in the editor (n8n's execution hint), the run going on.
	const appIdWarning = appIdProblem(credentials.appId);
	if (appIdWarning !== undefined && typeof context.addExecutionHints === 'function') {
		context.addExecutionHints({ message: appIdWarning, type: 'warning', location: 'outputPane' });
	}
	const base = String(credentials.baseUrl || 'https://graph.facebook.com').replace(/\/+$/, '');
	const version = String(credentials.graphApiVersion || 'v25.0').replace(/^\/+|\/+$/g, '');
	// The calls send the access token (and appsecret_proof), never the App Secret or the Verify Token.
	return { root: `${base}/${version}`, pageId, redact: graphRedactorFor({ accessToken: credentials.accessToken, pageId }) };
}

/** Graph refused the `after` cursor itself (code 100, e.g. "(#100) The after cursor is not valid"): told by Meta's words, not their redacted copy. */
const refusesCursor = (error: GraphError | undefined) => error?.code === 100 && /cursor|\bafter\b/i.test(metaSaid(error));

const describe = (error: GraphError) => `Graph ${error.code}${error.subcode ? `/${error.subcode}` : ''}: ${error.message}`;

/** What `call` answers, when asked to, for a cursor Graph refuses (instead of a StopSync). */
const CURSOR_REFUSED = Symbol('cursor refused');

/** What `call` answers, when asked to (`isItemRefusal`), for a refusal of the one item asked for (instead of a StopSync). */
class ItemRefused {
	constructor(readonly error: GraphError) {}
}

/** A conversation this run could not read whole (its messages edge refused, or paged so it cannot be followed): named in the output. */
interface RefusedConversation {
	conversation_id: string;
	psid: string | null;
	error: string;
}

/** One Graph call, paced, retried on throttling and temporary failures; a body or StopSync. */
async function call(
	settings: SyncSettings,
	pacer: Pacer,
	tally: Tally,
	request: () => Promise<GraphAnswer>,
	onRefusedCursor?: (error: GraphError) => void,
	isItemRefusal?: (error: GraphError) => boolean,
): Promise<unknown> {
	for (let attempt = 0; ; attempt++) {
		await pacer.wait();
		tally.calls += 1;
		const answer = await request();
		if (answer.kind === 'ok') return answer.body;
		tally.pageErrors += 1;
		const retryable = answer.kind === 'noAnswer' || isPageThrottling(answer.error) || TEMPORARY.has(answer.error.code);
		if (answer.kind === 'graphError') {
			if (answer.error.code === 190) throw new StopSync('token', 'The Page token is invalid or expired: reconnect the credential', answer.error);
			if (isPageThrottling(answer.error)) tally.throttled += 1;
			if (onRefusedCursor !== undefined && refusesCursor(answer.error)) {
				onRefusedCursor(answer.error);
				return CURSOR_REFUSED;
			}
			if (isItemRefusal?.(answer.error)) return new ItemRefused(answer.error);
			if (!retryable) throw new StopSync('graph', `Facebook refused the Conversations request (${describe(answer.error)})`, answer.error);
		}
		if (attempt >= settings.maxRetries) {
			const what = answer.kind === 'noAnswer' ? answer.detail : describe(answer.error);
			const failed = answer.kind === 'noAnswer' ? `Facebook gave no usable answer after ${attempt + 1} tries (${what})` : `Facebook kept refusing after ${attempt + 1} tries (${what})`;
			throw new StopSync(answer.kind === 'graphError' && isPageThrottling(answer.error) ? 'throttled' : 'noAnswer', failed, answer.kind === 'graphError' ? answer.error : undefined);
		}
		tally.retries += 1;
		pacer.pause(Math.min(settings.backoffMs * 2 ** attempt, 600_000));
	}
}

/**
 * A database or n8n failure mid-sync (Supabase out of reach, a 503, a statement timeout…): the job
 * is failed with it, best effort, so that the next sync resumes it at once at its cursor rather
 * than being refused (409) until this finished run's lease runs out. The database may be what
 * failed, so marking the job may fail too: the error then says the job stays held until its lease
 * runs out. Nothing is added when the job is no longer this run's (another run took it over: the
 * error says so already). Answers the error to throw, saying what comes next.
 */
async function failedMidSync(
	context: IExecuteFunctions,
	error: NodeOperationError | NodeApiError,
	job: SyncJob,
	holder: string,
	tally: Tally,
	page: number,
	leaseSeconds: number,
): Promise<NodeOperationError | NodeApiError> {
	let next: string | undefined;
	try {
		if (await failJob(context, job, holder, error.message, tally.pageErrors)) {
			next = `The sync stopped at page ${page}; the job is marked failed with this error, and the next sync of the Page resumes there.`;
		}
	} catch (failure) {
		context.logger.warn(`Leadflow Messenger Sync: the job could not be marked failed (${failure instanceof Error ? failure.message : String(failure)})`, { jobId: job.job_id });
		next =
			`The sync stopped at page ${page}. Marking the job failed failed too, so it stays this run's until its lease runs out ` +
			`(Lease (Seconds): ${leaseSeconds} from its last renewal): a sync started before then is answered 409; the next one after resumes there.`;
	}
	if (next) error.description = error.description ? `${error.description} ${next}` : next;
	return error;
}

export async function syncPage(context: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const started = performance.now();
	const settings = readSettings(context);
	const target = await readTarget(context);
	const holder = `${context.getExecutionId() ?? 'run'}:${randomUUID()}`;
	const beganAt = Date.now();
	const job = await beginJob(context, target.pageId, holder, settings.owner, settings.full, settings.leaseSeconds);
	const lease = new Lease(settings.leaseSeconds * 1000, async () => await renewLease(context, job, holder, settings.leaseSeconds), beganAt);
	const since = job.since === null ? undefined : Date.parse(job.since);
	const pacer = new Pacer((1000 / settings.requestsPerSecond) * 1.05, lease);
	const tally: Tally = { calls: 0, throttled: 0, retries: 0, pageErrors: 0, unreadable: 0, databaseMs: 0, parseMs: 0 };
	let cursor = job.cursor;
	let last: SyncPageResult | undefined;
	let newConversations = 0;
	const refusedConversations: RefusedConversation[] = [];
	let restartedFromFirstPage = false;
	/** The newest updated_time of the conversations this run read whole, and the oldest of those it left unread. */
	let runNewest: number | undefined;
	let runUnreadFrom: number | undefined;
	/** Pages recorded since this run started over from the first page. */
	let pagesSinceRestart = 0;

	try {
		for (;;) {
			const after = cursor;
			// A cursor Graph no longer accepts: the job starts again from the first page (same since), once a run.
			const warnRestart = (error: GraphError) =>
				context.logger.warn(`Leadflow Messenger Sync: Facebook refused the job's cursor (${describe(error)}); reading Page ${target.pageId} again from the first page`, {
					pageId: target.pageId,
					jobId: job.job_id,
				});
			// Refused again after starting over (the restart is once a run): the job stops, saying so.
			const refusedAgain = (error: GraphError) => {
				throw new StopSync('cursor', `Facebook refused the Conversations cursor again after this run started over from the first page (${describe(error)})`, error);
			};
			const body = await call(
				settings,
				pacer,
				tally,
				() => readConversations(context, target, conversationsQuery(settings.pageSize, settings.messagesPerConversation, after), settings.timeoutMs),
				after === null ? undefined : restartedFromFirstPage ? refusedAgain : warnRestart,
			);
			if (body === CURSOR_REFUSED) {
				restartedFromFirstPage = true;
				pagesSinceRestart = 0;
				cursor = null;
				continue;
			}
			let parseStarted = performance.now();
			const page = readConversationsPage(body, target.pageId);
			// Newest update first: the first conversation updated before the last sync's newest ends an
			// incremental job. Graph's updated_time is whole seconds, so one updated in that newest
			// conversation's second (after the last sync read it) shows the same time: that second is
			// read again, its messages already recorded coming back as duplicates.
			const changed: ReadConversation[] = [];
			let reachedOld = false;
			for (const conversation of page.conversations) {
				if (since !== undefined && conversation.updatedMs !== undefined && conversation.updatedMs < since) {
					reachedOld = true;
					break;
				}
				changed.push(conversation);
			}
			tally.parseMs += performance.now() - parseStarted;
			// Graph's paging followed by its `next` link (conversations.ts: an empty page may have one);
			// a next page that cannot be asked for, or that is this page again, stops the job here (to
			// resume at this page), never completes it with the rest unread nor reads this page for ever.
			if (!reachedOld && page.nextAfter === NO_CURSOR) {
				throw new StopSync('graph', 'Facebook said more conversations follow (paging.next) but gave no cursor to read them by');
			}
			if (!reachedOld && after !== null && page.nextAfter === after) {
				throw new StopSync('graph', 'Facebook gave the cursor this page of conversations was read with as the next page\'s: reading on would read it again for ever');
			}

			// The older messages of conversations longer than the expansion's limit: those not recorded
			// yet. An incremental job reads each down to the earlier of its since and how far a sync has
			// read the conversation whole; one never read whole (a sync skipped it when it moved to the
			// top, or only the webhook recorded it), to its first message. A full job reads every one whole.
			const floors = new Map<ReadConversation, number | undefined>();
			const long = changed.filter((conversation) => conversation.moreMessagesAfter !== null && conversation.psid !== null);
			if (since !== undefined && long.length > 0) {
				const databaseStarted = performance.now();
				const readTo = await readUntil(context, job, [...new Set(long.map((conversation) => conversation.psid as string))]);
				tally.databaseMs += performance.now() - databaseStarted;
				for (const conversation of long) {
					const until = readTo.get(conversation.psid as string);
					floors.set(conversation, until === undefined ? undefined : Math.min(since, until));
				}
			}
			// A conversation whose own edge Graph refuses for it alone (refusesConversation) does not stop
			// the sync: its messages the list gave are recorded, it is counted in the page's errors (the
			// refusal, by call) and named, and it is not marked read whole (left out of `read`), so the
			// next sync that lists it reads it to its first message.
			const unread = new Set<ReadConversation>();
			const leaveUnread = (conversation: ReadConversation, error: string) => {
				unread.add(conversation);
				refusedConversations.push({ conversation_id: conversation.id, psid: conversation.psid, error });
				context.logger.warn(`Leadflow Messenger Sync: conversation ${conversation.id} of Page ${target.pageId} left unread (${error}); the next sync that lists it tries it again`, {
					pageId: target.pageId,
					jobId: job.job_id,
				});
			};
			for (const conversation of changed) {
				const floor = floors.has(conversation) ? floors.get(conversation) : since;
				// A cursor of its messages Graph refuses (Meta invalidates one when its message is deleted)
				// is no refusal of the conversation: its edge is read again from its newest message, once
				// (as the list is for its own cursor), the messages read already skipped (`known`).
				let fromNewest = false;
				let known: Set<string> | undefined;
				// Down to a message older than the floor: messages of the floor's second (whole seconds too) are read.
				while (conversation.moreMessagesAfter !== null && !(floor !== undefined && conversation.oldestMs !== undefined && conversation.oldestMs < floor)) {
					const cursorNow = conversation.moreMessagesAfter;
					// A next page of its messages that cannot be asked for: this conversation's alone, like a refusal.
					if (cursorNow === NO_CURSOR) {
						tally.pageErrors += 1;
						leaveUnread(conversation, 'Facebook said more of its messages follow (paging.next) but gave no cursor to read them by');
						break;
					}
					const after = fromNewest ? null : cursorNow;
					fromNewest = false;
					const more = await call(
						settings,
						pacer,
						tally,
						() => readMessages(context, target, conversation.id, after, settings.messagesPerConversation, settings.timeoutMs),
						undefined,
						(error) => refusesConversation(error) || refusesCursor(error),
					);
					if (more instanceof ItemRefused) {
						if (refusesCursor(more.error) && after !== null && known === undefined) {
							context.logger.warn(`Leadflow Messenger Sync: Facebook refused a cursor of conversation ${conversation.id}'s messages (${describe(more.error)}); reading its messages again from the newest`, {
								pageId: target.pageId,
								jobId: job.job_id,
							});
							known = new Set(conversation.events.flatMap((event) => ('mid' in event && typeof event.mid === 'string' ? [event.mid] : [])));
							fromNewest = true;
							continue;
						}
						// Refused for good (100/33, 803), or its cursor refused again after reading from the newest.
						leaveUnread(conversation, describe(more.error));
						break;
					}
					parseStarted = performance.now();
					addMessages(conversation, more, target.pageId, known);
					tally.parseMs += performance.now() - parseStarted;
					// An empty page with a `next` link is followed (Meta: a page may be empty and have one);
					// a next page that is this one again would be read for ever.
					if (after !== null && conversation.moreMessagesAfter === after) {
						tally.pageErrors += 1;
						leaveUnread(conversation, 'Facebook gave the cursor this page of its messages was read with as the next page\'s');
						break;
					}
				}
			}

			// The next page's cursor (NO_CURSOR was refused above unless the job ends here).
			const nextAfter = reachedOld || page.nextAfter === NO_CURSOR ? null : page.nextAfter;
			const done = nextAfter === null;
			// Messages that could not be read are not recorded, never silently: each is an error of the page.
			const unreadable = changed.reduce((sum, conversation) => sum + conversation.unreadable, 0);
			// Each conversation's messages oldest first: Graph lists them newest first (every page of its
			// edge, read above, after the list's), and the database numbers messages of one second (Graph's
			// times are whole seconds) by their place in the call, so the Page's instant reply stays after
			// the question it answers (the trigger's events keep their delivery order, oldest first already).
			// Only two messages of one second on either side of a 10,000-event part's end are not ordered so.
			const events: MessengerEvent[] = changed.flatMap((conversation) => [...conversation.events].reverse());
			// Read whole: every message of theirs up to their updated_time is recorded with this page.
			const read = changed.flatMap((conversation) =>
				!unread.has(conversation) && conversation.psid !== null && conversation.updatedMs !== undefined ? [{ psid: conversation.psid, updated_at: new Date(conversation.updatedMs).toISOString() }] : [],
			);
			// The job's newest (the next incremental sync's `since`) is recorded with its last page alone:
			// the newest updated_time of the conversations this run read whole, but never past one it left
			// unread (on this page or an earlier one, which a newer conversation on an earlier page would
			// otherwise have moved it past), so that the next incremental sync lists that one again.
			for (const conversation of changed) {
				if (conversation.updatedMs === undefined) continue;
				if (unread.has(conversation)) runUnreadFrom = runUnreadFrom === undefined ? conversation.updatedMs : Math.min(runUnreadFrom, conversation.updatedMs);
				else runNewest = runNewest === undefined ? conversation.updatedMs : Math.max(runNewest, conversation.updatedMs);
			}
			const newest = !done ? undefined : runUnreadFrom === undefined ? runNewest : Math.min(runNewest ?? runUnreadFrom, runUnreadFrom);
			const databaseStarted = performance.now();
			// A page with more events than one call takes is recorded in parts; every part but the last
			// keeps the cursor on this page, so a crash in between reads it again (each message once),
			// and only the last counts the page in pages_read.
			for (let start = 0; start < Math.max(events.length, 1); start += MAX_EVENTS_PER_CALL) {
				const isLast = start + MAX_EVENTS_PER_CALL >= events.length;
				const recordedAt = Date.now();
				last = await recordPage(context, job, holder, {
					events: events.slice(start, start + MAX_EVENTS_PER_CALL),
					nextCursor: isLast ? nextAfter : cursor,
					conversations: isLast ? changed.length : 0,
					read: isLast ? read : [],
					newestUpdatedAt: newest === undefined ? null : new Date(newest).toISOString(),
					errors: isLast ? tally.pageErrors + unreadable : 0,
					done: isLast && done,
					pageDone: isLast,
				}, settings.leaseSeconds);
				lease.renewedBy(recordedAt);
				newConversations += last.page_new_conversations;
			}
			tally.databaseMs += performance.now() - databaseStarted;
			tally.pageErrors = 0;
			tally.unreadable += unreadable;
			pagesSinceRestart += 1;
			cursor = nextAfter;
			if (done) break;
		}
	} catch (error) {
		if (!(error instanceof StopSync)) throw await failedMidSync(context, asNodeError(context, error), job, holder, tally, (last?.pages_read ?? job.pages_read) + 1, settings.leaseSeconds);
		await failJob(context, job, holder, error.message, tally.pageErrors);
		const detail =
			error.kind === 'cursor'
				? `The sync stopped at page ${pagesSinceRestart + 1} counted from the first page. The next sync of the Page tries the cursor it stopped at and, if Facebook refuses it, reads the job again from the first page (messages already recorded come back as duplicates).`
				: `The sync stopped at page ${(last?.pages_read ?? job.pages_read) + 1}; the next sync of the Page resumes there.`;
		if (error.kind === 'token') {
			throw new NodeApiError(context.getNode(), { ...(error.graph ?? {}) } as JsonObject, {
				message: error.message,
				description: `Generate a new Page access token (pages_messaging, from someone with the Page’s MESSAGING task) and save it in the Leadflow Facebook Page API credential. ${detail}`,
				httpCode: '401',
			});
		}
		throw new NodeApiError(context.getNode(), { ...(error.graph ?? {}) } as JsonObject, {
			message: error.message,
			description: error.kind === 'throttled' ? `Facebook is limiting calls for this Page; lower Requests per Second or run the sync later. ${detail}` : detail,
		});
	}

	const result = last as SyncPageResult;
	return [
		[
			{
				json: {
					job_id: job.job_id,
					page_id: target.pageId,
					status: result.status,
					resumed: job.resumed,
					since: job.since,
					pages_read: result.pages_read,
					conversations: result.conversations,
					messages: result.messages,
					duplicates: result.duplicates,
					errors: result.errors,
					this_run: {
						calls: tally.calls,
						throttled: tally.throttled,
						retries: tally.retries,
						new_conversations: newConversations,
						restarted_from_first_page: restartedFromFirstPage,
						refused_conversations: refusedConversations,
						unreadable_messages: tally.unreadable,
						lease_renewals: lease.renewals,
						seconds: Math.round(performance.now() - started) / 1000,
						database_ms: Math.round(tally.databaseMs),
						parse_ms: Math.round(tally.parseMs * 10) / 10,
					},
				},
				pairedItem: { item: 0 },
			},
		],
	];
}
