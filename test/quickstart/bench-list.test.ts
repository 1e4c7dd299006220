// `npm run bench` without a name lists the benchmarks, each with the first sentence of its header
// comment, whole: never a sentence cut where the comment's first line ends.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

test('the list gives each benchmark its first sentence, whole', () => {
	const tsx = require.resolve('tsx/cli', { paths: [root] });
	const out = execFileSync(process.execPath, [tsx, 'bench/run.ts'], { cwd: root, encoding: 'utf8' });
	const rows = out.split('\n').filter((line) => line.startsWith('  '));
	const names = rows.map((line) => line.trim().split(/\s+/)[0]);
	expect(names).toEqual(expect.arrayContaining(['claim', 'console-monitor', 'console-pipeline', 'console-queue', 'queue-prepare']));
	for (const line of rows) expect(line).toMatch(/\.$/);
	// Its header's sentence runs over four comment lines.
	expect(rows.find((line) => line.trim().startsWith('claim '))).toContain(
		'against the seeds\' way (fetch tagged contacts over REST, judge in JavaScript), side by side on one fast local stack.',
	);
	// Its header's second line is its usage, not part of the sentence.
	expect(rows.find((line) => line.trim().startsWith('console-queue '))).not.toContain('npm run bench -- console-queue');
});
