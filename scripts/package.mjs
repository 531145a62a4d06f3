// `npm run package`: one VSIX per platform (`vsce package --target T`), each carrying only that
// platform's onnxruntime-node binaries plus the bundled model. The file list is .vscodeignore (an
// allow-list) plus one generated line that lets in bin/napi-v6/<platform>/<arch>.
//
//   node scripts/package.mjs                 all targets
//   node scripts/package.mjs linux-x64 ...   only these
//
// Output: artifacts/vsix/math-tutor-<target>-<version>.vsix, and a size table on stdout.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// vsce target -> onnxruntime-node binary folder. onnxruntime-node 1.30 ships no darwin-x64 build,
// so there is no darwin-x64 VSIX (Intel Macs would need another runtime).
const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && all[i - 1] !== '--readme');
for (const t of wanted) {
  if (!(t in TARGETS)) {
    console.error(`Unknown target "${t}". Known: ${Object.keys(TARGETS).join(', ')}`);
    process.exit(2);
  }
}
const targets = wanted.length ? wanted : Object.keys(TARGETS);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    throw new Error(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal}).`);
  }
}

for (const required of ['models/manifest.json', 'models/encoder.onnx', 'models/decoder.onnx', 'models/tokenizer.json']) {
  if (!fs.existsSync(path.join(root, required))) {
    console.error(`${required} is missing: the VSIX must carry the model.`);
    process.exit(1);
  }
}
// `--readme FILE` packages another README (used before the repository README exists).
const readmeArg = process.argv.indexOf('--readme');
const readme = readmeArg > 0 ? path.resolve(process.argv[readmeArg + 1]) : path.join(root, 'README.md');
if (!fs.existsSync(readme)) {
  console.error(`${readme} is missing: vsce needs a README.`);
  process.exit(1);
}

// Minified bundle without source maps for shipping; remove maps a previous dev build left behind.
for (const map of ['dist/extension.js.map', 'dist/worker.js.map', 'dist/cli.js.map', 'media/dist/panel.js.map']) {
  fs.rmSync(path.join(root, map), { force: true });
}
run(process.execPath, ['esbuild.mjs', '--production', '--quiet']);

const outDir = path.join(root, 'artifacts', 'vsix');
fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'math-tutor-package-'));
const baseIgnore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
const rows = [];
try {
  for (const target of targets) {
    const binDir = `node_modules/onnxruntime-node/bin/napi-v6/${TARGETS[target]}`;
    if (!fs.existsSync(path.join(root, binDir))) {
      console.error(`${binDir} is missing; skipping ${target}.`);
      continue;
    }
    const ignoreFile = path.join(tmp, `${target}.vscodeignore`);
    fs.writeFileSync(ignoreFile, `${baseIgnore}\n# ${target} only\n!${binDir}/**\n`);
    const out = path.join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
    console.log(`\n== ${target}`);
    run(process.execPath, [
      vsce, 'package',
      '--target', target,
      '--ignoreFile', ignoreFile,
      '--out', out,
      '--allow-missing-repository',
      // The README's screenshots ship inside the VSIX (docs/images); no repository URL to point at.
      '--no-rewrite-relative-links',
      '--skip-license',
      '--readme-path', path.relative(root, readme),
    ]);
    rows.push({ target, file: path.relative(root, out), mb: (fs.statSync(out).size / 1024 / 1024).toFixed(1) });
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  // Leave the working tree's development build (source maps, readable stacks) as it was.
  run(process.execPath, ['esbuild.mjs', '--quiet']);
}
console.log('\nVSIX sizes:');
for (const r of rows) {
  console.log(`  ${r.target.padEnd(13)} ${r.mb.padStart(6)} MB  ${r.file}`);
}
