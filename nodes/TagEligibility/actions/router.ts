// Dispatches to the operation chosen in the node (one file per operation, like n8n's Postgres v2).
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import * as claim from './claim.operation';
import * as explain from './explain.operation';
import * as snapshot from './snapshot.operation';
import * as timeline from './timeline.operation';

const operations = { claim, explain, snapshot, timeline };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as string;
	const chosen = operations[operation as keyof typeof operations];
	if (!chosen) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`, {
			description: 'Choose Claim, Explain, Snapshot or Timeline.',
		});
	}
	return [await chosen.execute.call(this, items)];
}
