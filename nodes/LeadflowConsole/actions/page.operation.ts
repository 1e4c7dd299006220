// page: the console's web page (HTML with its bundled script and styles), as built into the package
// by `npm run build` (console/ → dist/console/console.html). It holds no data and no secret: the
// page asks the console's JSON endpoints for everything, with the key the person gives it. Not as an
// AI agent's tool: 74 KB of HTML is for a browser, and says a model nothing the other operations do
// not.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { NodeOperationError, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { refuseAsTool } from '../../shared/outputs';

export const description: INodeProperties[] = [];

/**
 * dist/console/console.html: from the installed package's dist/nodes/LeadflowConsole/actions/, or,
 * when the node runs from its TypeScript source (the in-process tests), from the built dist/.
 */
export const PAGE_FILES = [
	path.join(__dirname, '..', '..', '..', 'console', 'console.html'),
	path.join(__dirname, '..', '..', '..', 'dist', 'console', 'console.html'),
];

async function readPage(): Promise<string> {
	let lastError: unknown;
	for (const file of PAGE_FILES) {
		try {
			return await readFile(file, 'utf8');
		} catch (error) {
			lastError = error;
		}
	}
	throw lastError;
}

let cached: Promise<string> | undefined;

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	refuseAsTool(
		this,
		'Get Page',
		'It answers the console\'s web page (its HTML, script and styles) for a browser. To read what the console shows, use Monitor Page, Contact Timeline or List Rules; for the queue, Queue Page; for a pipeline, Read Board.',
	);
	let html: string;
	try {
		html = await (cached ??= readPage());
	} catch {
		cached = undefined;
		throw new NodeOperationError(this.getNode(), 'The console page is missing from the installed package', {
			description: 'Reinstall n8n-nodes-leadflow: the page is dist/console/console.html, built by npm run build.',
		});
	}
	return [this.getInputData().map((_item, index) => ({ json: { html }, pairedItem: { item: index } }))];
}
