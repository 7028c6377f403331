// `kindling schema <app> [--out file]`: the JSON Schema of the app's registry files, from the kinds
// its components register (docs/schema.md).

import { writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { HandlerRegistry, createConsoleLogger, escapeInvisible, registryFileSchema } from 'kindling';
import type { JsonSchema, SchemaKind } from 'kindling';
import { Application } from '../app/application.js';
import { formatProblem } from '../app/problems.js';
import { collectHandlers } from '../kernel/container.js';
import { ExitCode, problemsOf } from './commands.js';
import type { CommandIO } from './commands.js';
import { escapeLines } from './output.js';

/** Flags of `kindling schema`. */
export interface SchemaFlags {
  /** Write the schema to this file instead of stdout. */
  readonly out?: string;
}

/**
 * The JSON Schema of `target`'s registry files: boots its components in a local boot that starts
 * nothing (as `kindling validate` does without a running app) and describes every kind their
 * listeners register, with the fields of each kind that declares a config class.
 *
 * @example
 * const schema = await appRegistrySchema('examples/hello', { builtins: builtinComponents });
 */
export async function appRegistrySchema(
  target: string,
  options: Pick<CommandIO, 'builtins' | 'logger'>,
): Promise<{ schema: JsonSchema; kinds: readonly SchemaKind[]; name: string }> {
  const app = await Application.load(target, {
    builtins: options.builtins,
    logger: options.logger ?? createConsoleLogger('warn', 'kindling schema'),
  });
  try {
    await app.boot.load();
    const container = app.boot.context.container;
    const handlers = container.isBound(HandlerRegistry) ? container.get(HandlerRegistry) : new HandlerRegistry();
    // The registry component collects container-declared listeners when it starts; nothing starts here.
    const collected = collectHandlers(container, handlers);
    try {
      const configs = new Map(handlers.kindConfigs().map((config) => [config.kind, config.configClass]));
      const kinds = handlers.knownKinds().map((kind): SchemaKind => {
        const configClass = configs.get(kind);
        return configClass === undefined ? { kind } : { kind, configClass };
      });
      const name = app.manifest.name ?? 'app';
      return { schema: registryFileSchema({ kinds, title: `Registry file of ${name} (Kindling)` }), kinds, name };
    } finally {
      collected.dispose();
    }
  } finally {
    await app.shutdown('schema written');
  }
}

/** `kindling schema <app> [--out file]`: prints the schema, or writes it to `--out`; 0 or 2. */
export async function schemaCommand(arg: string, flags: SchemaFlags, io: CommandIO): Promise<number> {
  try {
    const { schema, kinds } = await appRegistrySchema(arg, io);
    const text = `${JSON.stringify(schema, undefined, 2)}\n`;
    if (flags.out === undefined) {
      io.stdout(text);
      return ExitCode.ok;
    }
    await writeFile(flags.out, text);
    const described = kinds.filter((kind) => kind.configClass !== undefined).length;
    const rel = relative(process.cwd(), flags.out);
    const shown = rel === '' || rel.startsWith('..') ? flags.out : rel;
    io.stdout(
      `${io.style.ok('wrote')} ${escapeInvisible(shown)}: ${kinds.length} kinds, ${described} with their fields\n`,
    );
    return ExitCode.ok;
  } catch (error) {
    const lines = problemsOf(error, [], arg).map(formatProblem);
    io.stderr(`${io.errStyle.error('error')}: ${escapeLines(lines.join('\n')).replace(/\n/g, '\n  ')}\n`);
    return ExitCode.error;
  }
}
