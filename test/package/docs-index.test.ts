// Every page of docs/ is listed where a reader looks for it: in docs/README.md's pages table (a row
// linking the page, with what it covers) and in the README's "Where to read more" section.
// Read as Markdown, not as one spelling of it: a link in any column of a table row (outer pipes or
// none, any spacing), `./` before the page, an anchor or a title after it; the section under a
// heading or after a bold label; CRLF line ends. The layouts at the end prove the reading.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const pages = readdirSync(path.join(root, 'docs'))
	.filter((name) => name.endsWith('.md') && name !== 'README.md')
	.sort();

const linesOf = (markdown: string) => markdown.replace(/\r\n?/g, '\n').split('\n');
const heading = /^ {0,3}#{1,6}(?:\s|$)/;
const blank = /^\s*$/;
// A table's delimiter row: | --- | :--: | (outer pipes optional, at least one pipe).
const delimiterRow = /^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$|^\s*\|\s*:?-+:?\s*\|?\s*$/;
// An inline link's target ending in .md: optional <>, ./, an anchor, a title ("…", '…' or (…)).
const mdLink = /\]\(\s*<?(?:\.\/)?([^\s()<>#]+\.md)(?:#[^\s()<>]*)?>?(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;

/** The .md targets linked in a piece of Markdown, `./` dropped, anchors and titles left off. */
function linkTargets(markdown: string): Set<string> {
	return new Set([...markdown.matchAll(mdLink)].map((match) => match[1]));
}

/** The pages linked from a table row that also says something (two cells or more with text), any column. */
function tablePages(markdown: string): Set<string> {
	const lines = linesOf(markdown);
	const found = new Set<string>();
	for (let index = 1; index < lines.length; index++) {
		if (!delimiterRow.test(lines[index]) || !lines[index - 1].includes('|')) continue;
		for (let row = index + 1; row < lines.length && lines[row].includes('|') && !blank.test(lines[row]); row++) {
			const cells = lines[row].split(/(?<!\\)\|/).filter((cell) => !blank.test(cell));
			if (cells.length < 2) continue;
			for (const target of linkTargets(lines[row])) found.add(target);
		}
	}
	return found;
}

/**
 * The "Where to read more" section: under a heading, to the next heading; after a bold label
 * (**Where to read more.**), to the end of its paragraph, or of the block after it when the label
 * stands alone. Undefined when there is none.
 */
function readMoreSection(markdown: string): string | undefined {
	const lines = linesOf(markdown);
	const title = /^\s*(?:#{1,6}\s+|\*\*)Where to read more[.:]?(?:\*\*)?[.:]?/i;
	const start = lines.findIndex((line) => title.test(line));
	if (start < 0) return undefined;
	const isHeading = heading.test(lines[start]);
	const rest = lines[start].replace(title, '');
	const section = [rest];
	let seenText = !blank.test(rest) && !isHeading;
	for (let index = start + 1; index < lines.length; index++) {
		const line = lines[index];
		if (heading.test(line)) break;
		if (!isHeading && blank.test(line)) {
			if (seenText) break;
			continue;
		}
		if (!blank.test(line)) seenText = true;
		section.push(line);
	}
	return section.join('\n');
}

test('docs/README.md has a row for every page in docs/', () => {
	const rows = tablePages(readFileSync(path.join(root, 'docs', 'README.md'), 'utf8'));
	expect(pages.filter((page) => !rows.has(page))).toEqual([]);
});

test("README.md's Where to read more links every page in docs/", () => {
	const section = readMoreSection(readFileSync(path.join(root, 'README.md'), 'utf8'));
	expect(section).toBeDefined();
	const linked = new Set([...linkTargets(section ?? '')].filter((target) => target.startsWith('docs/')).map((target) => target.slice('docs/'.length)));
	expect(pages.filter((page) => !linked.has(page))).toEqual([]);
});

// The layouts a docs/README.md row and the README's section may take (review RMD1 F4: the first
// reading counted only `| [page](page.md) | …` and a `**Where to read more.**` paragraph ended by
// \n\n, so a CRLF file's paragraph ran to the end of the file and counted links far below it).
const table = (row: string) => `| Page | What it covers |\n| --- | --- |\n${row}\n`;
test.each<[string, boolean, string]>([
	['as written', true, table('| [console.md](console.md) | The console |')],
	['./ before the page', true, table('| [console.md](./console.md) | The console |')],
	['no outer pipes', true, 'Page | What it covers\n--- | ---\n[console.md](console.md) | The console\n'],
	['compact pipes', true, '|Page|What|\n|---|---|\n|[console.md](console.md)|The console|\n'],
	['a title', true, table('| [console.md](console.md "The console") | The console |')],
	['an anchor', true, table('| [console.md](console.md#tabs) | The console |')],
	['two spaces', true, table('|  [console.md](console.md)  |  The console |')],
	['the name in code', true, table('| [`console.md`](console.md) | The console |')],
	['the link in the second column', true, table('| Console | [console.md](console.md): the web page |')],
	['CRLF', true, table('| [console.md](console.md) | The console |').replace(/\n/g, '\r\n')],
	['a row saying nothing', false, table('| [console.md](console.md) | |')],
	['a link outside the table', false, `${table('| [gemini.md](gemini.md) | Gemini |')}\nSee [console.md](console.md) | too.\n`],
	['another page only', false, table('| [console-old.md](console-old.md) | Old |')],
])('a docs/README.md table row, %s: counted %s', (_layout, counted, markdown) => {
	expect(tablePages(markdown).has('console.md')).toBe(counted);
});

test.each<[string, boolean, string]>([
	['a bold label, as written', true, '**Where to read more.** See [the console](docs/console.md).\n\nNext.'],
	['a heading', true, '# Leadflow\n\n## Where to read more\n\nSee [the console](docs/console.md).\n\n- and a list\n'],
	['./docs/', true, '**Where to read more.** See [the console](./docs/console.md).\n\nNext.'],
	['a label, then a list', true, '**Where to read more.**\n\n- [the console](docs/console.md)\n'],
	['a title and an anchor', true, '**Where to read more.** See [the console](docs/console.md#tabs "Console").\n'],
	['CRLF', true, '**Where to read more.** See [the console](docs/console.md).\r\n\r\nNext.'],
	['CRLF, the link after the paragraph', false, '**Where to read more.** nothing here\r\n\r\n## Other\r\n[the console](docs/console.md)\r\n'],
	['a heading, the link under the next one', false, '## Where to read more\n\nNothing.\n\n## License\n\n[the console](docs/console.md)\n'],
	['the link before the section', false, '[the console](docs/console.md)\n\n**Where to read more.** Nothing.\n'],
])("the README's section, %s: linked %s", (_layout, linked, markdown) => {
	const section = readMoreSection(markdown);
	expect(section).toBeDefined();
	expect(linkTargets(section ?? '').has('docs/console.md')).toBe(linked);
});
