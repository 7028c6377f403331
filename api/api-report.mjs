// The public surface of each entry point, as API Extractor reports it, kept in api/ beside this
// file: `npm run api` fails when the built .d.ts files no longer match the reports (a change to the
// public surface must be a visible diff), `npm run api:update` rewrites them. Reads dist/: build
// first.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const update = process.argv.includes('--update');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const temp = mkdtempSync(join(tmpdir(), 'kindling-api-'));

// One entry imports another by the package's name (`kindling/boot` imports from `kindling`): the
// report must show that as an import from the other entry, not fold the other entry's declarations
// in. API Extractor treats a module as another package only when it resolves inside node_modules,
// so the package's own names are mapped to a node_modules link to this folder.
mkdirSync(join(temp, 'node_modules'));
symlinkSync(root, join(temp, 'node_modules', pkg.name), 'dir');
const selfPaths = Object.fromEntries(
  Object.entries(pkg.exports).map(([subpath, target]) => [
    subpath === '.' ? pkg.name : `${pkg.name}${subpath.slice(1)}`,
    [join(temp, 'node_modules', pkg.name, target.types)],
  ]),
);

// What API Extractor may say without failing the check: release tags (@public, @beta...) are a
// convention we do not use, and TSDoc's strict syntax is not the comment style of this code base.
const quiet = {
  'ae-missing-release-tag': { logLevel: 'none' },
  'ae-unresolved-link': { logLevel: 'none' },
  'ae-undocumented': { logLevel: 'none' },
  'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
};

let failed = 0;
for (const [subpath, target] of Object.entries(pkg.exports)) {
  const entry = subpath === '.' ? pkg.name : `${pkg.name}${subpath.slice(1)}`;
  const reportName = entry.replace('/', '-');
  const configObject = {
    projectFolder: root,
    mainEntryPointFilePath: join(root, target.types),
    compiler: {
      // The options a consumer compiles with (see the README's Install section), without skipLibCheck:
      // our .d.ts files must check.
      overrideTsconfig: {
        compilerOptions: {
          target: 'ES2022',
          // The nats client's own declarations name DOM's TextEncoder: its users need the DOM lib.
          lib: ['ES2023', 'ESNext.Disposable', ...(subpath === './nats' ? ['DOM'] : [])],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
          paths: selfPaths,
          preserveSymlinks: true,
        },
        files: [join(root, target.types)],
      },
    },
    apiReport: {
      enabled: true,
      reportFileName: reportName,
      reportFolder: join(root, 'api'),
      reportTempFolder: temp,
      // A type a public signature uses but the entry does not export (often one another entry
      // exports: these files import each other by relative path) is written out in the report,
      // so a change to it is a diff too.
      includeForgottenExports: true,
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: { logLevel: 'error' } },
      extractorMessageReporting: { default: { logLevel: 'warning' }, ...quiet },
      tsdocMessageReporting: { default: { logLevel: 'none' } },
    },
  };
  const config = ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: undefined,
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, {
    localBuild: update,
    messageCallback(message) {
      if (message.logLevel === 'none' || message.logLevel === 'verbose' || message.logLevel === 'info') {
        message.handled = true;
      }
    },
  });
  // Rewriting a report is itself reported as a warning: when updating, only errors fail.
  const problems = result.errorCount + (update ? 0 : result.warningCount);
  if (problems > 0) {
    failed++;
    console.error(
      `${entry}: ${result.errorCount} errors, ${result.warningCount} warnings${result.apiReportChanged ? '; the public surface changed:' : ''}`,
    );
    if (result.apiReportChanged && !update) {
      spawnSync('diff', ['-u', join('api', `${reportName}.api.md`), join(temp, `${reportName}.api.md`)], {
        cwd: root,
        stdio: 'inherit',
      });
    }
  } else {
    console.log(`${entry}: ${result.apiReportChanged ? 'report updated' : 'matches api/'}`);
  }
}
rmSync(temp, { recursive: true, force: true });
if (failed > 0) {
  console.error(
    update
      ? 'api: fix the errors above'
      : 'api: the public surface differs from api/*.api.md; if intended, run `npm run api:update` and commit the reports',
  );
  process.exit(1);
}
