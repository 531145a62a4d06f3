// Bundles the extension, its inference worker and the CLI. Type checking is `npm run typecheck`;
// esbuild only strips types. onnxruntime-node (native) and vscode stay external.
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const quiet = process.argv.includes('--quiet');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: quiet ? 'warning' : 'info',
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: { extension: 'src/vscode/extension.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { worker: 'src/local/worker.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist' }),
  esbuild.build({
    bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: !production,
    minify: production, logLevel: quiet ? 'warning' : 'info',
    entryPoints: { panel: 'media/src/panel.ts' }, outdir: 'media/dist',
  }),
]);
