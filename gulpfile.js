// Copies the icons next to the compiled files: n8n loads them from `dist/` by the relative path the
// node or credential names (`file:../icons/leadflow.svg`).
const path = require('node:path');
const { task, src, dest, parallel } = require('gulp');

const copy = (from, to) => () => src(path.resolve(from), { encoding: false }).pipe(dest(path.resolve(to)));

task('build:icons', parallel(copy('icons/*.svg', 'dist/icons'), copy('nodes/**/*.{png,svg}', 'dist/nodes')));
