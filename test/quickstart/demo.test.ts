// The README's first command ends in `npm run demo`: it must start the stack and the simulators,
// prove each answers, and (with --once) stop everything it started.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');

describe('npm run demo', () => {
	it('starts the stack and the simulators, checks each, and leaves no process behind', async () => {
		const { stdout } = await run(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', '--once'], {
			cwd: root,
			timeout: 60_000,
		});
		expect(stdout).toMatch(/ok {3}Supabase Data API/);
		expect(stdout).toMatch(/ok {3}Gemini simulator/);
		expect(stdout).toMatch(/ok {3}Graph API simulator/);
		expect(stdout).not.toMatch(/FAIL/);
		const urls = [...stdout.matchAll(/Base URL (http:\/\/127\.0\.0\.1:\d+)/g)].map((match) => match[1]);
		expect(urls).toHaveLength(2);
		for (const url of urls) await expect(fetch(`${url}/__sim/requests`)).rejects.toThrow();
	});
});
