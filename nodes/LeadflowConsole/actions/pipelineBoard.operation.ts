// pipelineBoard: the console's Pipeline tab (console_pipeline_board): the pipelines to pick from and,
// for the chosen one, its stages in order with their counts, mean time in stage and one page of
// cards each; each stage paged on by its own offset (offsets=<stage id>:<offset>,…; the older
// stageId + offset pages one stage); a search of name or Messenger ID. An unknown pipeline answers
// the list with not_found (the page picks another; the workflow answers 404). Owner ID keeps the
// answer to one owner: that owner's pipelines listed, another owner's pipeline not found like an
// unknown one (the database checks it, migration …2671); as an AI agent's tool it must be given
// (tool-owner.ts): before 6 December 2026 a tool listed every owner's pipelines and read any board.
import { NodeOperationError, updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { perItem } from '../../shared/per-item';
import { callRpc } from '../../shared/supabase';
import { optionalUuid, refusedParameter, textParameter, wholeNumber } from './rule-input';
import { readConsoleOwner } from './tool-owner';

const properties: INodeProperties[] = [
	{
		displayName: 'Owner ID',
		name: 'userId',
		type: 'string',
		default: '',
		description:
			'Only this owner\'s pipelines (a Supabase user ID): the list is theirs, and a pipeline of another owner is not found. Empty: every owner\'s (the console\'s picker), in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Pipeline ID',
		name: 'pipelineId',
		type: 'string',
		default: '={{ $json.query?.pipelineId ?? \'\' }}',
		description: 'The pipeline to show (the ID column of pipelines); empty for the list of pipelines only',
	},
	{
		displayName: 'Cards per Stage',
		name: 'limit',
		type: 'string',
		default: '={{ $json.query?.limit ?? \'20\' }}',
		description: 'How many cards each stage answers, 1 to 200',
	},
	{
		displayName: 'Paged Stage ID',
		name: 'stageId',
		type: 'string',
		default: '={{ $json.query?.stageId ?? \'\' }}',
		description: 'The stage whose cards start at the offset; the other stages answer their first page',
	},
	{
		displayName: 'Offset',
		name: 'offset',
		type: 'string',
		default: '={{ $json.query?.offset ?? \'0\' }}',
		description: 'How many of the paged stage\'s cards to pass over (0 for its first page)',
	},
	{
		displayName: 'Stage Offsets',
		name: 'offsets',
		type: 'string',
		default: '={{ $json.query?.offsets ?? \'\' }}',
		description: 'Where each paged stage\'s cards start, as stage ID:offset pairs separated by commas (e.g. the Qualified stage\'s ID, a colon and 20); the stages not named answer their first page. Use this or Paged Stage ID, not both.',
	},
	{
		displayName: 'Search',
		name: 'search',
		type: 'string',
		default: '={{ $json.query?.search ?? \'\' }}',
		description: 'Only cards whose name or Messenger ID contains this text',
	},
	{
		displayName: 'Known Version',
		name: 'known',
		type: 'string',
		default: '={{ $json.query?.known ?? \'\' }}',
		description: 'The version of the board the caller shows (the last answer\'s version): when nothing but the clock moved, the answer is { unchanged: true } instead of the board',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['pipelineBoard'] } }, properties);


const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const OFFSETS = '<stage ID>:<offset> pairs separated by commas (each offset a whole number from 0 to 1000000), or nothing';

/** offsets=<stage ID>:<offset>,… as { stage ID: offset } (null when empty); a malformed pair is refused naming it (field: offsets). */
function stageOffsets(context: IExecuteFunctions, i: number): Record<string, number> | null {
	const raw = textParameter(context, 'offsets', i).trim();
	if (!raw) return null;
	const hint = 'Send offsets as <stage ID>:<offset> pairs separated by commas, each stage an id of the board\'s stages and each offset a whole number from 0 to 1000000 (e.g. offsets=<stage ID>:20).';
	const pairs = raw.split(',');
	if (pairs.length > 200) {
		throw refusedParameter(context, 'offsets', i, `offsets names ${pairs.length} stages: at most 200`, hint, OFFSETS);
	}
	const offsets: Record<string, number> = {};
	for (const pair of pairs) {
		const match = /^\s*([^:\s]+)\s*:\s*(\d{1,7})\s*$/.exec(pair);
		if (!match || !UUID.test(match[1]) || Number(match[2]) > 1_000_000) {
			throw refusedParameter(context, 'offsets', i, `offsets: "${pair.trim().slice(0, 60)}" is not a <stage ID>:<offset> pair`, hint, OFFSETS);
		}
		const stage = match[1].toLowerCase();
		if (stage in offsets) {
			throw refusedParameter(context, 'offsets', i, `offsets names the stage ${stage} twice`, hint, OFFSETS);
		}
		offsets[stage] = Number(match[2]);
	}
	return offsets;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (i) => {
		const owner = readConsoleOwner(this, i, { purpose: 'whose pipelines to read', without: 'reads no board' });
		const pipelineId = optionalUuid(this, 'pipelineId', 'pipeline ID', i, 'Use the id of one of the pipelines the board lists (GET …/api/pipeline without pipelineId), or leave it out for the list.');
		const stageId = optionalUuid(this, 'stageId', 'paged stage ID', i, 'Use the id of one of the pipeline\'s stages, as the board answers them (GET …/api/pipeline?pipelineId=…), or leave it out.');
		const search = textParameter(this, 'search', i);
		if (search.length > 200) {
			throw refusedParameter(this, 'search', i, `The search must be at most 200 characters (got ${search.length})`, 'Send a shorter search, at most 200 characters: a part of a name or an id finds it.', 'a search of at most 200 characters');
		}
		const known = textParameter(this, 'known', i).toLowerCase();
		if (known && !/^[0-9a-f]{32}$/.test(known)) {
			throw refusedParameter(
				this,
				'known',
				i,
				`The known version "${known.slice(0, 40)}" is not a version of the board (32 hexadecimal digits)`,
				'Send back the version of the last answer, or leave known out for the whole board.',
				'the version of the last answer (32 hexadecimal digits), or nothing for the whole board',
			);
		}
		const offsets = stageOffsets(this, i);
		if (offsets && stageId) {
			throw new NodeOperationError(this.getNode(), 'offsets and stageId are two ways to page: send one of them', {
				itemIndex: i,
				description: 'Put the stage\'s offset into offsets (<stage ID>:<offset>) and leave stageId and offset out.',
			});
		}
		const args = {
			p_pipeline_id: pipelineId,
			p_limit: wholeNumber(this, 'limit', 'The cards per stage (limit)', i, 1, 200, 20),
			p_stage_id: stageId,
			p_offset: wholeNumber(this, 'offset', 'The offset', i, 0, 1_000_000, 0),
			p_search: search || null,
			p_known: known || null,
			// Only when given: the call of a board without it is the one the database has always taken.
			...(offsets ? { p_offsets: offsets } : {}),
			// Only when given: the console's Pipeline tab reads every owner's without it.
			...(owner ? { p_user_id: owner } : {}),
		};
		const board = await callRpc(this, 'console_pipeline_board', args, i);
		if (board) return [{ output: 0, json: { ...board } as unknown as IDataObject }];
		// The pipeline is gone (or was never there): the list, so the page can pick another.
		const list = await callRpc(this, 'console_pipeline_board', { p_pipeline_id: null, ...(owner ? { p_user_id: owner } : {}) }, i);
		return [{
			output: 0,
			json: { ...list, not_found: true, error: `There is no pipeline with ID ${pipelineId}: pick one of the pipelines listed` } as unknown as IDataObject,
		}];
	});
}
