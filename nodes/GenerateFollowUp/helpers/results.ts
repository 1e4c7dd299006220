// Each item's result → the node's outputs: the input's fields plus `followUp` on Generated, plus
// `error: {code, message}` on Failed (a generation that failed: quota, blocked, lease lost…), each
// with `pairedItem`; an item that failed with Continue On Fail on is the package's failed item
// (nodes/shared/per-item.ts) on Failed. Input items are never changed.
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { failedItem } from '../../shared/per-item';
import { OUTPUT } from '../description';
import type { Generation } from '../transport/generateText';

export interface ItemFailure {
	code: string;
	message: string;
	retryAfterSeconds?: number;
}

export interface ItemResult {
	generation?: Generation;
	/** A failure before or after generation (bad input, lease lost, database). */
	failure?: ItemFailure;
	/** The stage recorded in Supabase, when stages are recorded. */
	stage?: string;
	/** The error caught for this item with Continue On Fail on (bad input, the database failed). */
	caught?: unknown;
}

function followUpOf(generation: Extract<Generation, { ok: true }>): IDataObject {
	return {
		message: generation.message,
		model: generation.model,
		generationMs: generation.generationMs,
		tokens: { ...generation.tokens },
		attempts: generation.attempts,
		generatedAt: new Date().toISOString(),
		...(generation.shortened && { shortened: true }),
	};
}

function errorOf(result: ItemResult): IDataObject {
	const generation = result.generation;
	if (result.failure) return { ...result.failure };
	if (generation && !generation.ok) {
		return {
			code: generation.code,
			message: generation.message,
			...(generation.retryAfterSeconds !== undefined && { retryAfterSeconds: generation.retryAfterSeconds }),
			...(generation.status !== undefined && { status: generation.status }),
			...(generation.refusedKeys !== undefined && { refusedKeys: generation.refusedKeys }),
			...(generation.description !== undefined && { description: generation.description }),
			attempts: generation.attempts,
		};
	}
	return { code: 'unknown', message: 'The item was not generated.' };
}

export function toOutputs(context: IExecuteFunctions, items: INodeExecutionData[], results: ItemResult[]): INodeExecutionData[][] {
	const outputs: INodeExecutionData[][] = [[], []];
	items.forEach((item, itemIndex) => {
		const result = results[itemIndex] ?? {};
		if (result.caught !== undefined) {
			outputs[OUTPUT.failed].push(failedItem(context, result.caught, { item: itemIndex }));
			return;
		}
		const stage = result.stage ? { stage: result.stage } : {};
		const generation = result.generation;
		if (generation?.ok && !result.failure) {
			outputs[OUTPUT.generated].push({ json: { ...item.json, followUp: followUpOf(generation), ...stage }, pairedItem: { item: itemIndex } });
		} else {
			outputs[OUTPUT.failed].push({ json: { ...item.json, error: errorOf(result), ...stage }, pairedItem: { item: itemIndex } });
		}
	});
	return outputs;
}
