// What `npm run editor` prints once n8n is ready (and, with --json, the one line it writes on stdout).
// The text is made here, from what was imported, so that a test can read it without starting n8n:
// it names the follow-up workflow (the one whose webhook is the printed curl line's) as the one to
// run, the console's address with its key, the demo data each workflow finds (the follow-up rules,
// the pipeline's conversations, today's queue, the Page's older conversations) with, on a kept
// database, that the next start deletes this demo owner and its data, and every schedule the
// editor's copies have switched off, workflow by workflow.
import type { EditorCopy } from './workflows';

/** What `--json` prints on stdout, on one line, once everything is ready. */
export interface EditorReady {
	editorUrl: string;
	/** The console (workflows/leadflow-console.json) with the webhook key in the fragment (docs/console.md). */
	consoleUrl: string;
	login: { email: string; password: string };
	/** The curl line printed for people, and the same call spelled out. */
	curl: string;
	trigger: { method: string; url: string; headers: Record<string, string>; body: Record<string, unknown> };
	workflows: Array<{ id: string; name: string; file: string; active: boolean }>;
	rules: Array<{ name: string; ruleId: string }>;
	/** The demo owner (X-Leadflow-Owner for the webhooks that take one) and the Page of its follow-up contacts. */
	ownerId: string;
	pageId: string;
	/** The CRM pipeline's conversations, due an analysis (Analyse Now). */
	pipeline: { name: string; pageId: string; conversations: number };
	/** The leads added and today's queue prepared (the owner's day, UTC). */
	queue: { leads: number; refused: number; day: string; queued: number };
	/** Conversations of the Page on the Graph simulator not yet in the database (Sync Now). */
	olderConversations: number;
	supabaseUrl: string;
	geminiBaseUrl: string;
	graphBaseUrl: string;
	n8nUserFolder: string;
}

export interface ReadyTextInput {
	ready: EditorReady;
	/** The editor's copies of the shipped workflows, as imported. */
	copies: EditorCopy[];
	/** The follow-up workflow: the one the curl line calls (`leadflow/trigger`). */
	followUpWorkflowId: string;
	/** Where the stack keeps its data, said in words. */
	data: string;
	/**
	 * A throwaway database (`--temporary`), removed on stop; else a kept one (`.stack/`), where the next
	 * start of the demo or the editor deletes this start's demo owner with its data (scripts/demo/data-set.ts).
	 */
	temporary: boolean;
}

const nameOf = (copy: EditorCopy) => String(copy.workflow.name ?? copy.workflow.id);

export function readyText({ ready, copies, followUpWorkflowId, data, temporary }: ReadyTextInput): string {
	const followUp = copies.find((copy) => copy.workflow.id === followUpWorkflowId);
	if (!followUp) throw new Error(`The follow-up workflow ${followUpWorkflowId} is not among the imported workflows.`);
	const paused = copies.filter((copy) => copy.pausedSchedules.length > 0);
	const lines = [
		'',
		`n8n's editor is ready: ${ready.editorUrl}`,
		`  Email     ${ready.login.email}`,
		`  Password  ${ready.login.password}`,
		`The Leadflow console (the webhook key in the address's #key=, never sent to n8n): ${ready.consoleUrl}`,
		'',
		'Workflows (this package\'s nodes on the canvas, the credentials below selected):',
		...ready.workflows.map((workflow) => `  ${workflow.active ? 'active  ' : 'inactive'}  ${workflow.name}   (${workflow.file})`),
	];
	if (followUp.pinnedTrigger) {
		lines.push(
			'',
			`In "${nameOf(followUp)}", press Execute workflow: ${followUp.pinnedTrigger} starts it at once with pinned test data`,
			'(the body {}: every enabled rule); the canvas shows the contacts claimed and written to, and Send Batch\'s outcomes.',
			'The sends run in a sub-execution of the same workflow (When Sending A Batch → Facebook Send): open it from the Executions tab.',
			'Each due contact is sent once: a second run finds nothing due.',
		);
	}
	if (paused.length > 0) {
		const width = Math.max(...paused.map((copy) => copy.pausedSchedules.join(', ').length));
		lines.push(
			'',
			'Schedules switched off in the editor\'s copies, so that nothing runs by itself while you look (your own import has them on;',
			'switch one on and publish to let n8n run it):',
			...paused.map((copy) => `  ${copy.pausedSchedules.join(', ').padEnd(width)}   ${nameOf(copy)}`),
			`Their webhook triggers (${paused.map((copy) => copy.pinnedTrigger).join(', ')}) carry pinned test data instead: Execute workflow runs`,
			'each at once, as a call with the body {} and no X-Leadflow-Owner header would: every owner (the follow-up: every enabled rule).',
		);
	}
	lines.push(
		'',
		`The same from a shell, through the production webhook of "${nameOf(followUp)}" (Header Auth):`,
		`  ${ready.curl}`,
		'',
		`Demo data (as \`npm run demo\` seeds it), for the owner ${ready.ownerId} (X-Leadflow-Owner):`,
		// Said before the data, where it is read before any work is done under this owner.
		...(temporary ? [] : [
			'  (the next `npm run demo` or `npm run editor` on this data deletes this owner with everything under it, what you add',
			'  included, as this start deleted the earlier demo owners\' data: keep work of your own under another owner)',
		]),
		`  follow-up rules on Page ${ready.pageId}: ${ready.rules.map((rule) => `${rule.name} (${rule.ruleId})`).join('; ')}`,
		`  CRM pipeline "${ready.pipeline.name}": ${ready.pipeline.conversations} conversations on Page ${ready.pipeline.pageId} due an analysis (Analyse Now places them; the model's answers are scripted in the Gemini simulator)`,
		`  lead queue: ${ready.queue.leads} leads (${ready.queue.refused} refused), today's queue (${ready.queue.day}) of ${ready.queue.queued} messages (Run Now sends those due by now; Prepare Now makes tomorrow's)`,
		`  Page ${ready.pageId} connected, with ${ready.olderConversations} older conversations on the Graph simulator for Sync Now`,
		`Credentials in n8n: Leadflow Supabase (${ready.supabaseUrl}), Leadflow Gemini (simulator ${ready.geminiBaseUrl}),`,
		`  Leadflow Facebook Page and Leadflow WhatsApp (simulator ${ready.graphBaseUrl}), Leadflow Webhook Key (header ${Object.keys(ready.trigger.headers)[0]}).`,
		`Data: ${data}; n8n's folder ${ready.n8nUserFolder} (removed on stop).`,
		'',
		'Running. Press Ctrl-C to stop n8n, the stack and the simulators.',
	);
	return lines.join('\n');
}
