// The router every multi-operation node uses (n8n's Postgres v2 shape): `actions/router.ts` maps
// operation values to `actions/<operation>.operation.ts` modules, each exporting its `description`
// (properties shown for that operation) and `execute`, which returns every output of the node.
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';

export interface NodeOperation {
	description: INodeProperties[];
	execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]>;
}

/** The node's `execute`: runs the operation chosen in the node (the `operation` parameter). */
export function operationRouter(operations: Record<string, NodeOperation>) {
	return async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const operation = this.getNodeParameter('operation', 0) as string;
		const chosen = Object.prototype.hasOwnProperty.call(operations, operation) ? operations[operation] : undefined;
		if (!chosen) {
			throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`, {
				description: `Choose one of: ${Object.keys(operations).join(', ')}.`,
			});
		}
		return await chosen.execute.call(this);
	};
}
