// stats: a campaign's live numbers (sessions, contacted, statuses, messages, calls, objectives
// reached by kind), computed by one SQL query.
import { updateDisplayOptions, type IDataObject, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { callRpc } from '../../shared/supabase';
import { isCampaignId } from '../helpers/campaignId';
import { readOwner } from '../helpers/owner';
import { OUTPUT } from '../helpers/outputs';
import { perItem, type Routed } from '../../shared/per-item';
import { invalidRequest, shown, type Problem } from '../helpers/problems';

const properties: INodeProperties[] = [
	{
		displayName: 'Campaign ID',
		name: 'campaignId',
		type: 'string',
		default: '={{ $json.params?.campaignId ?? $json.campaign ?? "" }}',
		required: true,
		placeholder: 'plumber-london_abc123xyz',
		description: 'The campaign\'s ID, as returned when it was created',
	},
];

export const description = updateDisplayOptions({ show: { operation: ['stats'] } }, properties);

async function statsOne(context: IExecuteFunctions, itemIndex: number): Promise<Routed[]> {
	const problems: Problem[] = [];
	const ownerResult = readOwner(context, itemIndex);
	if ('problem' in ownerResult) problems.push(ownerResult.problem);
	const campaignId = String(context.getNodeParameter('campaignId', itemIndex, '') ?? '').trim();
	if (!isCampaignId(campaignId)) {
		problems.push({ path: 'campaignId', message: `is not a campaign ID like plumber-london_abc123xyz (got ${shown(campaignId)})` });
	}
	if (problems.length || 'problem' in ownerResult) return [{ output: OUTPUT.stats.invalid, json: invalidRequest(400, problems) }];
	const { owner } = ownerResult;
	const stats = await callRpc<IDataObject | null>(context, 'campaign_session_stats', { p_owner: owner, p_campaign: campaignId }, itemIndex);
	if (!stats) {
		return [{ output: OUTPUT.stats.invalid, json: invalidRequest(404, [{ path: 'campaignId', message: `no campaign ${shown(campaignId)} for this owner` }]) }];
	}
	return [{ output: OUTPUT.stats.stats, json: stats }];
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 2, (itemIndex) => statsOne(this, itemIndex));
}
