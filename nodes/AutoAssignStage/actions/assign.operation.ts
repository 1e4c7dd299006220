// assign: a batch of analysed contacts (Analyze's output) placed in their pipelines in one database
// call (pipeline_assign): each comes out assigned, moved, kept or skipped (with the reason: e.g.
// already_applied for an analysis the place already holds, pipeline_has_no_stages for a pipeline
// with no stages yet, which fails nothing else of the batch) and the priority that decided it.
// Every item is checked before the call, so bad input writes nothing. Not as an AI agent's tool: it
// reads Analyze's output items, which a tool's item (what $fromAI asked) is not; an agent uses Move.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { AnalysedContact, LeadStatus, UpdateMode } from '../../shared/contract';
import { refuseAsTool } from '../../shared/outputs';
import { callRpc } from '../../shared/supabase';
import { LEAD_STATUSES } from '../helpers/analysis';
import { applyStageChanges } from '../helpers/stageChanges';
import { automationsProperties, checkUuid, invalid, pipelineProperty, readPipelineId } from '../helpers/common';


const properties: INodeProperties[] = [
	pipelineProperty('Place every contact in this pipeline; empty: the item\'s pipeline_id, else its Page\'s pipeline'),
	{
		displayName: 'Update Mode',
		name: 'updateMode',
		type: 'options',
		default: 'page',
		options: [
			{ name: 'As the Page Is Set', value: 'page', description: 'The Page\'s setting in pipeline_page_settings (skip contacts already placed, unless set otherwise)' },
			{ name: 'Skip Contacts Already Placed', value: 'SKIP_EXISTING' },
			{ name: 'Re-Evaluate Contacts Already Placed', value: 'UPDATE_EXISTING' },
		],
		description: 'What to do with a contact that already has a stage',
	},
	...automationsProperties,
];

export const description = updateDisplayOptions({ show: { operation: ['assign'] } }, properties);

const isPercent = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100;
const optionalText = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : null);

function readContact(context: IExecuteFunctions, json: IDataObject, itemIndex: number, pipelineId: string | null, updateMode: UpdateMode | null): AnalysedContact {
	const conversationId = checkUuid(context, json.conversation_id, 'conversation_id', 'conversation_id', itemIndex, 'Feed the node Analyze\'s output: each item needs conversation_id (an id of messenger_conversations).');
	if (!isPercent(json.lead_score)) {
		throw invalid(context, itemIndex, `lead_score must be a whole number from 0 to 100 (got ${JSON.stringify(json.lead_score ?? null)})`, 'Feed the node Analyze\'s output, or map a score from 0 to 100.');
	}
	const status = json.lead_status === undefined || json.lead_status === null ? null : String(json.lead_status).toUpperCase();
	if (status !== null && !LEAD_STATUSES.includes(status as LeadStatus)) {
		throw invalid(context, itemIndex, `lead_status "${String(json.lead_status)}" is not a lead status`, `Use one of ${LEAD_STATUSES.join(', ')}, or leave it out.`);
	}
	if (json.confidence !== undefined && json.confidence !== null && !(typeof json.confidence === 'number' && json.confidence >= 0 && json.confidence <= 100)) {
		throw invalid(context, itemIndex, `confidence must be a number from 0 to 100 (got ${JSON.stringify(json.confidence)})`, 'Feed the node Analyze\'s output, or leave confidence out.');
	}
	const itemPipeline = pipelineId ?? checkUuid(context, json.pipeline_id, 'pipeline_id', 'pipeline_id', itemIndex, 'Use an id of pipelines, or leave pipeline_id out for the Page\'s pipeline.', true);
	return {
		conversation_id: conversationId,
		lead_score: json.lead_score as number,
		lead_status: status as LeadStatus | null,
		recommended_stage: optionalText(json.recommended_stage),
		summary: optionalText(json.summary),
		confidence: typeof json.confidence === 'number' ? json.confidence : null,
		reasoning: optionalText(json.reasoning),
		model: optionalText(json.model),
		is_fallback: json.fallback === true || json.is_fallback === true,
		last_message_at: optionalText(json.last_message_at),
		pipeline_id: itemPipeline,
		update_mode: updateMode,
	};
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	refuseAsTool(
		this,
		'Assign',
		'Assign places the contacts Analyze scored, read from the items Analyze outputs (conversation_id, lead_score, recommended_stage…), which a tool\'s call does not carry. To put a contact in a stage, use Move (the contact\'s conversation_id, the stage\'s name or ID, and why).',
	);
	const items = this.getInputData();
	return await applyStageChanges(
		this,
		(itemIndex) => {
			const mode = this.getNodeParameter('updateMode', itemIndex, 'page') as string;
			return readContact(this, items[itemIndex].json, itemIndex, readPipelineId(this, itemIndex), mode === 'page' ? null : (mode as UpdateMode));
		},
		async (contacts) => await callRpc(this, 'pipeline_assign', { p_items: contacts }),
	);
}
