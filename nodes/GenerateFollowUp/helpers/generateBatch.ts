// One run of the node: read every item's job, move the held contacts to generating (one database
// call), generate with Gemini (keys rotated, throttled keys rested, retries, several calls at once)
// while a heartbeat renews their short lease (one database call per renewal), record the results
// (one database call), and route each item to Generated or Failed. A credential with no key fails
// the node, or with Continue On Fail every item, before anything is moved. Whenever the node fails
// as a node (or, with Continue On Fail, an item fails with an error rather than a generation), the
// claimed contacts concerned are given back first (automation_release, reason
// generation_setup_failed): claimable again at once, not held until the claim's lease ends.
import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { generateFollowUpText, type Generation } from '../transport/generateText';
import { apiKeysProblem, KeyRing, parseApiKeys } from '../../shared/gemini/keyRing';
import { SharedKeyRing } from '../../shared/gemini/sharedKeyRing';
import { parameterReader, type ParameterReader } from './itemFields';
import { readJob, readOption, type GenerationJob } from './jobs';
import { mapWithConcurrency } from '../../shared/pool';
import { numberedKeys, redactorFor } from '../../shared/redact';
import { asNodeError } from '../../shared/per-item';
import { releaseBeforeReporting, type HandedContact } from '../../shared/release-handed';
import { readStateId } from '../../shared/state-id';
import { toOutputs, type ItemFailure, type ItemResult } from './results';
import { markGenerating, recordGenerations } from '../transport/stages';
import { startHeartbeat } from './heartbeat';

interface GeminiCredentials {
	apiKeys: string;
	baseUrl?: string;
	model?: string;
}

const GOOGLE_BASE_URL = 'https://generativelanguage.googleapis.com';

export async function generateBatch(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const read = parameterReader(this);
	let results: ItemResult[];
	try {
		results = await generateAll(this, items, read);
	} catch (caught) {
		// Failed as a node: nothing it was handed goes on, so every contact it was handed is given back
		// (those another run holds, or already recorded, the database leaves alone).
		const error = asNodeError(this, caught);
		await releaseBeforeReporting(this, handedContacts(this, read, items.map((_, index) => index)), 'generation_setup_failed', [error]);
		throw error;
	}
	// With Continue On Fail: the items that failed with an error (no key, no model, a database call
	// that failed), not with a generation, were not generated: their contacts are given back.
	const caught = results.flatMap((result, index) => (result?.caught === undefined ? [] : [index]));
	if (caught.length > 0) {
		for (const index of caught) results[index].caught = asNodeError(this, results[index].caught, index);
		const errors = caught.map((index) => results[index].caught as ReturnType<typeof asNodeError>);
		await releaseBeforeReporting(this, handedContacts(this, read, caught), 'generation_setup_failed', errors);
	}
	return toOutputs(this, items, results);
}

/**
 * The claimed contacts the items hand the node (their State ID and Lease Holder, by default the
 * claim's state_id and execution_id), when it records stages, the ID in lower case as the items'
 * jobs read it. An item whose fields cannot be read names no contact (nor does an ID that is not a
 * UUID: giving back leaves it out).
 */
function handedContacts(context: IExecuteFunctions, read: ParameterReader, itemIndexes: readonly number[]): HandedContact[] {
	const contacts: HandedContact[] = [];
	for (const itemIndex of itemIndexes) {
		try {
			if (!context.getNodeParameter('recordStages', itemIndex, true)) continue;
			const stateId = readStateId(read, itemIndex);
			const holder = String(read('leaseHolder', itemIndex, '') ?? '').trim();
			if (stateId !== '' && holder !== '') contacts.push({ stateId, holder });
		} catch {
			continue;
		}
	}
	return contacts;
}

async function generateAll(context: IExecuteFunctions, items: INodeExecutionData[], read: ParameterReader): Promise<ItemResult[]> {
	const credentials = await context.getCredentials<GeminiCredentials>('leadflowGeminiApi');
	const keys = parseApiKeys(credentials.apiKeys);
	// No key, or more than the database takes: with Continue On Fail, every item fails with it (the
	// package's failed item, which n8n's error output takes). Nothing was moved to generating; the
	// contacts are given back.
	const keysProblem = apiKeysProblem(context.getNode(), keys);
	if (keysProblem) {
		if (!context.continueOnFail()) throw keysProblem;
		return items.map((): ItemResult => ({ caught: keysProblem }));
	}
	const baseUrl = String(credentials.baseUrl || GOOGLE_BASE_URL).replace(/\/+$/, '');
	// The run's settings, read from the first item and checked before anything is read or moved: a
	// Lease shorter than 5 s, or "three" calls at once, stops the node naming the option. With
	// Continue On Fail every item fails with the refusal (invalid_input): thrown, n8n would pass the
	// input items on to the first output as if generated (with an error output), and the contacts
	// are given back either way.
	// The Lease is read from the first item that records in Supabase: it acts only there (the editor
	// shows it only then), and a standalone run holds nothing, so its value is never read or refused.
	let concurrency: number;
	let leaseSeconds: number;
	try {
		concurrency = items.length > 0 ? readOption(context, 0, 'concurrency') : 1;
		const recording = items.findIndex((_item, itemIndex) => context.getNodeParameter('recordStages', itemIndex, true) as boolean);
		leaseSeconds = recording >= 0 ? readOption(context, recording, 'leaseSeconds') : 0;
	} catch (refused) {
		if (!context.continueOnFail()) throw asNodeError(context, refused);
		return items.map((): ItemResult => ({ caught: refused }));
	}
	const results: ItemResult[] = [];
	const jobs: GenerationJob[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			jobs.push(readJob(context, read, itemIndex, String(credentials.model ?? '')));
		} catch (error) {
			if (!context.continueOnFail()) throw asNodeError(context, error);
			results[itemIndex] = { caught: error };
		}
	}

	const runnable = await startGenerating(context, jobs, results, leaseSeconds);
	// With Supabase (recorded stages), the keys' turns and rests are the database's, shared by every
	// worker and n8n instance; without it, this process's.
	const ring = jobs.some((job) => job.held) ? new SharedKeyRing(context, keys) : new KeyRing(keys);
	const calls = { ring, baseUrl, redact: redactorFor(numberedKeys(keys)), cancelSignal: context.getExecutionCancelSignal() };
	// Until every contact is generated, the heartbeat keeps their short lease; it stops (even when
	// the generation throws) before the results are recorded.
	const heartbeat = startHeartbeat(context, runnable.flatMap((job) => (job.held ? [job.held] : [])), leaseSeconds);
	let generations: Generation[];
	try {
		generations = await mapWithConcurrency(runnable, concurrency, (job) => generateFollowUpText(job.request, { ...calls, policy: job.policy }));
	} finally {
		await heartbeat.stop();
	}
	runnable.forEach((job, index) => (results[job.itemIndex] = { generation: generations[index] }));
	await recordResults(context, runnable, results);
	return results;
}

/**
 * One database call: eligible → generating. A contact it does not move is not generated: one
 * already generated (ready_to_send: waiting for Facebook Send, e.g. the same claim's items run
 * again) fails already_generated, any other one this execution no longer holds lease_lost.
 */
async function startGenerating(context: IExecuteFunctions, jobs: GenerationJob[], results: ItemResult[], leaseSeconds: number): Promise<GenerationJob[]> {
	const held = jobs.flatMap((job) => (job.held ? [job.held] : []));
	if (held.length === 0) return jobs;
	const { outcomes, failed } = await markGenerating(context, held, leaseSeconds);
	// A call that failed: its contacts are not generated (those of the other calls are); they are
	// claimable again once their lease ends.
	if (failed.size > 0 && !context.continueOnFail()) throw asNodeError(context, failed.values().next().value);
	return jobs.filter((job) => {
		if (job.held && failed.has(job.held.stateId)) {
			results[job.itemIndex] = { caught: failed.get(job.held.stateId) };
			return false;
		}
		const outcome = job.held ? outcomes.get(job.held.stateId) : 'generating';
		if (outcome === 'generating') return true;
		results[job.itemIndex] = { failure: outcome === 'ready_to_send' ? ALREADY_GENERATED : NOT_HELD };
		return false;
	});
}

/** A contact the database found already generated: its message waits for Facebook Send. */
const ALREADY_GENERATED: ItemFailure = {
	code: 'already_generated',
	message: "The contact's follow-up is already generated (ready_to_send) and waits for Facebook Send, which sends the message recorded then; it was not generated again.",
};

/** A contact the database did not move for any other reason. */
const NOT_HELD: ItemFailure = {
	code: 'lease_lost',
	message:
		'This execution no longer holds the contact as eligible (another run took it, or it is being generated, was sent, failed or was given back since the claim); it was not generated.',
};

/** One database call: generating → ready_to_send / failed, for every generated contact. */
async function recordResults(context: IExecuteFunctions, jobs: GenerationJob[], results: ItemResult[]): Promise<void> {
	const recorded = jobs.flatMap((job) => {
		const generation = results[job.itemIndex].generation;
		return job.held && generation ? [{ ...job.held, generation, itemIndex: job.itemIndex }] : [];
	});
	if (recorded.length === 0) return;
	// Every call is made whichever fails: the contacts of the others are recorded and reported as such.
	const { outcomes: stages, failed } = await recordGenerations(context, recorded);
	if (failed.size > 0 && !context.continueOnFail()) throw asNodeError(context, failed.values().next().value);
	for (const contact of recorded) {
		if (failed.has(contact.stateId)) {
			results[contact.itemIndex] = { caught: failed.get(contact.stateId) };
			continue;
		}
		const stage = stages.get(contact.stateId) ?? 'lease_lost';
		const result = results[contact.itemIndex];
		if (stage === 'lease_lost') {
			result.failure = { code: 'lease_lost', message: 'The message was generated, but this execution no longer holds the contact, so it was not recorded and must not be sent.' };
		} else {
			result.stage = stage;
		}
	}
}
