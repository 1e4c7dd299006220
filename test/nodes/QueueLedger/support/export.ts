// Running Export in a one-node workflow and reading its file back with a real CSV parser, from the
// item's data or from n8n's binary data store (filesystem mode).
import { Container } from '@n8n/di';
import { parse } from 'csv-parse/sync';
import { BinaryDataService } from 'n8n-core';
import type { IBinaryData, IDataObject } from 'n8n-workflow';
import { runWorkflow, type TestCredentials } from '../../../harness';
import { supabaseCredentials } from './queue';

export const exportParameters = (owner: string, from: string, to: string, extra: IDataObject = {}) => ({ resource: 'report', operation: 'export', ownerUserId: owner, fromDay: from, toDay: to, ...extra });

export async function csvOf(binary: IBinaryData): Promise<string[][]> {
	const buffer = binary.id ? await Container.get(BinaryDataService).getAsBuffer(binary) : Buffer.from(binary.data, 'base64');
	return parse(buffer.toString('utf8'), { bom: true }) as string[][];
}

export async function exported(parameters: IDataObject, credentials: TestCredentials = supabaseCredentials()) {
	const result = await runWorkflow(
		{
			name: 'Export fixture',
			nodes: [
				{ id: 'e1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
				{ id: 'e2', name: 'Export', type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [200, 0], parameters, credentials: { leadflowSupabaseApi: { id: 's', name: 'S' } } },
			],
			connections: { Start: { main: [[{ node: 'Export', type: 'main', index: 0 }]] } },
			settings: { executionOrder: 'v1' },
		} as never,
		{ credentials },
	);
	expect(result.error).toBeUndefined();
	const [item] = result.run!.data.resultData.runData.Export[0].data!.main[0]!;
	return { json: item.json, binary: item.binary!.data, records: await csvOf(item.binary!.data) };
}
