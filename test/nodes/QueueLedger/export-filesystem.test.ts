// A large Export in n8n's filesystem binary data mode (n8n's default): 2,500 messages read from the
// database in three keyset pages of 1,000 and streamed into a file in the binary data store as they
// come (the item holds a reference, not the file), every row once, in item order.
import { Container } from '@n8n/di';
import { BinaryDataService } from 'n8n-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testStack } from '../../helpers/stack';
import { startRpcCounter, type RpcCounter } from '../FacebookSend/support/rpc-counter';
import { exported, exportParameters } from './support/export';
import { leadsOf, prepareAsOf, queueOwner } from './support/queue';

const storage = mkdtempSync(path.join(tmpdir(), 'leadflow-binary-'));
let counter: RpcCounter;

beforeAll(async () => {
	// Read when n8n's binary data service is first made, here: no other test of this file made it before.
	process.env.N8N_BINARY_DATA_STORAGE_PATH = storage;
	await Container.get(BinaryDataService).init();
	counter = await startRpcCounter(testStack().supabaseUrl);
});

afterAll(async () => {
	await counter.stop();
	rmSync(storage, { recursive: true, force: true });
});

test('2,500 messages: three keyset pages from the database, streamed to a file the item refers to; every row once', async () => {
	const owner = await queueOwner({ daily_capacity: 5000 });
	for (let batch = 0; batch < 3; batch++) await leadsOf(owner, batch < 2 ? 1000 : 500, (index) => `Lead ${batch}-${index}`);
	const prepared = await prepareAsOf(owner, 2);
	expect(prepared.queued).toBe(2500);

	counter.reset();
	const { json, binary, records } = await exported(exportParameters(owner, prepared.day, prepared.day), {
		leadflowSupabaseApi: { url: counter.url, serviceRoleKey: testStack().serviceRoleKey },
	});
	expect(counter.paths.filter((one) => one === '/rest/v1/rpc/queue_export')).toHaveLength(3);
	expect(binary.id).toMatch(/^filesystem(-v2)?:/);
	expect(binary.data).not.toMatch(/,/);
	expect(json.rows).toBe(2500);
	expect(records).toHaveLength(2501);
	const ids = records.slice(1).map((row) => row[0]);
	expect(new Set(ids).size).toBe(2500);
	expect([...ids].sort()).toEqual(ids);
});
