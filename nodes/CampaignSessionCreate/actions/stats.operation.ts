// stats: a campaign's live numbers (sessions, contacted, statuses, messages, calls, objectives
// reached by kind), computed by one SQL query.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { callRpc } from '../../shared/supabase';
import { CAMPAIGN_ID_PATTERN, isCampaignId } from '../../shared/valid-input';
import { readOwner } from '../helpers/owner';
import { OUTPUT } from '../helpers/outputs';
import { perItem, type Routed } from '../../shared/per-item';
import { invalidRequest, shown, type Problem } from '../helpers/problems';

const properties: INodeProperties[] = [
	{
		displayName: 'Campaign',
		name: 'campaignId',
		type: 'resourceLocator',
		// By default the campaign of the request (the stats webhook's path) or of the item a Create
		// Sessions node made, as before this parameter offered a list.
		default: { mode: 'id', value: '={{ $json.params?.campaignId ?? $json.campaign ?? "" }}' },
		required: true,
		description: 'The campaign: pick it from the list (the owner\'s campaigns when Owner User ID is fixed), or its ID as returned when it was created',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				placeholder: 'Select a campaign...',
				typeOptions: { searchListMethod: 'searchCampaigns', searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. plumber-london_abc123xyz',
				validation: [{ type: 'regex', properties: { regex: CAMPAIGN_ID_PATTERN, errorMessage: 'Not a campaign ID like plumber-london_abc123xyz' } }],
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { operation: ['stats'] } }, properties);

async function statsOne(context: IExecuteFunctions, itemIndex: number): Promise<Routed[]> {
	const problems: Problem[] = [];
	const ownerResult = readOwner(context, itemIndex);
	if ('problem' in ownerResult) problems.push(ownerResult.problem);
	// The resource locator's value, or the plain string of a workflow saved before it was one.
	const campaignId = String(context.getNodeParameter('campaignId', itemIndex, '', { extractValue: true }) ?? '').trim();
	if (!isCampaignId(campaignId)) {
		problems.push({ path: 'campaignId', message: `is not a campaign ID like plumber-london_abc123xyz (got ${shown(campaignId)})` });
	}
	if (problems.length || 'problem' in ownerResult) return [{ output: OUTPUT.stats.invalid, json: invalidRequest(400, problems) }];
	const { owner } = ownerResult;
	const stats = await callRpc(context, 'campaign_session_stats', { p_owner: owner, p_campaign: campaignId }, itemIndex);
	if (!stats) {
		return [{ output: OUTPUT.stats.invalid, json: invalidRequest(404, [{ path: 'campaignId', message: `no campaign ${shown(campaignId)} for this owner` }]) }];
	}
	return [{ output: OUTPUT.stats.stats, json: stats }];
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 2, (itemIndex) => statsOne(this, itemIndex), OUTPUT.stats.invalid);
}
