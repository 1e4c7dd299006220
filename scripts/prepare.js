#!/usr/bin/env node
// Runs after `npm install` in this checkout (npm's `prepare`, which a user's install of the
// published package does not run) with the project's own Node 24 (the `node` dev dependency puts it first on
// PATH for npm scripts), so the native addons that the n8n engine needs are built for the Node that
// will load them, whatever Node ran `npm install`.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

// npm runs `prepare` for `npm pack` and `npm publish` too, after `prepack` (the build): nothing is
// installed then, so nothing is built or said (the "installed" line below would be untrue).
if (process.env.npm_command === 'pack' || process.env.npm_command === 'publish') process.exit(0);

const major = Number(process.versions.node.split('.')[0]);

if (major < 22) {
	console.error(
		`\nLeadflow needs Node 22 or newer for its scripts and tests (this is Node ${process.versions.node}).\n` +
			'It normally brings its own Node 24 as a dev dependency; that install did not complete.\n' +
			'Fix: run `npm install` again, or get Node 24 with `npm install --global node@24`.\n',
	);
	process.exit(1);
}

// Node headers for native builds: the ones shipped with the `node` package (user npmrc files on some
// machines pin `nodedir` to the system Node, which would build for the wrong ABI).
const headers = path.join(root, 'node_modules', 'node', 'node_modules', `node-${process.platform}-${process.arch}`);
const env = { ...process.env };
if (fs.existsSync(path.join(headers, 'include'))) env.npm_config_nodedir = headers;

function loads(moduleName) {
	try {
		execFileSync(process.execPath, ['-e', `require(${JSON.stringify(moduleName)})`], { cwd: root, stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

// isolated-vm is used by n8n's expression engine; its install script is not allowed to run during
// `npm install` (it would build for whichever Node ran npm), so it is built here.
if (fs.existsSync(path.join(root, 'node_modules', 'isolated-vm')) && !loads('isolated-vm')) {
	console.log('leadflow: building isolated-vm for Node ' + process.versions.node + ' (about a minute)…');
	execFileSync('npm', ['rebuild', 'isolated-vm', '--foreground-scripts'], { cwd: root, env, stdio: 'inherit' });
}

// The one line a successful install prints (.npmrc keeps npm itself to errors only).
let installer = '';
try {
	if (process.env.npm_node_execpath && process.env.npm_node_execpath !== process.execPath) {
		installer = execFileSync(process.env.npm_node_execpath, ['--version']).toString().trim();
	}
} catch {
	// not run by npm: nothing to compare
}
console.log(
	`leadflow: installed. Its scripts and tests run on the Node ${process.versions.node} it brings` +
		(installer ? ` (npm ran on Node ${installer.replace(/^v/, '')})` : '') +
		'. Next: npm run demo',
);
