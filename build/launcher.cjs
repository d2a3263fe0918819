#!/usr/bin/env node
// pktmark's CLI entry, copied to dist/pktmark.cjs (and dist/bundle/pktmark.cjs) by build/cli.mjs.
// It runs the bundle beside it, pktmark-main.cjs, from V8's code cache (pktmark-main.cjs.v8cache,
// made at build time by build/warm-cache.cjs after a warm-up run): compiling the 1.2 MB bundle
// cost ~36 ms of a ~200 ms `pktmark add`; with the cache V8 deserialises what the warm-up ran and
// leaves the rest (yaml, prom-client, the agent, …) unparsed. Node 20 has no
// module.enableCompileCache, hence vm.Script. Without a usable cache (another Node/V8 version,
// other V8 flags, a rebuilt or edited bundle) it compiles the source as require() would.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { isAscii } = require('node:buffer');

const MAIN = path.join(__dirname, 'pktmark-main.cjs');
const CACHE = `${MAIN}.v8cache`;
// cache file: MAGIC, the bundle's byte length (u32 LE), zero padding to HEAD, then V8's data. V8
// copies cached data that is not 8-byte aligned before it deserialises it (502 KiB, ~125 fresh
// pages here); readFileSync's buffer is aligned, so the data starts at a multiple of 8
const MAGIC = Buffer.from('pktmark-v8cache-2\n');
const HEAD = 24;
/** A bundle modified this long after its cache was written is not trusted to match it. */
const MTIME_SLACK_MS = 2000;

function readSource() {
  const buf = fs.readFileSync(MAIN);
  // the bundle is built ASCII-only (esbuild --charset=ascii), so Latin-1 gives the same string;
  // Node 20's UTF-8 decoding of 1.2 MB costs ~10 ms here, the Latin-1 copy well under one
  return { src: isAscii(buf) ? buf.latin1Slice(0, buf.length) : buf.toString('utf8'), size: buf.length };
}

/**
 * V8 checks a cache against the source's length only (and its own version and flags), so a
 * same-length edit of the bundle would run stale bytecode: the cache records the bundle's size
 * and must not be older than the bundle (npm's tarballs give both files the same mtime).
 */
function readCache(size) {
  try {
    const data = fs.readFileSync(CACHE);
    if (data.length <= HEAD || !data.subarray(0, MAGIC.length).equals(MAGIC) || data.readUInt32LE(MAGIC.length) !== size) return undefined;
    if (fs.statSync(MAIN).mtimeMs > fs.statSync(CACHE).mtimeMs + MTIME_SLACK_MS) return undefined;
    return data.subarray(HEAD);
  } catch {
    return undefined; // no cache: compile from the source
  }
}

/**
 * Compile the bundle, a CommonJS module wrapper `(function (exports, require, module, __filename,
 * __dirname) { … })` as built; `useCache: false` for the warm-up that makes the cache.
 */
function compile(useCache) {
  const { src, size } = readSource();
  const cachedData = useCache ? readCache(size) : undefined;
  const script = new vm.Script(src, {
    filename: MAIN,
    ...(cachedData ? { cachedData } : {}),
    // an import() of a Node built-in left in the bundle resolves as it would under require()
    ...(vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER ? { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER } : {}),
  });
  return { script, size };
}

/** Run a compiled bundle as the module MAIN; returns its exports. */
function run(script) {
  const mod = new Module(MAIN, module);
  mod.filename = MAIN;
  mod.paths = Module._nodeModulePaths(__dirname);
  const wrapper = script.runInThisContext();
  wrapper.call(mod.exports, mod.exports, Module.createRequire(MAIN), mod, MAIN, __dirname);
  mod.loaded = true;
  return mod.exports;
}

module.exports = { compile, run, MAIN, CACHE, MAGIC, HEAD };
// build/warm-cache.cjs loads this file for compile() and run() without starting the CLI
// once the command is done the process ends (exitNow, src/cli/io.ts) rather than waiting for V8's
// idle-time GC tasks and the heap's teardown
if (!globalThis[Symbol.for('pktmark.cacheWarmup')]) {
  const cli = run(compile(true).script);
  cli.done.then((code) => cli.exitNow(code));
}
