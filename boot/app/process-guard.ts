import { types } from 'node:util';
import type { Disposable, Logger } from 'kindling';
import { LogThrottle, describeThrown, escapeInvisible } from 'kindling';

/** Where a fault came from: the entry whose code raised it, and a phrase naming it for the log. */
export interface FaultOrigin {
  /** The entry id (a function, an endpoint, a handler...). */
  readonly entryId: string;
  /** How the log names it, such as `function app:greet (endpoint app:get-hello)`. */
  readonly description: string;
}

/** Finds the origin of a fault, or returns undefined when it cannot tell. Must not throw (a throw counts as "cannot tell"). */
export type FaultAttributor = (fault: unknown) => FaultOrigin | undefined;

/** Options of {@link ProcessGuard.install}. */
export interface ProcessGuardOptions {
  readonly logger: Logger;
  /** Asked in order for the origin of each fault; the first answer wins. */
  readonly attributors?: readonly FaultAttributor[];
  /** Log lines per origin and minute before they are counted instead of written (default 10). */
  readonly linesPerMinute?: number;
  /** The process to guard (for tests; default the current one). */
  readonly process?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Faults a {@link ProcessGuard} has caught so far. */
export interface FaultCounts {
  /** Faults whose origin an attributor named. */
  readonly attributed: number;
  /** Faults no attributor could place (Kindling's own code, or a component's). */
  readonly unattributed: number;
  /** Attributed faults by entry id. */
  readonly byEntry: ReadonlyMap<string, number>;
}

const MAX_COUNTED_ENTRIES = 10_000;
const STACK_LINES = 12;
/** A fault's description and each stack frame are cut at this many characters. */
const DESCRIPTION_CHARS = 300;

/**
 * Keeps a process serving through faults that escape every try/catch: a rejection nobody handles,
 * a throw inside a timer or an event callback. Each one is logged with the entry it came from (asked
 * of the attributors: by the async context of the call it happened in, or by its stack frames),
 * counted, and the process goes on. Repeated faults of one origin are counted rather than written
 * past a few lines a minute.
 *
 * Only an application's owner should install it: `kindling run` does; a library must not install
 * process handlers behind its user's back, so embedders opt in.
 *
 * @example
 * const guard = ProcessGuard.install({ logger, attributors: [(fault) => functions.originOf(fault)] });
 * // ... serve ...
 * guard.dispose();
 */
export class ProcessGuard implements Disposable {
  private attributed = 0;
  private unattributed = 0;
  private readonly byEntry = new Map<string, number>();
  private readonly storms: LogThrottle;
  private readonly target: Pick<NodeJS.Process, 'on' | 'off'>;
  private disposed = false;

  private readonly onException = (error: Error): void => this.report(error, 'an uncaught exception');
  private readonly onRejection = (reason: unknown): void => this.report(reason, 'an unhandled rejection');

  private constructor(private readonly options: ProcessGuardOptions) {
    this.storms = new LogThrottle(options.logger, { linesPerWindow: options.linesPerMinute ?? 10, windowMs: 60_000 });
    this.target = options.process ?? process;
  }

  /** Installs the `uncaughtException` and `unhandledRejection` handlers; `dispose` removes them. */
  static install(options: ProcessGuardOptions): ProcessGuard {
    const guard = new ProcessGuard(options);
    guard.target.on('uncaughtException', guard.onException);
    guard.target.on('unhandledRejection', guard.onRejection);
    return guard;
  }

  /** What was caught so far. */
  counts(): FaultCounts {
    return { attributed: this.attributed, unattributed: this.unattributed, byEntry: new Map(this.byEntry) };
  }

  /**
   * Logs and counts one fault. Never throws: a throw from a process's `uncaughtException` handler
   * would end the process.
   */
  report(fault: unknown, how: string): void {
    try {
      const origin = this.originOf(fault);
      const total = this.attributed + this.unattributed + 1;
      if (origin !== undefined) {
        this.attributed++;
        if (this.byEntry.has(origin.entryId) || this.byEntry.size < MAX_COUNTED_ENTRIES)
          this.byEntry.set(origin.entryId, (this.byEntry.get(origin.entryId) ?? 0) + 1);
        const frame = topFrame(fault);
        this.storms.log(
          'error',
          `fault:${origin.entryId}`,
          `fault in ${origin.description}, ${how}: ${describeThrown(fault, DESCRIPTION_CHARS)}${frame === undefined ? '' : ` (${frame})`}; the app keeps serving (${total} fault${total === 1 ? '' : 's'} so far)`,
          { entryId: origin.entryId },
        );
      } else {
        this.unattributed++;
        const stack = stackLines(fault);
        this.storms.log(
          'error',
          'fault:internal',
          `internal fault (not attributed to an entry), ${how}: ${describeThrown(fault, DESCRIPTION_CHARS)}${stack === '' ? '' : `\n${stack}`}\nthe app keeps serving (${total} fault${total === 1 ? '' : 's'} so far)`,
        );
      }
    } catch {
      try {
        process.stderr.write('kindling: a fault was caught but could not be logged; the app keeps serving\n');
      } catch {
        // Nothing else can be done without ending the process.
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.target.off('uncaughtException', this.onException);
    this.target.off('unhandledRejection', this.onRejection);
    this.storms.flush();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private originOf(fault: unknown): FaultOrigin | undefined {
    for (const attribute of this.options.attributors ?? []) {
      try {
        const origin = attribute(fault);
        if (origin !== undefined) return origin;
      } catch {
        // An attributor that fails cannot tell; ask the next one.
      }
    }
    return undefined;
  }
}

/**
 * The stack of a thrown value, when it has one as text; never throws and asks no Proxy (whose
 * traps are the thrower's code). What an attributor reads to find the code a fault came from.
 */
export function stackOf(fault: unknown): string | undefined {
  if (typeof fault !== 'object' || fault === null || types.isProxy(fault)) return undefined;
  try {
    const stack = (fault as { stack?: unknown }).stack;
    return typeof stack === 'string' ? stack : undefined;
  } catch {
    return undefined;
  }
}

/** The first `at ...` frame of a fault's stack, escaped. */
function topFrame(fault: unknown): string | undefined {
  const frame = stackOf(fault)
    ?.split('\n')
    .find((line) => line.trimStart().startsWith('at '));
  return frame === undefined ? undefined : escapeInvisible(frame.trim(), DESCRIPTION_CHARS);
}

function stackLines(fault: unknown): string {
  const frames = (stackOf(fault) ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
  return frames
    .slice(0, STACK_LINES)
    .map((line) => `    ${escapeInvisible(line.trim(), DESCRIPTION_CHARS)}`)
    .join('\n');
}
