// `npm run bench -- <name> [options]`: runs bench/<name>.ts with the options (each starts its own
// local stack and stops it, on Ctrl-C or SIGTERM too: bench/stop-on-signal.ts). Without a name,
// lists the benchmarks and what each measures.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const HELPERS = new Set(['run', 'common', 'statements', 'claim-seed', 'claim-seeds-way', 'backend-cpu', 'stop-on-signal']);

function benchmarks(): Array<{ name: string; summary: string }> {
	return readdirSync(__dirname)
		.filter((file) => file.endsWith('.ts'))
		.map((file) => path.basename(file, '.ts'))
		.filter((name) => !HELPERS.has(name))
		.sort()
		.map((name) => ({ name, summary: summary(readFileSync(path.join(__dirname, `${name}.ts`), 'utf8')) }));
}

/**
 * A benchmark's first sentence, from its header comment: the comment's lines up to its first
 * indented (usage) line or blank line, joined, cut after the first full stop that ends a sentence.
 */
function summary(source: string): string {
	const words: string[] = [];
	for (const line of source.split('\n')) {
		const text = /^\/\/ ?(.*)$/.exec(line)?.[1];
		if (text === undefined || text.trim() === '' || /^\s/.test(text)) break;
		words.push(text.trim());
	}
	const header = words.join(' ');
	const end = /\.(?=\s|$)/.exec(header);
	return end ? header.slice(0, end.index + 1) : header;
}

const [name, ...options] = process.argv.slice(2);
const known = benchmarks();
if (!name || !known.some((bench) => bench.name === name)) {
	if (name) console.error(`No benchmark "${name}".`);
	console.log('Usage: npm run bench -- <name> [options]\n');
	for (const bench of known) console.log(`  ${bench.name.padEnd(18)} ${bench.summary}`);
	process.exit(name ? 2 : 0);
}
const child = spawn(
	process.execPath,
	[...process.execArgv, '--import', path.join(__dirname, 'stop-on-signal.ts'), path.join(__dirname, `${name}.ts`), ...options],
	{ stdio: 'inherit' },
);
// A signal to this process (npm passes it on) goes to the benchmark, which stops its stack and ends.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : signal ? 143 : 1)));
