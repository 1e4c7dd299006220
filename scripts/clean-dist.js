#!/usr/bin/env node
// The first step of `npm run build`: dist/ removed, so that the build (and so every `npm pack` /
// `npm publish`, whose `prepack` is the build) holds only what the current sources compile to, never
// a file of a node or credential since renamed or removed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

fs.rmSync(path.resolve(__dirname, '..', 'dist'), { recursive: true, force: true });
