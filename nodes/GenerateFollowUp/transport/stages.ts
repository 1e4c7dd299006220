// The contact's stage in Supabase, for the whole batch at once: one call moves every contact this
// execution holds from eligible to generating before Gemini is asked, one call records every result
// (ready_to_send with the message, or failed with the reason). n items = two round trips, per
// execution holding them (a batch normally comes from one claim, so one holder) and per 1,000
// contacts. In between, one call per renewal keeps the batch's short lease (helpers/heartbeat.ts).
import type { IExecuteFunctions } from 'n8n-workflow';
import {
	type GenerationFailure,
	type GenerationSuccess,
	type MarkGeneratingArgs,
	type RecordGenerationArgs,
	type RenewGeneratingArgs,
} from '../../shared/contract';
import { callRpc, piecesOf } from '../../shared/supabase';
import type { Generation } from './generateText';

export interface HeldContact {
	stateId: string;
	/** The execution id the claim recorded as the lease holder. */
	holder: string;
}

/**
 * The contacts by holder, in first-seen order, each holder's in pieces of at most 1,000 (the Data
 * API's max-rows: the calls answer one row per contact, and an answer cut short would leave the
 * contacts past it moved in the database but unknown to the node): one call per piece.
 */
function byHolder<T extends HeldContact>(contacts: readonly T[]): Array<[string, T[]]> {
	const groups = new Map<string, T[]>();
	for (const contact of contacts) {
		const group = groups.get(contact.holder);
		if (group) group.push(contact);
		else groups.set(contact.holder, [contact]);
	}
	return [...groups].flatMap(([holder, group]) => piecesOf(group).map((piece): [string, T[]] => [holder, piece]));
}

/**
 * What a stage step's calls (one per holder and 1,000 contacts) answered: the outcome per state id,
 * and, for the contacts of a call that failed, its error. Every call is made whichever fails, so
 * what the others did is known.
 */
export interface StageAnswers {
	outcomes: Map<string, string>;
	failed: Map<string, unknown>;
}

async function eachCall<T extends HeldContact>(contacts: readonly T[], call: (holder: string, group: T[]) => Promise<Array<{ state_id: string; outcome: string }> | null>): Promise<StageAnswers> {
	const answers: StageAnswers = { outcomes: new Map(), failed: new Map() };
	for (const [holder, group] of byHolder(contacts)) {
		try {
			for (const row of (await call(holder, group)) ?? []) answers.outcomes.set(row.state_id, row.outcome);
		} catch (error) {
			for (const contact of group) answers.failed.set(contact.stateId, error);
		}
	}
	return answers;
}

/** eligible → generating; answers the outcome per state id (generating; not moved: ready_to_send when already generated, else lease_lost). */
export async function markGenerating(context: IExecuteFunctions, contacts: readonly HeldContact[], leaseSeconds: number): Promise<StageAnswers> {
	return await eachCall(contacts, async (holder, group) => {
		const args: MarkGeneratingArgs = { p_execution_id: holder, p_state_ids: group.map((contact) => contact.stateId), p_lease_seconds: leaseSeconds };
		return await callRpc(context, 'automation_mark_generating', args);
	});
}

/**
 * The heartbeat: the leases of the contacts still generating end leaseSeconds from the database's
 * now, one call per holder for all of them. Every holder's call is made, whichever fails: a batch
 * holds contacts of several claims (items merged from runs) and one failed call must not leave the
 * others' leases to run out. An outcome lease_lost: another run took the contact over after its lease
 * ran out, or it is no longer generating.
 */
export async function renewGenerating(context: IExecuteFunctions, contacts: readonly HeldContact[], leaseSeconds: number): Promise<StageAnswers> {
	return await eachCall(contacts, async (holder, group) => {
		const args: RenewGeneratingArgs = { p_execution_id: holder, p_state_ids: group.map((contact) => contact.stateId), p_lease_seconds: leaseSeconds };
		return await callRpc(context, 'automation_renew_generating', args);
	});
}

export interface GeneratedContact extends HeldContact {
	generation: Generation;
}

function recordedItem(contact: GeneratedContact): GenerationSuccess | GenerationFailure {
	const { generation } = contact;
	if (generation.ok) {
		return {
			state_id: contact.stateId,
			message: generation.message,
			generation_ms: generation.generationMs,
			model: generation.model,
			usage: { promptTokenCount: generation.tokens.prompt, candidatesTokenCount: generation.tokens.output, totalTokenCount: generation.tokens.total },
		};
	}
	return {
		state_id: contact.stateId,
		error_code: generation.code,
		// With what to do, when there is something to say: the console shows this text.
		error_message: generation.description === undefined ? generation.message : `${generation.message} ${generation.description}`,
		retry_after_seconds: generation.retryAfterSeconds ?? null,
		generation_ms: generation.generationMs,
		model: generation.model,
	};
}

/** generating → ready_to_send / failed; answers the stage per state id (or lease_lost). */
export async function recordGenerations(context: IExecuteFunctions, contacts: readonly GeneratedContact[]): Promise<StageAnswers> {
	return await eachCall(contacts, async (holder, group) => {
		const args: RecordGenerationArgs = { p_execution_id: holder, p_items: group.map(recordedItem) };
		return await callRpc(context, 'automation_record_generation', args);
	});
}
