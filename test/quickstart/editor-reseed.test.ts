// `npm run editor` after `npm run demo` (the README's order) seeds the demo's data sets again on
// the kept `.stack/`. The earlier starts' demo owners are retired first, so the console (and the
// database) shows one set: one owner's rules, pipeline and queue settings, the Page that owner's,
// never the same rules twice nor contacts "on another owner's Page".
import { Client } from 'pg';
import { startSimulators, type RunningSimulators } from '../../simulators';
import { startStack, type RunningStack } from '../../stack';
import { runFollowUpDemo } from '../../scripts/demo/follow-up';
import { runPipelineDemo } from '../../scripts/demo/pipeline';
import { runQueueDemo } from '../../scripts/demo/queue';
import { seedEditorData } from '../../scripts/editor/data';

let stack: RunningStack | undefined;
let simulators: RunningSimulators | undefined;

beforeAll(async () => {
	stack = await startStack({ fast: true });
	simulators = await startSimulators({});
}, 120_000);

afterAll(async () => {
	await simulators?.stop();
	await stack?.stop();
});

test('the demo run, then the editor\'s seeding on the same database: one demo owner left, its rules, pipeline and queue settings, and the Page', async () => {
	// What `npm run demo` leaves: its data sets run through (sends, executions, histories, the queue's ledger).
	const demo = await runFollowUpDemo(stack!, simulators!);
	await runPipelineDemo(stack!, simulators!, demo.dataSet);
	await runQueueDemo(stack!, simulators!, demo.dataSet);
	const second = await seedEditorData(stack!, simulators!);
	expect(second.dataSet.owner.userId).not.toBe(demo.dataSet.owner.userId);

	const db = new Client({ connectionString: stack!.dbUrl });
	await db.connect();
	try {
		const owners = async (table: string) =>
			(await db.query<{ user_id: string }>(`select distinct user_id::text from public.${table} order by 1`)).rows.map((row) => row.user_id);
		const only = [second.dataSet.owner.userId];
		expect(await owners('ai_automation_rules')).toEqual(only);
		expect(await owners('pipelines')).toEqual(only);
		expect(await owners('user_queue_settings')).toEqual(only);
		expect(await owners('messenger_conversations')).toEqual(only);
		expect(await owners('messenger_pages')).toEqual(only);
		const { rows: names } = await db.query<{ name: string }>('select name from public.ai_automation_rules order by name');
		expect(names.map((row) => row.name)).toEqual(second.dataSet.rules.map((rule) => rule.name).sort());
		const { rows: users } = await db.query<{ id: string }>(`select id::text from auth.users where email like 'demo-%@leadflow.demo'`);
		expect(users.map((row) => row.id)).toEqual(only);
	} finally {
		await db.end();
	}
}, 180_000);
