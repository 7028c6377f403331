import { KindlingError } from 'kindling';
import type { ErrorCode, KindlingErrorOptions } from 'kindling';

/** A dependency a component names but no registered component provides. */
export interface MissingDependency {
  readonly component: string;
  readonly dependency: string;
}

/** Options of a {@link BootError}: the usual ones plus the typed boot fields. */
export interface BootErrorOptions extends KindlingErrorOptions {
  readonly component?: string;
  readonly phase?: BootPhase;
  readonly missing?: readonly MissingDependency[];
  readonly cycles?: readonly (readonly string[])[];
}

/** The lifecycle step a component was in when something went wrong. */
export type BootPhase = 'register' | 'load' | 'start' | 'stop';

/**
 * An error of the boot system. Besides `code` and `details` it carries typed fields: the component
 * and phase that failed, every missing dependency, every dependency cycle as a path.
 *
 * @example
 * try { await boot.load(); } catch (error) {
 *   if (error instanceof BootError && error.cycle) console.error(error.cycle.join(' → '));
 * }
 */
export class BootError extends KindlingError {
  /** The component that failed, when one did. */
  readonly component: string | undefined;
  /** The lifecycle step that failed. */
  readonly phase: BootPhase | undefined;
  /** Every dependency named but not registered. */
  readonly missing: readonly MissingDependency[];
  /** Every dependency cycle, each as a path whose last name repeats the first. */
  readonly cycles: readonly (readonly string[])[];

  constructor(code: ErrorCode, message: string, options: BootErrorOptions = {}) {
    const details: Record<string, unknown> = { ...options.details };
    if (options.component !== undefined) details['component'] = options.component;
    if (options.phase !== undefined) details['phase'] = options.phase;
    if (options.missing !== undefined) details['missing'] = options.missing;
    if (options.cycles !== undefined && options.cycles.length > 0) {
      details['cycles'] = options.cycles;
      details['cycle'] = options.cycles[0];
    }
    super(code, message, { ...options, details });
    this.component = options.component;
    this.phase = options.phase;
    this.missing = options.missing ?? [];
    this.cycles = options.cycles ?? [];
  }

  /** The first dependency cycle found, as a path (`['a', 'b', 'a']`), if any. */
  get cycle(): readonly string[] | undefined {
    return this.cycles[0];
  }
}
