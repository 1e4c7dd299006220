// `npm run demo`: Leadflow's local stack and service simulators, checked end to end and left running
// so that an n8n on this machine can use them. `--once` checks and exits (used by the tests).
// `--editor` opens the same in a real n8n editor instead (`npm run editor`, scripts/editor.ts).
// Once the checks pass, the follow-up pipeline runs on a seeded data set (scripts/demo/follow-up.ts),
// then the CRM pipeline's auto-assignment on the same owner's second Page (scripts/demo/pipeline.ts),
// then the lead queue (scripts/demo/queue.ts).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@supabase/supabase-js';
import { GoogleGenAI } from '@google/genai';
import { startStack, type RunningStack } from '../stack';
import { changedMigrationsWarning } from '../stack/migrations';
import { isPortTaken } from '../stack/ports';
import { startSimulators, type RunningSimulators } from '../simulators';
import { printFollowUpDemo, runFollowUpDemo, type FollowUpDemo } from './demo/follow-up';
import { printPipelineDemo, runPipelineDemo } from './demo/pipeline';
import { printQueueDemo, runQueueDemo } from './demo/queue';
import { DEMO_PAGE_ID } from './demo/data-set';
import { editorMain } from './editor';

const EDITOR_HINT = 'To see the same in a real n8n editor: `npm run editor` (or `npm run demo -- --editor`).';

async function main() {
	const { values } = parseArgs({
		options: { once: { type: 'boolean', default: false }, fresh: { type: 'boolean', default: false } },
	});
	let stack: RunningStack | undefined;
	let simulators: RunningSimulators | undefined;
	const stopAll = async () => {
		await simulators?.stop();
		await stack?.stop();
	};
	process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
	process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

	try {
		console.log('Starting the local Supabase-compatible stack (Postgres + PostgREST) and the service simulators…');
		// --once runs beside a possibly running `npm run stack`, so it takes free ports and a temporary database.
		stack = await startStack(
			values.once ? { fast: true } : { dataDir: path.resolve(__dirname, '..', '.stack'), fresh: values.fresh, port: 54321, dbPort: 54322 },
		);
		const warning = changedMigrationsWarning(stack.migrations.changed, 'demo');
		if (warning) console.warn(`\n${warning}\n`);
		simulators = await startSimulators(values.once ? {} : { geminiPort: 54331, graphPort: 54332 });

		const checks = await checkEverything(stack, simulators);
		printHowToReach(stack, simulators, checks);
		let demoOk = checks.every((check) => check.ok);
		let followUp: FollowUpDemo | undefined;
		if (demoOk) {
			try {
				followUp = await runFollowUpDemo(stack, simulators);
				printFollowUpDemo(followUp);
			} catch (error) {
				demoOk = false;
				console.log(`\nFAIL follow-up pipeline: ${error instanceof Error ? error.message : String(error)}`);
			}
		}
		if (followUp) {
			try {
				printPipelineDemo(await runPipelineDemo(stack, simulators, followUp.dataSet));
			} catch (error) {
				demoOk = false;
				console.log(`\nFAIL CRM pipeline: ${error instanceof Error ? error.message : String(error)}`);
			}
		}
		if (followUp) {
			try {
				printQueueDemo(await runQueueDemo(stack, simulators, followUp.dataSet));
			} catch (error) {
				demoOk = false;
				console.log(`\nFAIL lead queue: ${error instanceof Error ? error.message : String(error)}`);
			}
		}
		if (values.once) {
			console.log(`\n${EDITOR_HINT}`);
			await stopAll();
			process.exit(demoOk ? 0 : 1);
		}
		console.log('\nRunning. Press Ctrl-C to stop everything.');
		console.log(`${EDITOR_HINT} Stop this one first: they use the same ports.`);
	} catch (error) {
		await stopAll();
		throw error;
	}
}

interface Check {
	what: string;
	ok: boolean;
	detail: string;
}

async function checkEverything(stack: RunningStack, simulators: RunningSimulators): Promise<Check[]> {
	const checks: Check[] = [];
	const check = async (what: string, run: () => Promise<string>) => {
		try {
			checks.push({ what, ok: true, detail: await run() });
		} catch (error) {
			checks.push({ what, ok: false, detail: error instanceof Error ? error.message : String(error) });
		}
	};

	await check('Supabase Data API (service role)', async () => {
		const supabase = createClient(stack.supabaseUrl, stack.serviceRoleKey, { auth: { persistSession: false } });
		const { count, error } = await supabase.from('messenger_conversations').select('id', { count: 'exact', head: true });
		if (error) throw new Error(error.message);
		return `${count ?? 0} conversations; ${stack.migrations.applied.length + stack.migrations.alreadyApplied.length} migrations applied`;
	});
	await check('Gemini simulator (@google/genai)', async () => {
		const ai = new GoogleGenAI({ apiKey: 'demo-key', httpOptions: { baseUrl: simulators.gemini.baseUrl } });
		const reply = await ai.models.generateContent({ model: 'gemini-3.5-flash', contents: 'Write a short follow-up for Maria.' });
		return `replied "${(reply.text ?? '').slice(0, 60)}…"`;
	});
	await check('Graph API simulator (Send API)', async () => {
		const response = await fetch(`${simulators.graph.baseUrl}/v25.0/me/messages?access_token=demo-page-token`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ recipient: { id: '24000000000001' }, messaging_type: 'RESPONSE', message: { text: 'Hello from the demo' } }),
		});
		const body = (await response.json()) as { message_id?: string; error?: { message: string } };
		if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
		return `message ${body.message_id} accepted`;
	});
	return checks;
}

function printHowToReach(stack: RunningStack, simulators: RunningSimulators, checks: Check[]) {
	console.log('\nChecks:');
	for (const check of checks) console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.what}: ${check.detail}`);
	console.log(`
How to reach them (n8n credentials of this package):
  Leadflow Supabase API        Project URL ${stack.supabaseUrl}
                               Service Role Key ${stack.serviceRoleKey}
  Leadflow Gemini API          Base URL ${simulators.gemini.baseUrl}   API Keys: any text, one per line
  Leadflow Facebook Page API   Base URL ${simulators.graph.baseUrl}   Page ID ${DEMO_PAGE_ID}   Page Access Token: any text
                               (the demo's contacts are on that Page: with another Page ID a run fails them for good, page_mismatch)
  Leadflow WhatsApp Cloud API  Base URL ${simulators.graph.baseUrl}   Phone Number ID: any digits   Access Token: any text
  Postgres                     ${stack.dbUrl}
  Data                         ${stack.dataDir}${stack.dataDirNote ? `\n                               ${stack.dataDirNote}` : ''}
  Simulator controls           ${simulators.gemini.baseUrl}/__sim/requests, ${simulators.graph.baseUrl}/__sim/requests`);
}

// `--editor`: `npm run editor` (scripts/editor.ts) instead, with the editor's options.
if (process.argv.slice(2).includes('--editor')) editorMain(process.argv.slice(2).filter((arg) => arg !== '--editor'));
else main().catch((error) => {
	console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
	if (isPortTaken(error)) {
		console.error('A port is taken: is `npm run demo`, `npm run stack` or `npm run editor` running? Stop it, or add --once (free ports, a temporary database).');
	}
	process.exit(1);
});
