// What `npm run editor` prints once n8n is ready (scripts/editor/ready.ts), made from the editor's
// copies of the shipped workflows as it imports them, without starting n8n: the README sends people
// to the follow-up workflow, so the line saying which workflow to run with *Execute workflow* must
// name that one (it named the first in alphabetical order with pinned data, auto-assign, which sends
// nothing), and every schedule the copies switch off must be said, workflow by workflow. It gives the
// console's address with its key in its fragment, and the demo data the other workflows find, with, on a
// kept database, that the next start deletes the demo owner and what is added under it.
import type { EditorReady } from '../../scripts/editor/ready';
import { readyText } from '../../scripts/editor/ready';
import { editorCopy, findWebhook, shippedWorkflows } from '../../scripts/editor/workflows';

const SCHEDULE_TRIGGER = 'n8n-nodes-base.scheduleTrigger';

const shipped = shippedWorkflows();
const copies = shipped.map(({ workflow }) => editorCopy(workflow));
const followUp = findWebhook(
	copies.map((copy) => copy.workflow),
	'leadflow/trigger',
)!.workflow;

const ready: EditorReady = {
	editorUrl: 'http://127.0.0.1:5678/',
	consoleUrl: 'http://127.0.0.1:5678/webhook/leadflow/console#key=demo-key',
	login: { email: 'owner@leadflow.demo', password: 'not-a-real-one' },
	curl: "curl -sS -X POST 'http://127.0.0.1:5678/webhook/leadflow/trigger'",
	trigger: { method: 'POST', url: 'http://127.0.0.1:5678/webhook/leadflow/trigger', headers: { 'X-Leadflow-Key': 'demo-key' }, body: {} },
	workflows: shipped.map(({ file, workflow }) => ({ id: workflow.id, name: String(workflow.name), file, active: true })),
	rules: [{ name: 'Webinar guests: recording link', ruleId: '00000000-0000-4000-8000-000000000001' }],
	ownerId: '00000000-0000-4000-8000-0000000000aa',
	pageId: '104857600012345',
	pipeline: { name: 'Course sales', pageId: '104857600067890', conversations: 40 },
	queue: { leads: 23, refused: 1, day: '2026-12-02', queued: 20 },
	olderConversations: 12,
	supabaseUrl: 'http://127.0.0.1:54321',
	geminiBaseUrl: 'http://127.0.0.1:54331',
	graphBaseUrl: 'http://127.0.0.1:54332',
	n8nUserFolder: '/tmp/leadflow-editor-test',
};
const text = readyText({ ready, copies, followUpWorkflowId: followUp.id, data: '/home/someone/leadflow/.stack', temporary: false });

test('the workflow to run with Execute workflow is the follow-up one the README names, from its pinned Trigger Now', () => {
	expect(followUp.name).toBe('Leadflow: follow up tagged Messenger contacts (every 5 minutes, or now)');
	const press = text.split('\n').filter((line) => line.includes('press Execute workflow'));
	expect(press).toEqual([`In "${followUp.name}", press Execute workflow: Trigger Now starts it at once with pinned test data`]);
	expect(copies.find((copy) => copy.workflow.id === followUp.id)?.pinnedTrigger).toBe('Trigger Now');
	expect(text).toContain(`through the production webhook of "${followUp.name}"`);
	// The canvas shows the parent run; Facebook Send runs in Send Batch's sub-execution, which the Executions tab lists.
	expect(text).not.toMatch(/canvas shows[^\n]*sent/);
	expect(text).toContain('The sends run in a sub-execution of the same workflow (When Sending A Batch → Facebook Send): open it from the Executions tab.');
});

test('every schedule switched off in the imported copies is said, with its workflow, and no other', () => {
	const off = copies.flatMap((copy) =>
		copy.workflow.nodes.filter((node) => node.type === SCHEDULE_TRIGGER && node.disabled).map((node) => `${node.name} ${String(copy.workflow.name)}`),
	);
	// Each shipped workflow with a schedule and a webhook: the follow-up, auto-assign and the two queue ones.
	expect(off.length).toBeGreaterThanOrEqual(4);
	const lines = text.split('\n');
	const first = lines.findIndex((line) => line.startsWith('switch one on and publish')) + 1;
	const end = lines.findIndex((line) => line.startsWith('Their webhook triggers'));
	expect(first).toBeGreaterThan(0);
	const listing = lines.slice(first, end).map((line) => line.trim().replace(/ {2,}/g, ' '));
	expect(listing.sort()).toEqual(off.sort());
	// A schedule left on would run by itself: none is, and the pinned triggers that replace them are named.
	const stillOn = copies.flatMap((copy) => copy.workflow.nodes.filter((node) => node.type === SCHEDULE_TRIGGER && !node.disabled));
	expect(stillOn).toEqual([]);
	for (const copy of copies.filter((one) => one.pausedSchedules.length > 0)) expect(text).toContain(copy.pinnedTrigger!);
});

test('the credentials line names the WhatsApp credential the queue workflows select', () => {
	expect(text).toMatch(/Leadflow Facebook Page and Leadflow WhatsApp \(simulator http:\/\/127\.0\.0\.1:54332\)/);
	const selected = new Set(shipped.flatMap(({ workflow }) => workflow.nodes.flatMap((node) => Object.values(node.credentials ?? {}).map((credential) => credential.name))));
	for (const name of selected) expect(text).toContain(name);
});

test('it gives the console\'s address with the key in its fragment, and the demo data each workflow finds', () => {
	const lines = text.split('\n');
	expect(lines).toContain('The Leadflow console (the webhook key in the address\'s #key=, never sent to n8n): http://127.0.0.1:5678/webhook/leadflow/console#key=demo-key');
	expect(text).toContain('for the owner 00000000-0000-4000-8000-0000000000aa (X-Leadflow-Owner)');
	expect(text).toContain('follow-up rules on Page 104857600012345: Webinar guests: recording link (00000000-0000-4000-8000-000000000001)');
	expect(text).toContain('CRM pipeline "Course sales": 40 conversations on Page 104857600067890 due an analysis (Analyse Now places them;');
	expect(text).toContain('lead queue: 23 leads (1 refused), today\'s queue (2026-12-02) of 20 messages (Run Now sends those due by now; Prepare Now makes tomorrow\'s)');
	expect(text).toContain('Page 104857600012345 connected, with 12 older conversations on the Graph simulator for Sync Now');
	// Each of those workflows is among the editor's copies, with the webhook trigger the text names.
	// (Sync Now is messenger-sync.json's manual trigger, beside its webhook.)
	for (const [path, trigger] of [['leadflow/auto-assign', 'Analyse Now'], ['leadflow/queue/run', 'Run Now'], ['leadflow/queue/prepare', 'Prepare Now'], ['leadflow/sync', 'Sync Now'], ['leadflow/console', undefined]] as const) {
		const found = findWebhook(copies.map((copy) => copy.workflow), path);
		expect(found).toBeDefined();
		if (trigger) expect(found!.workflow.nodes.map((node) => node.name)).toContain(trigger);
	}
});

test('on a kept database it says, before the demo owner\'s data, that the next start deletes this owner with what is added under it; not on a temporary one', () => {
	const lines = text.split('\n');
	const owner = lines.findIndex((line) => line.startsWith('Demo data (as `npm run demo` seeds it), for the owner 00000000-0000-4000-8000-0000000000aa'));
	expect(owner).toBeGreaterThan(0);
	// Right under the owner's id, before the rules, the pipeline and the queue it lists.
	expect(lines.slice(owner + 1, owner + 3).join(' ').replace(/ {2,}/g, ' ')).toBe(
		' (the next `npm run demo` or `npm run editor` on this data deletes this owner with everything under it, what you add'
		+ ' included, as this start deleted the earlier demo owners\' data: keep work of your own under another owner)',
	);
	expect(lines[owner + 3]).toMatch(/^ {2}follow-up rules on Page /);
	// A temporary database is removed on stop (the Data line says so): no next start reaches it.
	const temporary = readyText({ ready, copies, followUpWorkflowId: followUp.id, data: 'a temporary database, removed on stop', temporary: true });
	expect(temporary).not.toMatch(/deletes this owner/);
	expect(temporary).toContain('Data: a temporary database, removed on stop;');
});
