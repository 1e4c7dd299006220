// Dispatches to the operation the node is set to (one file per operation).
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';
import * as create from './create.operation';
import * as recordObjective from './recordObjective.operation';
import * as stats from './stats.operation';

const operations = { create, recordObjective, stats };

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const operation = this.getNodeParameter('operation', 0) as string;
	if (!(operation in operations)) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	}
	return await operations[operation as keyof typeof operations].execute.call(this);
}
