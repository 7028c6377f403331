import type { Logger } from 'kindling';
import type { FaultOrigin } from 'kindling/boot';

/** What a function receives besides its input. */
export interface FunctionContext {
  /** The id of the `function.js` entry being called. */
  readonly id: string;
  readonly logger: Logger;
  /** Anything the caller adds (the http component adds `endpoint`, the endpoint entry id). */
  readonly [key: string]: unknown;
}

/** A function loaded from a `function.js` entry. */
export interface LoadedFunction {
  readonly id: string;
  /** Absolute path of the module file. */
  readonly file: string;
  readonly exportName: string;
  /** A hash of the module file's content: a new version after each change. */
  readonly version: string;
  readonly fn: (input: unknown, context: FunctionContext) => unknown;
}

/** The functions of the committed registry state, by entry id. */
export interface Functions {
  /** The committed function with this id. */
  get(id: string): LoadedFunction | undefined;
  /** Ids of the committed functions, sorted. */
  ids(): string[];
  /**
   * Calls the committed function `id` with `input`. Throws `NOT_FOUND` when there is none; whatever
   * the function throws propagates.
   */
  call(id: string, input: unknown, context?: Record<string, unknown>): Promise<unknown>;
  /**
   * The function a fault came from: the call whose async context it happened in (a rejection
   * nobody handled, a throw in a timer the function set), else the top-most stack frame in a
   * function's module file. Undefined when neither tells. A `FaultAttributor` (kindling/boot) for the
   * process guard.
   */
  originOf(fault: unknown): FaultOrigin | undefined;
}
/** Token of the boot's {@link Functions}, bound by the `function` component. */
export const Functions: unique symbol = Symbol.for('kindling.Functions');
