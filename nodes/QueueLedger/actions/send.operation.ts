// send: each claimed message over the WhatsApp Cloud API (the credential's base URL, version and
// phone number), several at once, and one output item per message saying what happened (sent with
// Meta's message id, failed with Meta's code and whether a retry can help, or released: not
// attempted because the batch stopped), ready for Complete. A refused token, the business account
// refused (131042 payment, 131031 locked: code business_account) or the number's throughput limit
// stops the batch: the messages not yet attempted are released, never sent into
// an error. Nothing is thrown once a message may have gone out, so Complete always records it; a
// failure before that (a credential without a valid Phone Number ID, an item it cannot read) gives
// the claimed messages back through queue_complete (released, the attempt given back) before it is
// thrown, or with Continue On Fail fails every item with it (helpers/releaseClaimed.ts).
// Just before each group of messages (as many as Parallel Sends) goes out, one database call
// (queue_begin_send) renews the lease of those the worker still holds and refuses the others: a
// message claimed again by another run after this one's lease ran out, whose lead was taken over
// meanwhile, or whose lead's phone changed since the claim, is not sent (released, its error saying
// why: not_held, cancelled, phone_changed …), so it never goes out twice, nor to a lead a person has
// taken, nor to a number the lead no longer has. A message is let go once: only if its send has
// not begun, and only its first occurrence in the call; the same item again (an AI agent calling
// Send twice) is refused, already_sending, and output as a failed item without item_id (nothing
// sent, Complete passes it on untouched). A message listed again in Send's own input (Claim merged
// with itself, a retried node) is asked about once, in its first occurrence's call, with each copy
// carrying another phone (the database lets go the one with the message's own phone): one report per
// message (the copy let go, else the first occurrence), every other occurrence already_sending. The call names each message with the phone Send is
// about to use (its Phone parameter): one that is not the message's own (its lead's, as Claim gave
// it) is refused too (phone_mismatch, released), so a Phone expression reading a wrong field, or a
// model's phone when Send is an AI agent's tool, never sends a lead's message to someone else.
// Each such call has a key of its own, stored with the marks it sets: a call that fails in a way the
// database may have saved (its answer lost: a reset connection, a gateway's 5xx) is repeated with
// that key, and the repeat answers send again for what the key began (20261201002810); not repeated
// after Stop, nor once the earlier groups' messages would no longer stay held to be reported; each
// attempt is aborted at that bound too (a gateway that holds the call never answering), or 5 s after
// Stop, and counts as an answer lost. When the call still fails (the database unreachable, a statement timeout), the run sends nothing more: the
// rest are released, code not_checked, the marks that call may have set taken back by its key.
// A message let go and then not sent (Meta refused that request: invalid_token, business_account;
// the batch stopped or the run was cancelled first: not_attempted; a later call of its group failed:
// not_checked) has its send's mark taken back by Send before it returns (queue_send_not_made, with
// the key of the call that let it go: never another Send's mark), since
// queue_complete refuses any release of a message whose send began (20261201002770): only Send knows
// the request was not made. If that call fails, the message ends dead, uncertain, at its lease's end.
// As an AI agent's tool whose Message is the workflow's (not $fromAI), a message Send cannot send is
// recorded dead by Send itself (invalid_message), as Complete records it in a workflow: the model
// cannot correct it, and Complete as a tool refuses that failure, so it came back every run. Once a third of the lease has passed, the same call also renews the lease of every message of the
// earlier groups whose send it let go: those are reported by Complete only after the last group,
// and a slow Meta (groups × the timeout) could
// otherwise outlast their lease, after which any run's Claim ends them dead, `uncertain`, and
// Complete is refused (already_completed) even for a message Meta accepted. The lease asked is never
// shorter than the Timeout plus SEND_MARGIN_SECONDS: a message stays held for the whole of its own
// send (a Lease of 5 s with a Meta answering in 8 s let the next Claim end a message Meta accepted
// dead, `uncertain`), and the earlier groups' are renewed whenever their lease would not outlast
// the next group's send.
// A cancelled execution (Stop, the workflow's timeout) runs no node after Send, so Complete would
// never record what Send did: Send sends nothing more and records every message itself through
// queue_complete (sent with its wamid, failed, uncertain for a request n8n cut short on the stop, or
// released: back in the queue) before it returns, as Complete would (helpers/sendReport.ts builds the same report, so
// Complete run after it records nothing twice).
// Not as an AI agent's tool: a tool's call holds no claim, and the item id and worker name a model
// gives (both visible on the Console's queue page) would send its own text on a workflow's claim,
// which that workflow's own Send then sends again.
import { randomUUID } from 'node:crypto';
import { sleep, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { QueueMessage, RpcArgs, SendResult } from '../../shared/contract';
import { parameterReader } from '../../shared/default-fields';
import { asNodeError, failedItem } from '../../shared/per-item';
import { mapWithConcurrency } from '../../shared/pool';
import { runsAsTool } from '../../shared/outputs';
import { filledByModel, fromAIKey } from '../../shared/tool-text';
import { optionsCollection } from '../../shared/properties';
import { readCheckedOptions, type OptionWhy } from '../../shared/checked-options';
import { abortedByTimeLimit, callRpc, isTransient, RETRY_WAITS_MS } from '../../shared/supabase';
import { E164, UUID } from '../../shared/valid-input';
import { heldWorker, invalid, upstreamFailure } from '../helpers/common';
import { MAX_TEXT, readMessage } from '../helpers/messages';
import { notAttempted, outcomeOf, type BatchStop, type SendOutcome } from '../helpers/sendResults';
import { releaseBeforeReporting, type ClaimedMessage } from '../helpers/releaseClaimed';
import { reportedError, sendResult } from '../helpers/sendReport';
import { matchBeginAnswers, type BeginSendRow } from '../helpers/beginAnswers';
import { BATCH } from '../helpers/common';
import { readWhatsAppTarget, sendMessage, type WhatsAppTarget } from '../transport/whatsapp';

/** Its options, read from the first item and checked against their ranges whoever gives them (nodes/shared/checked-options.ts). */
const OPTIONS: INodeProperties = optionsCollection([
	{
		displayName: 'Parallel Sends',
		name: 'concurrency',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 50 },
		default: 10,
		description: 'How many messages may wait for Meta\'s answer at once',
	},
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 5, maxValue: 86400 },
		default: 300,
		description: 'How long each message stays held for this run from just before it is sent (checked and renewed for every group of Parallel Sends, with the earlier groups\' messages, until Complete reports them): a message another run claimed meanwhile, or whose lead was taken over, is not sent. Never less than the Timeout plus 30 seconds, so a message stays held however slow Meta is.',
	},
	{
		displayName: 'Timeout (Ms)',
		name: 'timeoutMs',
		type: 'number',
		typeOptions: { minValue: 1000, maxValue: 3600000, clampAboveMax: true },
		default: 30000,
		description: 'How long one send may take; a message without an answer may have been delivered, so it is not tried again. Above 3,600,000 (an hour), an hour is used.',
	},
]);

/** The run's options, checked and set: their default when not given. */
interface SendOptions {
	concurrency: number;
	leaseSeconds: number;
	timeoutMs: number;
}

const OPTION_WHY: OptionWhy = {
	concurrency: 'It is how many messages may wait for Meta\'s answer at once.',
	leaseSeconds: 'It is how long each message stays held for this run from just before it is sent; the database takes 5 to 86400 seconds.',
};

const properties: INodeProperties[] = [
	{
		displayName: 'Queue Item ID',
		name: 'itemId',
		type: 'string',
		default: '={{ $json.item_id }}',
		required: true,
		description: 'The claimed message (item_id, returned by Claim with each message)',
	},
	{
		displayName: 'Phone',
		name: 'phone',
		type: 'string',
		default: '={{ $json.phone }}',
		required: true,
		description: 'The recipient in E.164 (+61491570156), as Claim returns it',
	},
	{
		displayName: 'Message',
		name: 'message',
		type: 'json',
		default: '={{ $json.message }}',
		required: true,
		description: 'What to send, as Claim returns it: {"type": "text", "text": "…"} or {"type": "template", "name": "…", "language": "en_US"}',
	},
	{
		displayName: 'Worker Name',
		name: 'worker',
		type: 'string',
		default: '={{ $json.worker }}',
		description: 'The name the message was claimed under, passed on to Complete: Claim puts it on every item as worker. Claim\'s own Worker Name typed in is taken as that name; any other is refused.',
	},
	OPTIONS,
];

export const description = updateDisplayOptions({ show: { operation: ['send'] } }, properties);

interface Job {
	itemIndex: number;
	itemId: string;
	worker: string;
	phone: string;
	/** Undefined when the message could not be read: the item fails for good without a call. */
	message?: QueueMessage;
	problem?: string;
	/**
	 * As a tool: the problem is in a field the workflow sets (Message or Phone not filled by $fromAI),
	 * which the model cannot correct: Send records the message dead itself.
	 */
	workflowProblem?: boolean;
	/** queue_begin_send let this occurrence go (its send's mark is set in the database). */
	begun?: boolean;
	/**
	 * The queue_begin_send call that let it go failed, or gave no row for it, in a way the database
	 * may have saved (its answer lost): its mark may be set, with that call's key.
	 */
	maybeBegun?: boolean;
	/** The key of the queue_begin_send call that let it go (or may have): its mark's, the only one queue_send_not_made clears for it. */
	beginKey?: string;
	/**
	 * The same message (its id, its worker) is listed elsewhere in the input, and that item (the first
	 * occurrence, or the copy the database let go) carries its report: this occurrence is not sent, and
	 * comes out already_sending (no report of its own), whatever became of that item.
	 */
	repeatOf?: number;
	/**
	 * On a message's first occurrence: its later occurrences (the same id and worker). Each whose
	 * phone differs is asked about in the first's call, so the database lets go the copy that carries
	 * the message's own phone; that copy then sends and reports, every other occurrence is
	 * already_sending.
	 */
	copies?: Job[];
	/** On a later occurrence: the first. */
	original?: Job;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// As an AI agent's tool, only the messages this execution's Claim holds (heldWorker refuses any
	// other Worker Name before anything is sent): another execution's would be sent again by it.
	const items = this.getInputData();
	const output: INodeExecutionData[] = [];
	const read = parameterReader(this, properties, {
		itemId: (json) => json.item_id,
		phone: (json) => json.phone,
		message: (json) => json.message,
		worker: (json) => json.worker,
	});
	const jobs: Job[] = [];
	// Where a message Send cannot send comes from, and so what to do: the model's own text when it
	// fills Message ($fromAI) as a tool, else the owner's setting Prepare queued.
	// As a tool whose Message is the workflow's (not $fromAI), Send records a message it refuses dead
	// itself (below): the model cannot correct it, and Complete as a tool takes no failure of a
	// message whose send never began on the model's word.
	const asTool = runsAsTool(this);
	const modelFillsMessage = asTool && filledByModel(this, 'message');
	const whoseMessage = modelFillsMessage ? modelMessage(fromAIKey(this, 'message')) : asTool ? TOOL_MESSAGE : MESSAGE_SETTING;
	// As a tool whose Phone is the workflow's (not $fromAI), a Phone that is not E.164 is the
	// workflow's to correct: the message is recorded dead as for the workflow's Message.
	const workflowPhone = asTool && !filledByModel(this, 'phone');
	let options: SendOptions;
	// Whether the setup failed on the node's own options (the item's settings, invalid_input), not on the credential.
	let optionsRefused = false;
	let target: WhatsAppTarget;
	// The setup: until the first queue_begin_send nothing can have gone out, so a failure here gives
	// the claimed messages back (released through queue_complete: due again at once, the attempt
	// the claim counted given back) before it is reported, instead of leaving them claimed for their
	// whole lease (helpers/releaseClaimed.ts).
	try {
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				const itemId = String(read('itemId', itemIndex, '') ?? '').trim();
				// An earlier node's failed item (Claim's for an owner it refused): passed on as it came.
				if (upstreamFailure(items[itemIndex].json, itemId)) {
					output.push({ json: items[itemIndex].json, pairedItem: { item: itemIndex } });
					continue;
				}
				if (!UUID.test(itemId)) {
					throw invalid(this, itemIndex, `The queue item ID "${itemId}" is not a UUID`, 'Map the item_id Claim returns with each message, e.g. {{ $json.item_id }}.');
				}
				const worker = heldWorker(this, itemIndex, String(read('worker', itemIndex, '') ?? '').trim(), items[itemIndex].json.worker);
				const phone = String(read('phone', itemIndex, '') ?? '').trim();
				const checked = readMessage(read('message', itemIndex, null));
				const phoneProblem = !E164.test(phone);
				const problem = phoneProblem
					? workflowPhone
						? TOOL_PHONE
						: `The phone "${phone}" is not in E.164 (+ and 7 to 15 digits)`
					: 'problem' in checked
						? `The message ${checked.problem}${whoseMessage}`
						: undefined;
				jobs.push({
					itemIndex,
					itemId: itemId.toLowerCase(),
					worker,
					phone,
					...('message' in checked && { message: checked.message }),
					...(problem && { problem, workflowProblem: asTool && (phoneProblem ? workflowPhone : !modelFillsMessage) }),
				});
			} catch (error) {
				if (!this.continueOnFail()) throw asNodeError(this, error, itemIndex);
				output.push(failedItem(this, error, { item: itemIndex }));
			}
		}
		if (jobs.length === 0) return [output];
		// A message listed again (Claim merged with itself, a node retried): only its first occurrence
		// counts. Each later one is already_sending from the start, before any check, so it never gets a
		// report of its own: a batch that stops (a refused token, a rate limit, Stop, a failed check)
		// once made it not_attempted or not_checked beside its first occurrence's sent or failed, and
		// queue_complete refused both reports of the item, the whole batch with them.
		const firstOf = new Map<string, Job>();
		for (const job of jobs) {
			const key = `${job.worker}\n${job.itemId}`;
			const first = firstOf.get(key);
			if (!first) firstOf.set(key, job);
			// A first occurrence Send refuses itself (a Phone not in E.164, a message it cannot send) does
			// not carry the message's report when a later occurrence can be asked about: that one becomes
			// the first, and the refused one a copy (already_sending, no report of its own). Before, the
			// refused copy's invalid_message was the report: the message ended dead, its lead new, and the
			// claimed item listed after it was never sent.
			else if ((first.problem || !first.message) && !job.problem && job.message) {
				job.copies = [first, ...(first.copies ?? [])];
				first.copies = undefined;
				for (const copy of job.copies) Object.assign(copy, { repeatOf: job.itemIndex, original: job });
				firstOf.set(key, job);
			} else {
				job.repeatOf = first.itemIndex;
				job.original = first;
				(first.copies ??= []).push(job);
			}
		}
		try {
			options = readCheckedOptions<SendOptions>(this, 0, OPTIONS, OPTION_WHY);
		} catch (error) {
			optionsRefused = true;
			throw asNodeError(this, error);
		}
		target = await readWhatsAppTarget(this);
	} catch (caught) {
		const error = asNodeError(this, caught);
		if (!this.continueOnFail()) {
			// Failed as a node: every message it was handed is given back (those another run holds, or
			// already reported, the database leaves alone).
			await releaseBeforeReporting(this, claimedOf(this, read, items), [error]);
			throw error;
		}
		// With Continue On Fail, every message read fails with it (the package's failed item, which
		// n8n's error output takes; a credential the node cannot use is not the item's fault), after
		// being given back.
		await releaseBeforeReporting(this, jobs, [error]);
		for (const job of jobs) output.push(failedItem(this, error, { item: job.itemIndex }, optionsRefused ? 'invalid_input' : 'service_error'));
		return [output];
	}
	const cancelSignal = this.getExecutionCancelSignal();
	const concurrency = options.concurrency;
	let stopped: BatchStop | undefined;
	let databaseProblem: string | undefined;
	const outcomes = new Array<SendOutcome>(jobs.length);
	// Per worker, the messages whose send queue_begin_send let go in this run, and when the oldest of
	// their leases was set: once a third of the lease has passed since, a group's call renews them
	// all, so they are still held when Complete reports them (and a long run renews each a few times
	// per lease, not once per group).
	const leaseSeconds = sendLeaseSeconds(options);
	const leaseMs = leaseSeconds * 1000;
	// Renewed once a third of the lease has passed, or sooner when what is left of it would not
	// outlast the next group's send and the margin after it.
	const renewAfterMs = Math.min(leaseMs / 3, leaseMs - options.timeoutMs - SEND_MARGIN_SECONDS * 1000);
	// Renewals go in their own argument (p_renew_item_ids: leases only, never let go again).
	const begun = new Map<string, { ids: Set<string>; leasedAt: number }>();
	for (let start = 0; start < jobs.length; start += concurrency) {
		const group = jobs.slice(start, start + concurrency);
		// (A copy let go in an earlier group's call, for its first occurrence, is begun already: not asked again.)
		const sendable = group.filter((job) => job.repeatOf === undefined && !job.begun && !job.problem && job.message);
		// The database says which of the group this worker still holds (one call per worker, the
		// earlier groups' messages renewed in it).
		const refusals = new Map<Job, SendOutcome>();
		if (!stopped && !databaseProblem && !cancelSignal?.aborted) {
			// Every worker whose messages' send began in this run, also one with none in this group (two
			// Claims merged into one Send): Complete reports them all after the last group, so their
			// leases are renewed here too when due (a call with nothing to let go, renewals only), but only
			// when the group has something to send (a group of copies only makes no call), and first: if it
			// fails, no other worker's call of the group has let messages go that would be given back unsent.
			const byWorker = new Map<string, Job[]>();
			const withMessages = groupByWorker(sendable);
			if (sendable.length > 0) for (const worker of begun.keys()) if (!withMessages.has(worker)) byWorker.set(worker, []);
			for (const [worker, members] of withMessages) byWorker.set(worker, members);
			for (const [worker, members] of byWorker) {
				// No further call once one of the group failed: the rest of the run is not sent, Complete runs next.
				if (databaseProblem) break;
				if (!worker) {
					for (const job of members) refusals.set(job, notSent('not_held', 'no worker name, so whether this run still holds it cannot be checked'));
					continue;
				}
				const now = Date.now();
				const mine = begun.get(worker) ?? { ids: new Set<string>(), leasedAt: now };
				begun.set(worker, mine);
				const renew = mine.ids.size > 0 && now - mine.leasedAt >= renewAfterMs;
				if (members.length === 0 && !renew) continue;
				// Every message whose send began in this run (an occurrence that does not carry its message's
				// report is never asked about again: Send answers it already_sending itself): its lease is renewed here.
				const renewed = renew ? [...mine.ids].map((id) => ({ id, phone: '' })) : [];
				try {
					// A message listed again with another phone: every such copy is asked about in its first
					// occurrence's call, so the database picks the one with the message's own phone (the first
					// such, in the order asked) and refuses the others.
					const asked = members.flatMap((job) => [
						{ id: job.itemId, phone: job.phone, job },
						...(job.copies ?? [])
							.filter((copy) => !copy.problem && copy.message && copy.phone !== job.phone)
							.map((copy) => ({ id: copy.itemId, phone: copy.phone, job: copy })),
					]);
					for (const batch of beginSendCalls(asked, renewed)) {
						// Each message with the phone it is about to go to: the database refuses one that is
						// not its lead's (phone_mismatch), whatever the Phone parameter gave.
						// The earlier groups' messages only renewed (no answer for them): one no longer held
						// has gone out already.
						const sending = batch.filter((entry) => entry.job);
						// Each call its own key, stored with the marks it sets: repeated with it when it fails in a
						// way the database may have saved (its answer lost), the call answers send again for what
						// it began; still failing, its marks (and only its) are taken back by that key below.
						const key = randomUUID();
						// Until the call answers, its messages may be let go with this key (taken back by it if it fails).
						for (const entry of sending) Object.assign(entry.job!, { maybeBegun: true, beginKey: key });
						// Repeated only while the messages of the earlier groups this worker let go stay held with the
						// time to send this group and report them (the Timeout and the margin): past it, Complete must
						// run now (their lease would end, and the next Claim would end messages Meta accepted dead,
						// uncertain), and the rest of the run is released not_checked.
						// Complete reports every worker's messages after the last group: the earliest lease of any
						// worker's begun messages bounds the repeats (Math.min of none is Infinity: the first group).
						const repeatUntil =
							Math.min(...[...begun.values()].filter((held) => held.ids.size > 0).map((held) => held.leasedAt + leaseMs)) -
							options.timeoutMs -
							SEND_MARGIN_SECONDS * 1000;
						// Each attempt must also answer before its own messages' lease (asked from no sooner than
						// its start) less the Timeout and the margin: an answer after that leaves no time to send
						// them and report everything.
						const ownMs = leaseMs - options.timeoutMs - SEND_MARGIN_SECONDS * 1000;
						const rows = await beginSendRepeated(this, { repeatUntil, ownMs }, cancelSignal, {
							p_worker: worker,
							p_item_ids: sending.map((entry) => entry.id),
							p_phones: sending.map((entry) => entry.phone),
							p_renew_item_ids: batch.filter((entry) => !entry.job).map((entry) => entry.id),
							p_lease_seconds: leaseSeconds,
							p_begin_key: key,
						});
						for (const entry of sending) entry.job!.maybeBegun = false;
						// The group's answers, in the order asked: a message goes only on its own row saying
						// send; one without its row (missing, or another id's at its place) is not sent.
						matchBeginAnswers(
							sending.map((entry) => entry.id),
							rows,
						).forEach((answer, index) => {
							const entry = sending[index];
							if (!entry.job) return;
							if (answer.kind === 'send') {
								mine.ids.add(entry.id);
								entry.job.begun = true;
								entry.job.beginKey = key;
								if (entry.job.original) letGoCopy(entry.job.original, entry.job);
							}
							// A copy's refusal is not its report: it stays already_sending (the first's answer is the report).
							else if (answer.kind === 'refused') {
								if (entry.job.repeatOf === undefined) refusals.set(entry.job, refusedSend(answer.reason, entry.job.phone));
							} else {
								// No row of its own: not sent, and its mark, if the call set one, taken back by the key
								// (a copy's by its first occurrence's report, unless another copy was let go).
								const reporter = entry.job.original && !entry.job.original.begun ? entry.job.original : entry.job;
								if (reporter.begun) return;
								Object.assign(reporter, { maybeBegun: true, beginKey: key });
								refusals.set(reporter, notSent('not_checked', 'whether this run still holds it was not checked (the database gave no answer for it)'));
							}
						});
					}
					if (renew) mine.leasedAt = now;
				} catch (error) {
					// Messages may have gone out already: nothing is thrown; the rest is not sent.
					databaseProblem = error instanceof Error ? error.message : String(error);
				}
			}
		}
		const results = await mapWithConcurrency(group, concurrency, async (job): Promise<SendOutcome> => {
			if (job.repeatOf !== undefined) return listedAgain(job.repeatOf);
			if (job.problem || !job.message) {
				return { outcome: 'failed', message_id: null, error: { code: 'invalid_message', message: job.problem ?? 'The message is missing', permanent: true } };
			}
			if (stopped) return notAttempted(stopped);
			if (databaseProblem) return notSent('not_checked', `whether this run still holds it could not be checked (${databaseProblem})`);
			if (cancelSignal?.aborted) return notAttempted('cancelled');
			const refused = refusals.get(job);
			if (refused) return refused;
			const { outcome, stop } = outcomeOf(await sendMessage(this, target, job.phone, job.message, options.timeoutMs));
			if (stop) stopped ??= stop;
			return outcome;
		});
		results.forEach((outcome, index) => (outcomes[start + index] = outcome));
	}
	// A message this Send let go and then did not send (Meta refused the request, the batch stopped,
	// the run was cancelled, a later check failed) is released: its send's mark is taken back first,
	// since queue_complete refuses any release of a message whose send began.
	await takeBackNotMade(this, jobs, outcomes);
	// Cancelled: n8n runs no node after this one, so nothing would record what it did.
	if (cancelSignal?.aborted) await recordCancelled(this, jobs, outcomes);
	// As a tool whose Message is the workflow's: a message it cannot send is recorded dead now (as
	// Complete records it in a workflow), not left to come back every run.
	else if (asTool) {
		const unsendable = jobs.flatMap((job, index) => (job.workflowProblem && !job.begun && job.repeatOf === undefined ? [{ job, index }] : []));
		const answers = await record(this, unsendable.map(({ job, index }) => ({ worker: job.worker, result: resultOf(job, outcomes[index]) })), 'could not record as dead');
		// The database kept the operator's words (what is wrong with the message, where to correct
		// it); the model is told, besides, what became of the message.
		for (const { job, index } of unsendable) {
			const error = outcomes[index].error!;
			outcomes[index] = { ...outcomes[index], error: { ...error, message: `${error.message}. ${recordedDead(answers.get(job.itemId))}` } };
		}
	}
	jobs.forEach((job, index) => {
		// The same message again (its send began in this run or an earlier one): nothing sent, and no
		// report of it, so Complete records the message once (the other occurrence's report).
		if (outcomes[index]?.error?.code === 'already_sending') {
			const { code, message } = outcomes[index].error!;
			output.push({ json: { error: { code, message, item_id: job.itemId, worker: job.worker } }, pairedItem: { item: job.itemIndex } });
			return;
		}
		output.push({
			json: { item_id: job.itemId, worker: job.worker, lead_id: items[job.itemIndex].json.lead_id ?? null, phone: job.phone, ...outcomes[index] } as unknown as IDataObject,
			pairedItem: { item: job.itemIndex },
		});
	});
	return [output];
}

/**
 * Where a refused message comes from: Prepare copies the owner's message setting into each message.
 * The database refuses a setting Send cannot send as stored since migration 20261201002240 (and a
 * text of only {{name}} since 20261201002320); one stored before, or a text a lead's long name
 * pushes over 4,096 characters, still reaches Send, and this says where to correct it.
 */
const MESSAGE_SETTING = ": it is the owner's message setting (user_queue_settings.message) as Prepare queued it; correct it there (WhatsApp takes a text that is not only white space, or a template with a language such as en or en_US), and the leads are queued again with the next Prepare";

/**
 * As an AI agent's tool whose Message is the workflow's (set in the tool, not filled by $fromAI): the
 * model cannot correct it, and Complete as a tool does not take a failure of a message whose send
 * never began on the model's word, so the message would come back every run. Send records it dead
 * itself (invalid_message, its lead new again, as Complete records it in a workflow), and says where
 * to correct it: the tool's Message, or the owner's setting when the tool's Message reads the claimed
 * message. These are the words stored (last_error, the ledger's detail) for the operator; the model's
 * answer adds what became of the message (recordedDead).
 */
const TOOL_MESSAGE =
	": it is the Message set in this tool (the workflow's, not filled by the model), or the owner's message setting (user_queue_settings.message) when the tool's Message reads the claimed message; correct it there";

/**
 * As an AI agent's tool whose Phone is the workflow's (set in the tool, not filled by $fromAI) and not
 * E.164: the model cannot correct it, so Send records the message dead itself, as for the workflow's
 * Message (TOOL_MESSAGE). The phone given is not repeated (the words are stored: last_error, the
 * ledger's detail).
 */
const TOOL_PHONE =
	"The Phone set in this tool (the workflow's, not filled by the model) did not give a number in E.164 (+ and 7 to 15 digits): correct it there (the claimed message's phone, e.g. {{ $('Claim').item.json.phone }}, or fill it by the model)";

/**
 * As an AI agent's tool whose Message the model fills ($fromAI): the refused message is the model's
 * own text, not the owner's setting, so it is told to correct it and call Send again. Nothing was
 * sent and the message is still held; Complete as a tool refuses this failure unless the owner's
 * message as stored cannot be sent either (migration 20261201002690).
 */
const modelMessage = (key: string | undefined): string =>
	`: it is the message you gave${key ? ` as ${key}` : ''}, not the owner's setting. Nothing was sent and the message is still held: shorten or correct it (WhatsApp takes a text of 1 to ${MAX_TEXT} characters that is not only white space, or a template with a language such as en or en_US) and call Send again with it; to give the message back untried instead, report it to Complete as released`;

/** What the lease asked of queue_begin_send keeps beyond a send's Timeout: the time to report it (Complete, its retries). */
export const SEND_MARGIN_SECONDS = 30;

/** The lease asked: the Lease option, never less than the Timeout plus the margin (at most a day, as the database takes). */
export function sendLeaseSeconds(options: { leaseSeconds: number; timeoutMs: number }): number {
	return Math.min(86400, Math.max(options.leaseSeconds, Math.ceil(options.timeoutMs / 1000) + SEND_MARGIN_SECONDS));
}

/**
 * Records every message's outcome through queue_complete (one call per worker and 1,000), as
 * Complete would, when the execution was cancelled: sent with its wamid (the lead contacted), failed
 * (due again, or dead), released (back to queued, the attempt given back). A message without a worker
 * name Complete would refuse is left out. When the call fails, its messages stay claimed until
 * their lease ends (those whose send began then end dead, uncertain); the failure is logged.
 */
async function recordCancelled(context: IExecuteFunctions, jobs: Job[], outcomes: SendOutcome[]): Promise<void> {
	// A repeat refused (already_sending): its message's report is the other occurrence's.
	const reports = jobs.flatMap((job, index) => (outcomes[index].error?.code === 'already_sending' ? [] : [{ worker: job.worker, result: resultOf(job, outcomes[index]) }]));
	await record(context, reports, 'was cancelled and could not record');
}

/** The report of one message as queue_complete takes it (helpers/sendReport.ts, as Complete builds it). */
const resultOf = (job: Job, { outcome, message_id: messageId, error }: SendOutcome): SendResult =>
	sendResult(job.itemId, outcome, messageId, outcome === 'sent' || !error ? null : reportedError(error));

/**
 * Records reports through queue_complete as a workflow's Complete would (one call per worker and
 * 1,000). A report without a worker name is left out; a call that fails is logged (its messages stay
 * claimed until their lease ends).
 */
async function record(context: IExecuteFunctions, reports: Array<{ worker: string; result: SendResult }>, failed: string): Promise<Map<string, RecordAnswer>> {
	const answers = new Map<string, RecordAnswer>();
	const byWorker = new Map<string, SendResult[]>();
	for (const { worker, result } of reports) if (worker) byWorker.set(worker, [...(byWorker.get(worker) ?? []), result]);
	for (const [worker, results] of byWorker) {
		for (let start = 0; start < results.length; start += BATCH) {
			const batch = results.slice(start, start + BATCH);
			try {
				const rows = await callRpc(context, 'queue_complete', { p_worker: worker, p_results: batch });
				for (const row of rows) answers.set(String(row.item_id).toLowerCase(), { accepted: row.accepted, status: row.status, reason: row.reason });
			} catch (error) {
				context.logger.warn(
					`Send ${failed} ${batch.length} message(s) of worker ${worker} (${error instanceof Error ? error.message : String(error)}): they stay claimed until their lease ends`,
				);
			}
		}
	}
	return answers;
}

/** What queue_complete answered for one message Send recorded itself (none: the call failed, or no row for it). */
interface RecordAnswer {
	accepted: boolean;
	status: string;
	reason: string | null;
}

/**
 * What the model is told of a message Send (a tool whose Message is the workflow's) recorded dead
 * itself, by what queue_complete answered: never said recorded unless it was.
 */
function recordedDead(answer: RecordAnswer | undefined): string {
	if (!answer) {
		return 'Nothing was sent. Send could not record the message as dead (the database call failed): it stays held until its lease runs out, then comes back with a later claim; do not report it to Complete, tell whoever runs this workflow';
	}
	if (answer.accepted && answer.status === 'dead') {
		return 'Nothing was sent. Send recorded the message dead (invalid_message) and its lead is queued again with the next Prepare; there is nothing to report to Complete';
	}
	if (answer.accepted) return `Nothing was sent. Send recorded the failure (the message is now ${answer.status}); there is nothing to report to Complete`;
	return `Nothing was sent. Send's record of it as dead was refused (${answer.reason ?? 'no reason given'}; the message is ${answer.status}); there is nothing to report to Complete`;
}

/**
 * Takes back the send's mark (queue_send_not_made, one call per worker and 1,000) of every message
 * this Send let go and reports released: Meta refused that very request (invalid_token,
 * business_account), or no request was made (the batch stopped or the run was cancelled first:
 * not_attempted; a later check of its group failed: not_checked). queue_complete refuses any release
 * of a message whose send began, so only this Send, which knows the request was not made, gives such
 * a message back. When the call fails, the messages stay begun: their release is refused and they
 * end dead, uncertain, when their lease runs out (never sent twice); the failure is logged.
 */
async function takeBackNotMade(context: IExecuteFunctions, jobs: Job[], outcomes: SendOutcome[]): Promise<void> {
	// Per worker and queue_begin_send key: with its key, the call clears only the marks that key set,
	// never those of an earlier Send of the same worker (the same tool called twice in one execution).
	const byCall = new Map<string, { worker: string; key: string; ids: string[] }>();
	jobs.forEach((job, index) => {
		if (!(job.begun || job.maybeBegun) || !job.beginKey || outcomes[index]?.outcome !== 'released') return;
		const call = `${job.worker}\n${job.beginKey}`;
		const entry = byCall.get(call) ?? { worker: job.worker, key: job.beginKey, ids: [] };
		entry.ids.push(job.itemId);
		byCall.set(call, entry);
	});
	for (const { worker, key, ids } of byCall.values()) {
		for (let start = 0; start < ids.length; start += MAX_IDS) {
			const batch = ids.slice(start, start + MAX_IDS);
			try {
				await callRpc(context, 'queue_send_not_made', { p_worker: worker, p_item_ids: batch, p_begin_key: key });
			} catch (error) {
				context.logger.warn(
					`Send could not take back the send mark of ${batch.length} message(s) of worker ${worker} it did not send (${error instanceof Error ? error.message : String(error)}): their release is refused, and they end dead (uncertain) when their lease runs out`,
				);
			}
		}
	}
}

/**
 * The least time one queue_begin_send attempt is given, even when its bound is nearer (a group
 * after one whose sends took the whole Timeout, with the shortest Lease: the Timeout plus 30 s): a
 * healthy call answers in milliseconds, and the 30 s margin left to report keeps 25 s of it.
 */
export const BEGIN_MIN_TIME_LIMIT_MS = 5000;

/**
 * queue_begin_send, repeated with the same arguments (its key among them) after each of
 * RETRY_WAITS_MS while it fails in a way the database may have saved or may not have reached
 * (isTransient: no SQLSTATE, a reset connection, a gateway's 5xx, a connection or timeout error): a
 * repeat with the key answers send again for the messages the lost call let go
 * (20261201002810_queue_begin_send_repeated.sql). Not repeated once the repeat would start at or
 * after repeatUntil (the earlier groups' lease, less the group's Timeout and the margin to report
 * them: a gateway that hangs must not hold messages already sent past their lease), nor after Stop
 * (the pause ends on it). Each attempt has a time limit of its own: it is aborted at repeatUntil, or
 * at its own messages' lease counted from its start less the same (ownMs), whichever is sooner, and
 * never sooner than BEGIN_MIN_TIME_LIMIT_MS; after Stop it is given at most BEGIN_MIN_TIME_LIMIT_MS
 * more. An aborted attempt is an answer lost (its key takes back what it may have set), and one
 * its time limit stopped is not repeated (its statement may still run in the database). Any other
 * failure, or the last, is thrown, so the run stops there and Complete records what was sent while
 * it is still held.
 */
async function beginSendRepeated(
	context: IExecuteFunctions,
	{ repeatUntil, ownMs }: { repeatUntil: number; ownMs: number },
	cancelSignal: AbortSignal | undefined,
	args: RpcArgs<'queue_begin_send'>,
): Promise<BeginSendRow[]> {
	for (let retry = 0; ; retry++) {
		const started = Date.now();
		const timeLimitMs = Math.max(BEGIN_MIN_TIME_LIMIT_MS, Math.min(repeatUntil, started + ownMs) - started);
		const afterStop = abortedAfterStop(cancelSignal, BEGIN_MIN_TIME_LIMIT_MS);
		try {
			return (await callRpc(context, 'queue_begin_send', args, undefined, { timeLimitMs, signal: afterStop.signal })) as BeginSendRow[];
		} catch (error) {
			// A repeat must also END before repeatUntil: a gateway that held this call `took` ms may hold
			// the repeat as long (its time limit would cut it there: not worth starting).
			const took = Date.now() - started;
			// Nor a call its time limit stopped: its statement may still be running in the database (a row
			// lock, a loaded database), and a repeat would queue behind it on the same messages (up to five
			// copies); an answer lost on the way fails fast (a reset, a 5xx), not at the limit. Its key is
			// taken back (queue_send_not_made), so what it may still set is undone or never set.
			if (
				retry >= RETRY_WAITS_MS.length ||
				!isTransient(error) ||
				abortedByTimeLimit(error) ||
				cancelSignal?.aborted ||
				Date.now() + RETRY_WAITS_MS[retry] + took >= repeatUntil
			) {
				throw asNodeError(context, error);
			}
			context.logger.warn(`Leadflow Queue Ledger Send: queue_begin_send for ${args.p_item_ids.length} message(s) failed (${error instanceof Error ? error.message : String(error)}); trying again with the same key`);
			try {
				await sleep(RETRY_WAITS_MS[retry], cancelSignal);
			} catch {
				// Stopped during the pause: no repeat, the call's failure stands.
				throw asNodeError(context, error);
			}
			// A sleep that ended without looking at the signal: no repeat after Stop either.
			if (cancelSignal?.aborted) throw asNodeError(context, error);
		} finally {
			afterStop.clear();
		}
	}
}

/**
 * A signal that aborts `graceMs` after the execution's cancel signal does (Stop, the workflow's
 * timeout): a call hanging at a gateway is given up then, but one in flight when Stop is pressed
 * (milliseconds, as a rule) still answers, so the messages it lets go are sent or reported as they
 * are. (An aborted call can no longer set marks after Send took its key back: since migration
 * 20261201002890 queue_begin_send refuses a key taken back. The grace now saves work, not messages.)
 */
function abortedAfterStop(cancel: AbortSignal | undefined, graceMs: number): { signal?: AbortSignal; clear: () => void } {
	if (!cancel) return { clear: () => undefined };
	const controller = new AbortController();
	let timer: NodeJS.Timeout | undefined;
	const onCancel = () => {
		timer = setTimeout(() => controller.abort(), graceMs);
	};
	if (cancel.aborted) onCancel();
	else cancel.addEventListener('abort', onCancel, { once: true });
	return {
		signal: controller.signal,
		clear: () => {
			clearTimeout(timer);
			cancel.removeEventListener('abort', onCancel);
		},
	};
}

/** The most item ids queue_begin_send takes in one call. */
const MAX_IDS = 1000;

/** Why the database refused to let a message go (queue_begin_send's reasons). */
const REFUSED: Record<string, string> = {
	not_held: 'this run no longer holds it (its lease ran out and another run claimed it, or it was released)',
	cancelled: 'it was cancelled after the claim (its lead was taken over or stopped)',
	phone_changed: 'its lead\'s phone changed after the claim: a later claim sends it to the lead\'s new number (or nothing, if the phone was removed)',
	phone_mismatch: 'is not its lead\'s phone, the number Claim gave the message: a queued message goes only to its lead. Map the phone Claim returns, e.g. {{ $json.phone }} (the default)',
	already_completed: 'it was already completed',
	already_sending: 'its send already began (Send was run again for it): a message goes out once. Complete records the first send; this item is passed on untouched',
	not_found: 'there is no such queued message',
};

/**
 * A message listed more than once in Send's input: Send's own already_sending for all but one, the
 * report being that item's (the copy the database let go, else the first occurrence).
 */
const listedAgain = (itemIndex: number): SendOutcome =>
	notSent('already_sending', `the same claimed message is listed again in Send's input (item ${itemIndex}): a message goes out once, and what became of it is that item's report. This item is passed on untouched`);

/** The database let a later occurrence go (its phone the message's own): it sends and reports; the other occurrences point at it. */
function letGoCopy(first: Job, copy: Job): void {
	copy.repeatOf = undefined;
	for (const other of [first, ...(first.copies ?? [])]) if (other !== copy) other.repeatOf = copy.itemIndex;
}

/** The database's refusal of one message about to go to `phone`, as Send reports it. */
function refusedSend(reason: string, phone: string): SendOutcome {
	if (reason === 'phone_mismatch') return notSent(reason, `the phone "${phone}" ${REFUSED.phone_mismatch}`);
	return notSent(reason, REFUSED[reason] ?? REFUSED.not_held);
}

/** Not sent: released (Complete records nothing for a message this run does not hold), the reason as its code. */
const notSent = (code: string, why: string): SendOutcome => ({ outcome: 'released', message_id: null, error: { code, message: `Not sent: ${why}`, permanent: false } });

/** A message queue_begin_send is asked about: its id, the phone it goes to, and the group's job (none for an earlier group's renewal). */
interface BeginEntry {
	id: string;
	phone: string;
	job?: Job;
}

/** The group's messages, then the earlier groups' to renew, in calls of at most MAX_IDS (the group's in the first). */
function beginSendCalls(group: BeginEntry[], renewed: BeginEntry[]): BeginEntry[][] {
	const all = [...group, ...renewed];
	const calls: BeginEntry[][] = [];
	for (let at = 0; at < all.length; at += MAX_IDS) calls.push(all.slice(at, at + MAX_IDS));
	return calls;
}

/** The claimed messages the items hand the node (their Queue Item ID and Worker Name); an item whose fields cannot be read names none. */
function claimedOf(context: IExecuteFunctions, read: ReturnType<typeof parameterReader>, items: INodeExecutionData[]): ClaimedMessage[] {
	const messages: ClaimedMessage[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			const itemId = String(read('itemId', itemIndex, '') ?? '').trim();
			const given = String(read('worker', itemIndex, '') ?? '').trim();
			// A Worker Name refused (not this run's Claim's): the message is given back under the name on the item.
			let worker: string;
			try {
				worker = heldWorker(context, itemIndex, given, items[itemIndex]?.json.worker);
			} catch {
				// As a tool the item is the model's (or the agent's input): a name refused gives nothing back.
				worker = !runsAsTool(context) && typeof items[itemIndex]?.json.worker === 'string' ? String(items[itemIndex].json.worker).trim() : '';
			}
			if (UUID.test(itemId) && worker !== '') messages.push({ itemId, worker });
		} catch {
			continue;
		}
	}
	return messages;
}

function groupByWorker(jobs: Job[]): Map<string, Job[]> {
	const byWorker = new Map<string, Job[]>();
	for (const job of jobs) byWorker.set(job.worker, [...(byWorker.get(job.worker) ?? []), job]);
	return byWorker;
}
