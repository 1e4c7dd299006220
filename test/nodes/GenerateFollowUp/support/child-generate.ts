// Runs one GenerateFollowUp workflow in its own process, the way a queue-mode worker runs it: its
// own n8n engine, its own Supabase client, nothing shared with the test but the database.
//   tsx test/nodes/GenerateFollowUp/support/child-generate.ts <job.json>   job: {items, parameters, credentials}
// Loads the engine and the nodes first (a run without items), prints `ready`, and generates when a
// line arrives on stdin, so that several processes start at once.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runGenerate } from './workflow';

async function main(): Promise<void> {
	const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
	await runGenerate([], job.parameters, job.credentials);
	process.stdout.write('ready\n');
	const lines = createInterface({ input: process.stdin });
	await new Promise<void>((resolve) => lines.once('line', () => resolve()));
	lines.close();
	const run = await runGenerate(job.items, job.parameters, job.credentials);
	process.stdout.write(`${JSON.stringify({ generated: run.generated.length, failed: run.failed.map((item) => item.error) })}\n`);
}

main().catch((error: unknown) => {
	process.stderr.write(`${String(error)}\n`);
	process.exit(1);
});
