// Builds the console page (console/src) into one file, dist/console/console.html: the HTML with its
// script (bundled by esbuild, minified, for browsers of the last few years) and styles inlined, so
// n8n answers the whole page from the package in one response, with no CDN and no other request.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '..');
const source = (file: string) => readFileSync(path.join(root, 'console', 'src', file), 'utf8');

export function buildConsole(): { file: string; bytes: number } {
	const bundle = esbuild.buildSync({
		entryPoints: [path.join(root, 'console', 'src', 'main.ts')],
		bundle: true,
		minify: true,
		format: 'iife',
		target: ['chrome111', 'firefox113', 'safari16.4'],
		write: false,
		legalComments: 'none',
	});
	// console.css first, then each tab's own stylesheet (pipeline.css, queue.css, …) by name.
	const sheets = ['console.css', ...readdirSync(path.join(root, 'console', 'src')).filter((file) => file.endsWith('.css') && file !== 'console.css').sort()];
	const css = esbuild.transformSync(sheets.map(source).join('\n'), { loader: 'css', minify: true, target: ['chrome111', 'firefox113', 'safari16.4'] }).code;
	// The script may not close its own <script> element.
	const js = bundle.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
	const html = source('console.html').replace('/*CONSOLE_CSS*/', () => css).replace('/*CONSOLE_JS*/', () => js);
	const out = path.join(root, 'dist', 'console');
	mkdirSync(out, { recursive: true });
	const file = path.join(out, 'console.html');
	writeFileSync(file, html);
	return { file, bytes: Buffer.byteLength(html) };
}

if (require.main === module) {
	const { bytes } = buildConsole();
	process.stdout.write(`dist/console/console.html: ${bytes} bytes\n`);
}
