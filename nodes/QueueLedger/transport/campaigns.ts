// The campaign whose sessions become leads: the app names a campaign by its campaign ID
// (campaign_info.name_uid, "plumber-london_abc123xyz", what the list offers); queue_add_leads_from_crm
// takes its row id. One read of campaign_info, the owner's row only.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';
import { getSupabaseClient, toNodeApiError } from '../../shared/supabase';
import { isCampaignId, UUID } from '../../shared/valid-input';

export async function campaignRowId(context: IExecuteFunctions, owner: string, campaign: string, itemIndex: number): Promise<string> {
	if (UUID.test(campaign)) return campaign.toLowerCase();
	if (!isCampaignId(campaign)) {
		throw new NodeOperationError(context.getNode(), `The campaign "${campaign}" is not a campaign ID`, {
			itemIndex,
			description: 'Pick the campaign from the list, or give its campaign ID like plumber-london_abc123xyz (or the id column of campaign_info).',
		});
	}
	const client = await getSupabaseClient(context);
	const { data, error } = await client.from('campaign_info').select('id').eq('user_id', owner).eq('name_uid', campaign).maybeSingle();
	if (error) throw toNodeApiError(context, error, 'Reading the campaign failed', itemIndex);
	if (!data) {
		throw new NodeOperationError(context.getNode(), `The owner has no campaign "${campaign}"`, {
			itemIndex,
			description: 'Check the campaign ID and the Owner User ID: a campaign belongs to one owner.',
		});
	}
	return (data as { id: string }).id;
}
