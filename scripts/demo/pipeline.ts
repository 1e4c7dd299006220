// The CRM pipeline part of `npm run demo`: seeds the demo owner's second Page (scripts/demo/
// pipeline-data.ts: 40 conversations, the pipeline New Lead / Qualified / Hot / Won / Lost, two
// automations), scripts the model's answers in the Gemini simulator, and runs the shipped workflow
// workflows/auto-assign.json through n8n's engine in-process ("Analyse Now", for the demo owner),
// twice: the first run analyses and places every contact and hands out the automations' actions,
// the second finds nothing new but asks the model again about the two placed by the fallback score
// (still refused: kept where they are). What it reports is read back from the database.
import { Client } from 'pg';
import type { IDataObject } from 'n8n-workflow';
import type { RunningSimulators } from '../../simulators';
import type { StackInfo } from '../../stack';
import { runWorkflow } from '../../test/harness';
import { WEBHOOK_KEY, type DemoDataSet } from './data-set';
import { CONTACTS, PIPELINE_NAME, PIPELINE_PAGE_ID, scriptAnalyses, seedPipelineDemo, STAGES } from './pipeline-data';

/** The workflow's answer: counts by outcome. */
export interface AutoAssignSummary {
	analysed: number;
	fallback: number;
	assigned: number;
	moved: number;
	kept: number;
	skipped: number;
	automations: number;
}

export interface StageReport {
	name: string;
	contacts: number;
	/** The first contact placed there by the model (not a fallback), with its score and the model's reasoning. */
	example?: { name: string; score: number; reasoning: string };
}

export interface PipelineDemo {
	contacts: number;
	first: AutoAssignSummary;
	second: AutoAssignSummary;
	stages: StageReport[];
	/** Contacts the model could not judge: the fallback score, and why. */
	fallbacks: Array<{ name: string; score: number; stage: string; reason: string }>;
	automations: Array<{ name: string; timesTriggered: number }>;
	runs: number;
	tagged: number;
	stopped: number;
	/** Items the Automations output carried in the first run, by kind. */
	handedOut: Record<string, number>;
	/** pipeline_outbox rows by status after both runs. */
	outbox: Record<string, number>;
	seconds: number;
}

export async function runPipelineDemo(stack: StackInfo, simulators: RunningSimulators, dataSet: DemoDataSet): Promise<PipelineDemo> {
	const started = performance.now();
	const { owner, credentials } = dataSet;
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const seeded = await seedPipelineDemo(db, owner);
		const removeScripts = await scriptAnalyses(simulators);
		const analyseNow = async () => {
			const run = await runWorkflow('workflows/auto-assign.json', {
				startNode: 'Analyse Now',
				webhook: { method: 'POST', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value, 'X-Leadflow-Owner': owner.userId }, body: {} },
				credentials,
			});
			if (run.response?.statusCode !== 200) throw new Error(`the auto-assign webhook answered ${run.response?.statusCode}: ${JSON.stringify(run.response?.body ?? run.error)}`);
			return run;
		};
		let first;
		let second;
		try {
			first = await analyseNow();
			second = await analyseNow();
		} finally {
			await removeScripts();
		}

		const handedOut: Record<string, number> = {};
		for (const item of (first.nodeBranches['Assign Stages']?.[1] ?? []) as IDataObject[]) handedOut[String(item.kind)] = (handedOut[String(item.kind)] ?? 0) + 1;
		const analysed = (first.nodeOutputs['Analyze Due Conversations'] ?? []) as IDataObject[];
		const fallbackReason = new Map(analysed.filter((item) => item.fallback === true).map((item) => [String(item.conversation_id), String(item.fallback_reason)]));

		const placed = await db.query<{ conversation_id: string; name: string; stage: string; score: number; reasoning: string; fallback: boolean }>(
			`select pc.conversation_id, c.sender_name as name, s.name as stage, pc.lead_score as score, pc.analysis_reasoning as reasoning, pc.analysis_is_fallback as fallback
			   from public.pipeline_contacts pc
			   join public.messenger_conversations c on c.id = pc.conversation_id
			   join public.pipeline_stages s on s.id = pc.stage_id
			  where pc.pipeline_id = $1
			  order by length(c.sender_name), c.sender_name`,
			[seeded.pipelineId],
		);
		const stages: StageReport[] = STAGES.map((stage) => {
			const here = placed.rows.filter((row) => row.stage === stage.name);
			const example = here.find((row) => !row.fallback);
			return { name: stage.name, contacts: here.length, ...(example && { example: { name: example.name, score: example.score, reasoning: example.reasoning } }) };
		});
		const fallbacks = placed.rows
			.filter((row) => row.fallback)
			.map((row) => ({ name: row.name, score: row.score, stage: row.stage, reason: fallbackReason.get(row.conversation_id) ?? 'unknown' }));

		const automations = await db.query<{ name: string; times_triggered: string }>(
			'select name, times_triggered from public.pipeline_automations where pipeline_id = $1 order by created_at, name',
			[seeded.pipelineId],
		);
		const counts = await db.query<{ runs: number; tagged: number; stopped: number }>(
			`select (select count(*)::int from public.pipeline_automation_runs where pipeline_id = $1) as runs,
			        (select count(*)::int from public.conversation_tags where tag_id = $2) as tagged,
			        (select count(*)::int from public.ai_automation_stops where conversation_id = any ($3::uuid[])) as stopped`,
			[seeded.pipelineId, seeded.hotTag, seeded.conversationIds],
		);
		const outbox = await db.query<{ status: string; items: number }>(
			'select status, count(*)::int as items from public.pipeline_outbox where conversation_id = any ($1::uuid[]) group by status order by status',
			[seeded.conversationIds],
		);
		return {
			contacts: CONTACTS,
			first: first.response!.body as AutoAssignSummary,
			second: second.response!.body as AutoAssignSummary,
			stages,
			fallbacks,
			automations: automations.rows.map((row) => ({ name: row.name, timesTriggered: Number(row.times_triggered) })),
			runs: counts.rows[0].runs,
			tagged: counts.rows[0].tagged,
			stopped: counts.rows[0].stopped,
			handedOut,
			outbox: Object.fromEntries(outbox.rows.map((row) => [row.status, row.items])),
			seconds: (performance.now() - started) / 1000,
		};
	} finally {
		await db.end();
	}
}

const counted = (counts: Record<string, number>) =>
	Object.entries(counts)
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([key, count]) => `${key} ${count}`)
		.join(', ') || 'none';

const runLine = (summary: AutoAssignSummary) =>
	`analysed ${summary.analysed} (fallback ${summary.fallback}), assigned ${summary.assigned}, moved ${summary.moved}, kept ${summary.kept}, skipped ${summary.skipped}; automations handed out ${summary.automations}`;

export function printPipelineDemo(demo: PipelineDemo): void {
	console.log(`\nCRM pipeline "${PIPELINE_NAME}" (workflows/auto-assign.json, "Analyse Now", in-process): ${demo.contacts} conversations on Page ${PIPELINE_PAGE_ID}, ${demo.seconds.toFixed(1)} s`);
	console.log(`  run: ${runLine(demo.first)}`);
	console.log('  where they landed (score and the model\'s reasoning of one of them):');
	const width = Math.max(...demo.stages.map((stage) => stage.name.length));
	for (const stage of demo.stages) {
		const example = stage.example ? `  e.g. ${stage.example.name}, score ${stage.example.score}: "${stage.example.reasoning}"` : '';
		console.log(`    ${stage.name.padEnd(width)} ${String(stage.contacts).padStart(3)}${example}`);
	}
	const fallbackGroups = new Map<string, string[]>();
	for (const fallback of demo.fallbacks) {
		const key = `the model failed (${fallback.reason}): scored ${fallback.score} from the messages, in ${fallback.stage}`;
		fallbackGroups.set(key, [...(fallbackGroups.get(key) ?? []), fallback.name]);
	}
	for (const [what, names] of fallbackGroups) console.log(`  fallback: ${names.join(', ')}: ${what}`);
	console.log(`  automations fired: ${demo.automations.map((automation) => `"${automation.name}" ${automation.timesTriggered}×`).join(', ')} (${demo.runs} runs)`);
	console.log(`    in the database: ${demo.tagged} contacts tagged "Ready to buy", ${demo.stopped} stopped for every follow-up rule`);
	console.log(`    on the Automations output: ${counted(demo.handedOut)}; outbox items: ${counted(demo.outbox)}`);
	console.log(`  a second run: ${runLine(demo.second)}`);
}
