#!/usr/bin/env node
// n8n requires every node and credential file of every installed package at start-up. This checks,
// for each file the built package lists, in a fresh Node process with n8n-workflow already loaded
// (as it is inside n8n): how long `require` takes (limit 100 ms), and that no client library
// (supabase-js, @google/genai, libphonenumber-js) is loaded before a node first runs. Each file is
// loaded in three fresh processes and judged by the fastest: the cost of loading it, not how busy
// the machine was at that moment (one load on a machine running other work measured 100.4 ms for a
// file that loads in about 40 ms).
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const manifest = require(path.join(root, 'package.json')).n8n;
const files = [...manifest.nodes, ...manifest.credentials];
const LIMIT_MS = 100;
const RUNS = 3;
const HEAVY = ['@supabase/', '@google/genai', 'libphonenumber-js'];

const probe = `
	require('n8n-workflow');
	const before = new Set(Object.keys(require.cache));
	const start = process.hrtime.bigint();
	require(process.argv[1]);
	const ms = Number(process.hrtime.bigint() - start) / 1e6;
	const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
	console.log(JSON.stringify({ ms, loaded }));
`;

let failures = 0;
for (const file of files) {
	const absolute = path.join(root, file);
	const runs = Array.from({ length: RUNS }, () => JSON.parse(execFileSync(process.execPath, ['-e', probe, absolute], { cwd: root }).toString()));
	const ms = Math.min(...runs.map((run) => run.ms));
	const loaded = runs[0].loaded;
	const heavy = loaded.filter((f) => HEAVY.some((name) => f.includes(`node_modules/${name}`)));
	const ok = ms < LIMIT_MS && heavy.length === 0;
	if (!ok) failures += 1;
	console.log(`${ok ? 'ok  ' : 'FAIL'} ${ms.toFixed(1).padStart(6)} ms  ${loaded.length} modules  ${file}${heavy.length ? `  loads ${heavy[0]}` : ''}`);
}
console.log(`load-time: ${files.length - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
