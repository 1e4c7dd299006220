// claimAutomations: hand out the webhook and notify actions waiting in the outbox, whatever change
// fired them: a sweep for what a crashed execution left behind once its lease ran out, a retry
// whose time came, or actions of changes made with Hand Out Automations off. One claim per run
// (FOR UPDATE SKIP LOCKED and a lease), so overlapping runs never get the same action.
import { updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { refuseAsTool } from '../../shared/outputs';
import { CLAIM_LIMIT, deliveryProperties, handOutAutomations, readDelivery } from '../helpers/automations';
import { readWholeNumber } from '../../shared/valid-input';
import { asNodeError, failedItem } from '../../shared/per-item';
import { AUTOMATIONS, CONTACTS, OUTPUT_COUNT } from '../helpers/common';
import { readOwnerId } from '../../shared/owner-id';

const properties: INodeProperties[] = [
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: CLAIM_LIMIT },
		default: 50,
		description: 'Max number of results to return',
	},
	{
		displayName: 'Owner User ID',
		name: 'ownerUserId',
		type: 'string',
		default: '',
		placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f',
		description: 'Only this Supabase user\'s actions; empty: every owner\'s (the credential\'s service role sees them all)',
	},
	...deliveryProperties({}),
];

export const description = updateDisplayOptions({ show: { operation: ['claimAutomations'] } }, properties);

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const outputs: INodeExecutionData[][] = Array.from({ length: OUTPUT_COUNT }, () => []);
	// Handing out marks actions claimed or delivered; an agent cannot deliver a webhook or notify
	// action for the workflow it was meant for, so it would be lost.
	refuseAsTool(
		this,
		'Claim Automations',
		'It hands webhook and notify actions out for a workflow to deliver, which an agent cannot do: run it in a workflow (the shipped auto-assign.json does, every 15 minutes). Assign and Move used as tools leave their actions waiting for it.',
	);
	if (this.getInputData().length === 0) return outputs;
	try {
		const limit = readWholeNumber(this, 'limit', 0, { label: 'Limit', min: 1, max: CLAIM_LIMIT, fallback: 50, hint: 'Give how many waiting actions to hand out at most, or leave it empty for 50.', setting: true });
		const owner = readOwnerId(this, 0, 'Use the id of the Supabase user whose actions to hand out, or leave it empty for every owner.', true);
		outputs[AUTOMATIONS].push(...(await handOutAutomations(this, 0, null, { ...readDelivery(this), limit, owner })));
	} catch (error) {
		// With Continue On Fail (or an error output) the failure leaves as one failed item with its
		// message: thrown, n8n would pass the input item on to the Contacts output as if nothing failed.
		if (!this.continueOnFail()) throw asNodeError(this, error, 0);
		outputs[CONTACTS].push(failedItem(this, error, { item: 0 }));
	}
	return outputs;
}
