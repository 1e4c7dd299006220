// The nodes whose outputs depend on the operation give n8n their outputs as an expression: the
// source of a function (helpers/outputs.ts), evaluated by n8n with the node's parameters, where
// nothing of the module around it exists. So the function must reach nothing outside its own body
// as the package runs it — also when a tool that keeps function names compiles it (tsx, which the
// demo runs the nodes with, or esbuild): those wrap every named inner function in a `__name` helper
// defined outside the function. Where the expression fails, n8n knows no output of the node, and a
// node set to continue on its error output then passes nothing on (the demo's monitor answered
// without a body).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { transformSync } from 'esbuild';
import type { INodeParameters } from 'n8n-workflow';

const ROOT = path.resolve(__dirname, '../..');

const NODES: Record<string, Array<string | undefined>> = {
	TagEligibility: [undefined, 'claim', 'explain', 'giveBack', 'snapshot', 'timeline'],
	QueueLedger: [undefined, 'addLeads', 'prepareTomorrow', 'claim', 'send', 'complete', 'takeLead', 'export', 'metrics'],
	CampaignSessionCreate: [undefined, 'create', 'recordObjective', 'stats'],
};

/** helpers/outputs.ts compiled as tsx compiles it (names kept), and its configuredOutputs' source. */
function compiledSource(node: string): string {
	const file = path.join(ROOT, 'nodes', node, 'helpers', 'outputs.ts');
	const { code } = transformSync(readFileSync(file, 'utf8'), { loader: 'ts', format: 'cjs', keepNames: true, target: 'node20' });
	const module = { exports: {} as Record<string, unknown> };
	new Function('module', 'exports', 'require', code)(module, module.exports, require);
	return String(module.exports.configuredOutputs);
}

describe.each(Object.keys(NODES))('%s: the outputs expression', (node) => {
	const expected = (operation: string | undefined) => {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const { configuredOutputs } = require(path.join(ROOT, 'nodes', node, 'helpers', 'outputs.ts')) as {
			configuredOutputs: (parameters: INodeParameters) => unknown;
		};
		return configuredOutputs(operation === undefined ? {} : { operation });
	};

	test.each(NODES[node])('compiled with names kept, evaluates alone to the same outputs (operation %s)', (operation) => {
		const source = compiledSource(node);
		const parameters = operation === undefined ? {} : { operation };
		// A context of its own: only the parameters, as n8n's expression gets them.
		const outputs = runInNewContext(`(${source})(parameters)`, { parameters }) as unknown;
		expect(JSON.parse(JSON.stringify(outputs))).toEqual(expected(operation));
		expect((outputs as unknown[]).length).toBeGreaterThan(0);
	});
});
