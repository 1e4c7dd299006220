// Every page of docs/ is listed where a reader looks for it: in docs/README.md's pages table (a row
// linking the page, with what it covers) and in the README's "Where to read more" section.
// Read as Markdown by a Markdown parser, not by patterns of one spelling of it: a table row with the
// link in any column (outer pipes or none, any spacing), `./` before the page, an anchor or a title,
// reference-style links; the section under a heading (to the next heading of its level or above,
// so a `###` under it belongs to it) or after a bold label (its paragraph, or the block after it
// when the label stands alone: a list, blank lines between its items or not); CRLF line ends.
// The layouts at the end prove the reading.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// showdown (Markdown to HTML, tables on) and jsdom (the HTML read as a page): both devDependencies.
interface Element {
	tagName: string;
	textContent: string | null;
	children: ArrayLike<Element>;
	nextElementSibling: Element | null;
	firstElementChild: Element | null;
	getAttribute(name: string): string | null;
	querySelectorAll(selectors: string): ArrayLike<Element>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const showdown = require('showdown') as {
	Converter: new (options: Record<string, unknown>) => { makeHtml(markdown: string): string };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JSDOM } = require('jsdom') as { JSDOM: new (html: string) => { window: { document: { body: Element } } } };
const converter = new showdown.Converter({ tables: true, noHeaderId: true });

const root = path.resolve(__dirname, '..', '..');
const pages = readdirSync(path.join(root, 'docs'))
	.filter((name) => name.endsWith('.md') && name !== 'README.md')
	.sort();

/** The Markdown's blocks (paragraphs, headings, lists, tables…) as elements of a page. */
const bodyOf = (markdown: string): Element => new JSDOM(converter.makeHtml(markdown)).window.document.body;
const hasText = (element: Element) => (element.textContent ?? '').trim() !== '';
const headingLevel = (element: Element) => (/^H([1-6])$/.test(element.tagName) ? Number(element.tagName[1]) : undefined);

/** The .md pages the elements link (inline or by reference), `./` dropped, anchors and titles left off. */
function linkTargets(elements: Element[]): Set<string> {
	const found = new Set<string>();
	for (const element of elements) {
		const links = element.tagName === 'A' ? [element] : Array.from(element.querySelectorAll('a[href]'));
		for (const link of links) {
			const target = (link.getAttribute('href') ?? '').replace(/[#?].*$/, '').replace(/^\.\//, '');
			if (target.endsWith('.md')) found.add(target);
		}
	}
	return found;
}

/** The pages linked from a table row that also says something (two cells or more with text), any column. */
function tablePages(markdown: string): Set<string> {
	const rows = Array.from(bodyOf(markdown).querySelectorAll('tbody tr'));
	return linkTargets(rows.filter((row) => Array.from(row.children).filter(hasText).length >= 2));
}

/**
 * The pages the "Where to read more" section links: under a heading, to the next heading of the same
 * level or above; after a bold label (**Where to read more.**), its paragraph, and the block after it
 * when the label stands alone. Undefined when there is none.
 */
function readMorePages(markdown: string): Set<string> | undefined {
	const title = /^Where to read more[.:]?$/i;
	const blocks = Array.from(bodyOf(markdown).children);
	for (const [index, block] of blocks.entries()) {
		const level = headingLevel(block);
		if (level !== undefined && title.test((block.textContent ?? '').trim())) {
			const end = blocks.findIndex((next, at) => at > index && (headingLevel(next) ?? 7) <= level);
			return linkTargets(blocks.slice(index + 1, end < 0 ? undefined : end));
		}
		const label = block.tagName === 'P' ? block.firstElementChild : null;
		const text = (block.textContent ?? '').trim();
		if (!label || !['STRONG', 'B'].includes(label.tagName) || !title.test((label.textContent ?? '').trim()) || !text.startsWith((label.textContent ?? '').trim())) continue;
		const section = [block];
		const alone = text.slice((label.textContent ?? '').trim().length).replace(/^[.:]/, '').trim() === '';
		const after = block.nextElementSibling;
		if (alone && after && headingLevel(after) === undefined) section.push(after);
		return linkTargets(section);
	}
	return undefined;
}

test('docs/README.md has a row for every page in docs/', () => {
	const rows = tablePages(readFileSync(path.join(root, 'docs', 'README.md'), 'utf8'));
	expect(pages.filter((page) => !rows.has(page))).toEqual([]);
});

test("README.md's Where to read more links every page in docs/", () => {
	const section = readMorePages(readFileSync(path.join(root, 'README.md'), 'utf8'));
	expect(section).toBeDefined();
	const linked = new Set([...(section ?? [])].filter((target) => target.startsWith('docs/')).map((target) => target.slice('docs/'.length)));
	expect(pages.filter((page) => !linked.has(page))).toEqual([]);
});

// The layouts a docs/README.md row and the README's section may take (review RMD1 F4: the first
// reading counted only `| [page](page.md) | …` and a `**Where to read more.**` paragraph ended by
// \n\n, so a CRLF file's paragraph ran to the end of the file and counted links far below it; RMD1 F2:
// the second, by patterns, missed a list with blank lines between items, a `###` under the section
// and reference-style links).
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
	['a reference-style link', true, `${table('| [console.md][console] | The console |')}\n[console]: console.md\n`],
	['a shortcut reference, defined with ./', true, `${table('| [console.md] | The console |')}\n[console.md]: ./console.md "The console"\n`],
	['a reference never defined', false, table('| [console.md][console] | The console |')],
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
	['a label, then a list with blank lines between items', true, '**Where to read more.**\n\n- [the database](docs/database.md)\n\n- [the console](docs/console.md)\n\nNext.'],
	['a ### heading under the section', true, '## Where to read more\n\nThe pages:\n\n### Guides\n\n- [the console](docs/console.md)\n\n## License\n'],
	['a reference-style link', true, '**Where to read more.** See [the console][console].\n\nNext.\n\n[console]: docs/console.md\n'],
	['CRLF, the link after the paragraph', false, '**Where to read more.** nothing here\r\n\r\n## Other\r\n[the console](docs/console.md)\r\n'],
	['a heading, the link under the next one', false, '## Where to read more\n\nNothing.\n\n## License\n\n[the console](docs/console.md)\n'],
	['the link before the section', false, '[the console](docs/console.md)\n\n**Where to read more.** Nothing.\n'],
	['a ### heading, the link under the next ## one', false, '## Where to read more\n\n### Guides\n\nNothing.\n\n## License\n\n[the console](docs/console.md)\n'],
	['a label alone, the link two blocks on', false, '**Where to read more.**\n\nNothing.\n\n- [the console](docs/console.md)\n'],
])("the README's section, %s: linked %s", (_layout, linked, markdown) => {
	const section = readMorePages(markdown);
	expect(section).toBeDefined();
	expect(section?.has('docs/console.md')).toBe(linked);
});
