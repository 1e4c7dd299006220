// The README's first command ends in `npm run demo`: it must start the stack and the simulators,
// prove each answers, run the follow-up pipeline on its seeded data set and report what happened
// by outcome and reason, and (with --once) stop everything it started.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');

describe('npm run demo', () => {
	it('starts the stack and the simulators, checks each, runs the follow-up pipeline, and leaves no process behind', async () => {
		const { stdout } = await run(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', '--once'], {
			cwd: root,
			timeout: 60_000,
		});
		expect(stdout).toMatch(/ok {3}Supabase Data API/);
		expect(stdout).toMatch(/ok {3}Gemini simulator/);
		expect(stdout).toMatch(/ok {3}Graph API simulator/);
		expect(stdout).not.toMatch(/FAIL/);
		// scripts/demo/follow-up.ts seeds who is due and who is not, and which sends Facebook refuses.
		expect(stdout).toMatch(/300 contacts seeded/);
		expect(stdout).toMatch(/before the run: 80 due; not due: outside_window 30, excluded_tag 10, stopped 5/);
		expect(stdout).toMatch(/run: claimed 60, sent 60, skipped 0 \(none\), failed 0 \(none\)/);
		expect(stdout).toMatch(/daily_limit_reached 20/);
		expect(stdout).toMatch(/not due: outside_active_hours 60\n\s+run: claimed 0, sent 0/);
		expect(stdout).toMatch(/run: claimed 70, sent 67, skipped 2 \(unavailable 2\), failed 1 \(no_matching_user 1\)/);
		expect(stdout).toMatch(/Graph simulator delivered 127 messages; the runs report 127 sent/);
		const urls = [...stdout.matchAll(/Base URL (http:\/\/127\.0\.0\.1:\d+)/g)].map((match) => match[1]);
		expect(urls).toHaveLength(2);
		for (const url of urls) await expect(fetch(`${url}/__sim/requests`)).rejects.toThrow();
	});
});
