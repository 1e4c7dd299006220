// The repository explains itself. Someone who clones it must be able to follow every reference in
// it: no file may send the reader to a design note, a "seed" document or a sibling folder that is
// not part of the repository, and every link the documentation (README.md, docs/) and the nodes'
// codex files give must reach a file, and a heading, that exist here. The facts those notes held
// are in docs/ (docs/README.md lists the pages).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const inside = (absolute: string) => absolute === root || absolute.startsWith(root + path.sep);

// Folders that are never part of the repository (installed, built or run-time data).
const NOT_IN_REPOSITORY = new Set(['.git', 'node_modules', 'dist', 'coverage', '.stack', '.leadflow']);

function walk(dir: string, files: string[]): void {
	for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
		if (NOT_IN_REPOSITORY.has(entry.name)) continue;
		const relative = dir ? `${dir}/${entry.name}` : entry.name;
		if (entry.isDirectory()) walk(relative, files);
		else if (entry.isFile()) files.push(relative);
	}
}

/** Every file of the repository: what git tracks plus new files it does not ignore (so a file about to be added is checked too). */
function repositoryFiles(): string[] {
	let listed: string[];
	try {
		listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
			.toString('utf8')
			.split('\0');
	} catch {
		// Not a git checkout (an unpacked archive): every file outside the folders above.
		listed = [];
		walk('', listed);
	}
	return [...new Set(listed)].filter((file) => file !== '' && existsSync(path.join(root, file)) && statSync(path.join(root, file)).isFile()).sort();
}

const files = repositoryFiles();
const basenames = new Set(files.map((file) => path.basename(file)));

/** The file's text, or undefined for a binary file (icons…). */
function textOf(file: string): string | undefined {
	const bytes = readFileSync(path.join(root, file));
	return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

// A migration recorded in supabase/migration-checksums.json is never edited again (a database that
// applied it would never see the edit; test/db/migrations.test.ts holds them to their checksums), so
// the older words in their comments stay, and docs/README.md ("Words in older comments") says what
// they mean.
const recordedMigrations = new Set(
	Object.keys(JSON.parse(readFileSync(path.join(root, 'supabase', 'migration-checksums.json'), 'utf8')) as Record<string, string>).map(
		(name) => `supabase/migrations/${name}`,
	),
);

interface Finding {
	file: string;
	line: number;
	text: string;
	why: string;
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** Whether a path written in `file` (relative to its folder) leads to something in the repository, as a module path may omit `.ts` or name a folder. */
function leadsSomewhere(file: string, written: string): boolean {
	const target = path.resolve(root, path.dirname(file), written.replace(/[.,;:]+$/, ''));
	if (!inside(target)) return false;
	return ['', '.ts', '.js', '.json', '/index.ts'].some((ending) => existsSync(target + ending));
}

function outsideReferences(file: string, text: string): Finding[] {
	const findings: Finding[] = [];
	const add = (index: number, match: string, why: string) => findings.push({ file, line: lineOf(text, index), text: match, why });
	for (const match of text.matchAll(/\bseed \d{3}\b/gi)) add(match.index, match[0], 'a numbered seed document, which is not in the repository');
	for (const match of text.matchAll(/shared\/seeds\b/g)) add(match.index, match[0], 'the seed documents\' folder, which is not in the repository');
	for (const match of text.matchAll(/(?:\.\.\/)+shared\/[\w./-]*/g)) {
		if (!leadsSomewhere(file, match[0])) add(match.index, match[0], 'a path that leaves the repository or leads nowhere in it');
	}
	// Upper-case Markdown names are the project's top-level documents (README.md): each must be here.
	// The lock file's are its packages' own (a license field saying "SEE LICENSE IN" a file of theirs).
	for (const match of file === 'package-lock.json' ? [] : text.matchAll(/\b[A-Z][A-Z0-9_-]*\.md\b/g)) {
		if (!basenames.has(match[0])) add(match.index, match[0], 'a document that is not in the repository');
	}
	for (const match of text.matchAll(/\bdocs\/[\w.-]+\.md\b/g)) {
		if (!files.includes(match[0])) add(match.index, match[0], 'a docs/ page that does not exist');
	}
	return findings;
}

/** Markdown without its fenced code blocks and inline code (their text is not a link or a heading). */
function proseOf(markdown: string): string {
	return markdown
		.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
		.replace(/`[^`\n]*`/g, (code) => code.replace(/[^\n]/g, ' '));
}

/** The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces turned into hyphens. */
function githubAnchor(heading: string): string {
	return heading
		.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
		.replace(/[`*]/g, '')
		.replace(/<[^>]+>/g, '')
		.trim()
		.toLowerCase()
		.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
		.replace(/ /g, '-');
}

const anchorCache = new Map<string, Set<string>>();

/** Every anchor a Markdown file offers: one per heading (repeats numbered as GitHub does), and explicit ids. */
function anchorsOf(file: string): Set<string> {
	const cached = anchorCache.get(file);
	if (cached) return cached;
	const markdown = readFileSync(path.join(root, file), 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
	const anchors = new Set<string>();
	const seen = new Map<string, number>();
	for (const match of markdown.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
		const base = githubAnchor(match[1]);
		const count = seen.get(base) ?? 0;
		seen.set(base, count + 1);
		anchors.add(count === 0 ? base : `${base}-${count}`);
	}
	for (const match of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]);
	anchorCache.set(file, anchors);
	return anchors;
}

/** Why `target` (a repository path, maybe with `#anchor`) does not resolve, or undefined when it does. */
function problemWith(target: string): string | undefined {
	const [filePart, anchor] = target.split('#', 2) as [string, string | undefined];
	const absolute = path.resolve(root, filePart);
	if (!inside(absolute)) return 'leaves the repository';
	if (!existsSync(absolute)) return 'no such file';
	if (anchor === undefined || anchor === '') return undefined;
	if (!filePart.endsWith('.md')) return undefined;
	return anchorsOf(path.relative(root, absolute).split(path.sep).join('/')).has(decodeURIComponent(anchor)) ? undefined : `no heading with the anchor #${anchor}`;
}

const markdownFiles = files.filter((file) => file.endsWith('.md'));

function brokenLinks(file: string): Finding[] {
	const text = proseOf(readFileSync(path.join(root, file), 'utf8'));
	const findings: Finding[] = [];
	for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
		const link = match[1];
		if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
		const target = link.startsWith('#') ? `${file}${link}` : path.posix.join(path.posix.dirname(file), link);
		const problem = problemWith(target);
		if (problem) findings.push({ file, line: lineOf(text, match.index), text: link, why: problem });
	}
	return findings;
}

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { repository: { url: string } };
/** The repository's address on GitHub, from package.json: https://github.com/<owner>/<name> */
const repositoryUrl = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');

/** A codex link → the repository path (and anchor) it shows, or why it is not one. */
function repositoryTarget(url: string): { target: string } | { problem: string } {
	if (!url.startsWith(repositoryUrl)) return { problem: `not in this repository (${repositoryUrl})` };
	const rest = url.slice(repositoryUrl.length);
	if (rest === '' || rest.startsWith('#')) return { target: `README.md${rest}` };
	const inTree = /^\/(?:blob|tree)\/main\/(.+)$/.exec(rest);
	return inTree ? { target: inTree[1] } : { problem: 'not a file on the main branch' };
}

const codexFiles = files.filter((file) => /^nodes\/[^/]+\/[^/]+\.node\.json$/.test(file));

function brokenCodexLinks(file: string): Finding[] {
	const codex = JSON.parse(readFileSync(path.join(root, file), 'utf8')) as { resources?: Record<string, Array<{ url?: string }>> };
	const findings: Finding[] = [];
	for (const [kind, entries] of Object.entries(codex.resources ?? {})) {
		for (const entry of entries) {
			const url = entry.url ?? '';
			const resolved = repositoryTarget(url);
			const problem = 'problem' in resolved ? resolved.problem : problemWith(resolved.target);
			if (problem) findings.push({ file, line: 0, text: `${kind}: ${url}`, why: problem });
		}
	}
	return findings;
}

const shown = (findings: Finding[]) => findings.map(({ file, line, text, why }) => `${file}${line ? `:${line}` : ''}: ${text} (${why})`);

describe('a self-contained repository', () => {
	it('knows the files it checks', () => {
		expect(files).toContain('README.md');
		expect(files).toContain('package.json');
		expect(markdownFiles).toContain('docs/README.md');
		expect(codexFiles.length).toBeGreaterThan(0);
	});

	it('anchors headings as GitHub does', () => {
		expect(githubAnchor('Using it with your own n8n and Supabase')).toBe('using-it-with-your-own-n8n-and-supabase');
		expect(githubAnchor('The Page token is refused (190)')).toBe('the-page-token-is-refused-190');
		expect(githubAnchor('The Data API exposes `public` only')).toBe('the-data-api-exposes-public-only');
		expect(githubAnchor('Throttling (4, 17, 32, 613)')).toBe('throttling-4-17-32-613');
	});

	it('no file sends the reader to a document, seed or folder that is not in the repository', () => {
		const findings = files
			.filter((file) => !recordedMigrations.has(file))
			.flatMap((file) => {
				const text = textOf(file);
				return text === undefined ? [] : outsideReferences(file, text);
			});
		expect(shown(findings)).toEqual([]);
	});

	it('every relative link in README.md and docs/ leads to a file, and a heading, that exist', () => {
		expect(shown(markdownFiles.flatMap(brokenLinks))).toEqual([]);
	});

	it('every codex link (nodes/*/*.node.json) leads to a page, and a heading, of this repository', () => {
		expect(shown(codexFiles.flatMap(brokenCodexLinks))).toEqual([]);
	});
});
