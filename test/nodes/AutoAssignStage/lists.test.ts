// The editor's lists behind AutoAssignStage's pipeline and stage resource locators, through n8n's
// engine as the editor calls them, against the local stack.
import { randomUUID } from 'node:crypto';
import { listSearch, type TestCredentials } from '../../harness';
import { testStack } from '../../helpers/stack';
import { createPipelineWorld, type PipelineWorld } from '../../db/pipelines/fixtures';

const NODE = 'n8n-nodes-leadflow.autoAssignStage';
const credentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

let world: PipelineWorld;
let token: string;
let other: { id: string; stages: Record<string, string> };

beforeAll(async () => {
	world = await createPipelineWorld();
	token = randomUUID().slice(0, 8);
	other = await world.addPipeline(`Renewals ${token}`, [{ name: `Due ${token}` }, { name: `Renewed ${token}` }]);
});

it('searchPipelines finds a pipeline by part of its name', async () => {
	const page = await listSearch({ nodeType: NODE, parameters: { operation: 'move' }, credentials: credentials() }, 'searchPipelines', `renewals ${token}`);
	expect(page.results).toEqual([{ name: `Renewals ${token}`, value: other.id }]);
});

it('searchStages lists the chosen pipeline\'s stages in order, each naming its pipeline', async () => {
	const parameters = { operation: 'move', pipelineId: { __rl: true, mode: 'id', value: other.id } };
	const page = await listSearch({ nodeType: NODE, parameters, credentials: credentials() }, 'searchStages');
	expect(page.results).toEqual([
		{ name: `Due ${token}`, value: other.stages[`Due ${token}`], description: `In Renewals ${token}` },
		{ name: `Renewed ${token}`, value: other.stages[`Renewed ${token}`], description: `In Renewals ${token}` },
	]);
	const filtered = await listSearch({ nodeType: NODE, parameters, credentials: credentials() }, 'searchStages', 'renewed');
	expect(filtered.results.map((stage) => stage.value)).toEqual([other.stages[`Renewed ${token}`]]);
});
