// Every page of docs/ is listed where a reader looks for it: in docs/README.md's pages table (a row
// linking the page, with what it covers) and in the README's "Where to read more" paragraph.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const pages = readdirSync(path.join(root, 'docs'))
	.filter((name) => name.endsWith('.md') && name !== 'README.md')
	.sort();

test('docs/README.md has a row for every page in docs/', () => {
	const text = readFileSync(path.join(root, 'docs', 'README.md'), 'utf8');
	const rows = new Set([...text.matchAll(/^\| \[[^\]]+\]\(([^)#]+\.md)\) \| \S/gm)].map((match) => match[1]));
	expect(pages.filter((page) => !rows.has(page))).toEqual([]);
});

test("README.md's Where to read more links every page in docs/", () => {
	const text = readFileSync(path.join(root, 'README.md'), 'utf8');
	const paragraph = /\*\*Where to read more\.\*\*[\s\S]*?(?:\n\n|$)/.exec(text)?.[0] ?? '';
	expect(paragraph).not.toBe('');
	const linked = new Set([...paragraph.matchAll(/\]\(docs\/([^)#]+\.md)[)#]/g)].map((match) => match[1]));
	expect(pages.filter((page) => !linked.has(page))).toEqual([]);
});
