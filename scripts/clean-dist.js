#!/usr/bin/env node
// The first step of `npm pack` / `npm publish` (package.json's `prepack`, before the build): dist/
// removed, so that a tarball holds only what the current sources compile to, never a file of a node
// or credential since renamed or removed. Not a step of `npm run build` itself: a build that emptied
// dist/ first would leave no built package for the ~20 s tsc takes, and whatever reads dist/ meanwhile
// (a pack of the e2e tests or the editor, the console page of an in-process test) would find nothing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.resolve(__dirname, '..', 'dist'), { recursive: true, force: true });
