// The per-item loop our operations share: parameters are read per item, each result goes to the
// output the operation chooses, every output item carries `pairedItem`, and "Continue On Fail"
// turns a failing item into an item with `error` on the first output.
import { NodeApiError, NodeOperationError, type IDataObject, type IExecuteFunctions, type INodeExecutionData } from 'n8n-workflow';

export interface Routed {
	output: number;
	json: IDataObject;
}

export async function perItem(
	context: IExecuteFunctions,
	outputCount: number,
	handle: (itemIndex: number) => Promise<Routed[]>,
): Promise<INodeExecutionData[][]> {
	const outputs: INodeExecutionData[][] = Array.from({ length: outputCount }, () => []);
	const items = context.getInputData();
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			for (const routed of await handle(itemIndex)) {
				outputs[routed.output].push({ json: routed.json, pairedItem: { item: itemIndex } });
			}
		} catch (error) {
			if (context.continueOnFail()) {
				outputs[0].push({ json: { error: error instanceof Error ? error.message : String(error) }, pairedItem: { item: itemIndex } });
				continue;
			}
			if (error instanceof NodeOperationError || error instanceof NodeApiError) throw error;
			throw new NodeOperationError(context.getNode(), error as Error, { itemIndex });
		}
	}
	return outputs;
}
