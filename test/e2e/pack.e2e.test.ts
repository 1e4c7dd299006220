// `npm pack` (and so `npm publish`) of a checkout as a new user or a release has it: a copy of the
// repository's files with no dist/ (git ignores it) but for a file an older build left there. The
// tarball must hold a fresh build (package.json's `prepack`: dist/ emptied, then `npm run build`):
// every file the `n8n` section of package.json names, the LICENSE, and nothing of the older
// build; and the pack must not print the install's "leadflow: installed" line (npm runs `prepare`
// during a pack too). Here beside the end-to-end tests because the build takes most of a minute.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { node24Env } from '../../scripts/n8n/process';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { n8n: { nodes: string[]; credentials: string[] } };

/** What git tracks, and the new files it does not ignore: the checkout a clone would give, with today's edits. */
function repositoryFiles(): string[] {
	return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
		.toString('utf8')
		.split('\0')
		.filter((file) => file !== '' && existsSync(path.join(root, file)) && statSync(path.join(root, file)).isFile());
}

function npm(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn('npm', args, { cwd, env: node24Env(), stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
		child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
		child.once('error', reject);
		child.once('close', (code) => resolve({ code, stdout, stderr }));
	});
}

const STALE = 'dist/nodes/RemovedNode/RemovedNode.node.js';
let copy: string;

beforeAll(() => {
	copy = mkdtempSync(path.join(tmpdir(), 'leadflow-pack-'));
	for (const file of repositoryFiles()) {
		mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
		cpSync(path.join(root, file), path.join(copy, file));
	}
	symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
	// An older build's node, since removed from the sources.
	mkdirSync(path.dirname(path.join(copy, STALE)), { recursive: true });
	writeFileSync(path.join(copy, STALE), 'module.exports = {};\n');
});

afterAll(() => {
	if (copy) rmSync(copy, { recursive: true, force: true });
});

test('npm pack of a checkout without a build holds a fresh build: every file package.json\'s n8n section names, the LICENSE, nothing older', async () => {
	expect(existsSync(path.join(copy, pkg.n8n.nodes[0]))).toBe(false);
	const { code, stdout, stderr } = await npm(['pack', '--dry-run', '--json'], copy);
	expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
	// The build's own lines come first on stdout (gulp's begin with "[time]"); npm's JSON answer, from a line "[", is the rest.
	const json = stdout.slice(stdout.search(/^\[$/m));
	const [packed] = JSON.parse(json) as Array<{ files: Array<{ path: string }> }>;
	const files = packed.files.map((file) => file.path);

	const listed = [...pkg.n8n.nodes, ...pkg.n8n.credentials];
	expect(listed.filter((file) => !files.includes(file))).toEqual([]);
	expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/console/console.html', 'dist/icons/leadflow.svg']));
	expect(files).not.toContain(STALE);
	expect(files.filter((file) => !file.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(file))).toEqual([]);
	// npm runs `prepare` during a pack too: no line may say the package was installed.
	expect(`${stdout}\n${stderr}`).not.toMatch(/leadflow: installed/);
}, 600_000);
