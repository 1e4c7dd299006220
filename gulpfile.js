// Copies node and credential icons next to the compiled files: n8n loads them from `dist/`.
const path = require('node:path');
const { task, src, dest } = require('gulp');

task('build:icons', copyIcons);

function copyIcons() {
	const nodeIcons = src(path.resolve('nodes', '**', '*.{png,svg}'), { encoding: false }).pipe(
		dest(path.resolve('dist', 'nodes')),
	);
	const credentialIcons = src(path.resolve('credentials', '**', '*.{png,svg}'), { encoding: false });
	return credentialIcons.pipe(dest(path.resolve('dist', 'credentials')));
}

module.exports = { copyIcons, nodeIcons: undefined };
