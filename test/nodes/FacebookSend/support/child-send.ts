// Runs one FacebookSend workflow in its own process, so a test can kill it mid-send (SIGKILL: no
// finally blocks, no clean-up) the way a crashed or redeployed n8n worker dies.
//   tsx test/nodes/FacebookSend/support/child-send.ts <job.json>   job: {items, parameters, credentials}
import { readFileSync } from 'node:fs';
import { runSend } from './workflow';

async function main(): Promise<void> {
	const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
	const run = await runSend(job.items, job.parameters, job.credentials);
	process.stdout.write(`${JSON.stringify({ status: run.result.status, sent: run.sent.length })}\n`);
}

main().catch((error: unknown) => {
	process.stderr.write(`${String(error)}\n`);
	process.exit(1);
});
