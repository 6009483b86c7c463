#!/usr/bin/env node
/*
 * Minimal `solc` command-line stand-in backed by solc-js (npm package "solc").
 *
 * Why: no native solc binary can be downloaded on our machines, but the npm
 * registry is reachable. solc-js's own `solcjs` CLI prints a non-JSON banner
 * before its standard-JSON output, which py-solc-x / ape-solidity cannot parse.
 * This script speaks just enough of the native CLI for those tools:
 *
 *   solc --version                  -> "solc, the solidity compiler ...\nVersion: 0.8.30+commit..."
 *   solc --standard-json [opts]     -> reads standard JSON on stdin, prints JSON only
 *
 * Options accepted with --standard-json: --base-path DIR, --include-path DIR
 * (repeatable), --allow-paths A,B (ignored: solc-js has no filesystem sandbox
 * of its own; the import callback below only reads files that a search
 * directory resolves to).
 *
 * Import resolution (the callback solc-js calls for every source unit it does
 * not already have), in order:
 *   1. absolute paths as-is;
 *   2. relative to --base-path (default: current directory), then each --include-path;
 *   3. relative to the repository root (parent of tools/);
 *   4. package-style paths ("@openzeppelin/...", "solady/...") in the repo's node_modules;
 *   5. paths already remapped to "node_modules/..." relative to the repo root.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..');
const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');

function loadSolc() {
  try {
    return require(path.join(NODE_MODULES, 'solc'));
  } catch (err) {
    process.stderr.write(
      `solc-js not found in ${NODE_MODULES} (run "npm ci" in ${REPO_ROOT}): ${err.message}\n`
    );
    process.exit(2);
  }
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      i += 1;
      return argv[i];
    };
    if (a === '--version' || a === '-v') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a.startsWith('--base-path')) opts.basePath = takeValue();
    else if (a.startsWith('--include-path')) opts.includePaths.push(takeValue());
    else if (a.startsWith('--allow-paths')) takeValue();
    // Anything else (e.g. positional "-" or flags py-solc-x may add) is ignored.
  }
  return opts;
}

function makeFindImports(opts) {
  const roots = [];
  roots.push(path.resolve(opts.basePath || process.cwd()));
  for (const p of opts.includePaths) roots.push(path.resolve(p));
  roots.push(REPO_ROOT);
  roots.push(NODE_MODULES);

  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      try {
        if (fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
      } catch (_) {
        /* try next candidate */
      }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function readStdin() {
  return fs.readFileSync(0, 'utf8');
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    const solc = loadSolc();
    process.stdout.write(
      'solc, the solidity compiler commandline interface (solc-js wrapper)\n' +
        `Version: ${solc.version()}\n`
    );
    return;
  }
  if (!opts.standardJson) {
    process.stderr.write('usage: solc --version | solc --standard-json [--base-path DIR] [--include-path DIR]\n');
    process.exit(1);
  }
  const solc = loadSolc();
  const input = readStdin();
  const output = solc.compile(input, { import: makeFindImports(opts) });
  process.stdout.write(output);
  process.stdout.write('\n');
}

main();
