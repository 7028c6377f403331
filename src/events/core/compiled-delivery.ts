// Why this file exists: the bus hands an event to its subscribers in a loop, and that loop has one
// call site for every handler in the application. Past a few distinct handlers the engine gives up
// on predicting it, and every call goes through the slowest dispatch it has. For an event name that
// is published often, a function written for its subscribers has one call site per handler: each
// sees a single target, which the engine calls directly and may inline. With 100 distinct handlers
// that is several times faster per call; with 2 to 10, about twice.
//
// The generated code holds no user text: only indices and the names of its own parameters. It does
// what the loop in EventCore does, in the same order, with the same try/catch around each call.

/** @internal One subscriber's call: what the core's loop calls for it. */
type Deliver = (data: unknown, name: string, envelope: undefined) => unknown;

/**
 * @internal Calls every subscriber of a plan in order and returns the indices of those that refused
 * the event (overflow `error`), or `undefined` when none did.
 */
export type CompiledDelivery = (name: string, data: unknown) => number[] | undefined;

/** @internal What the compiled code calls back into: the loop's own handling of results and throws. */
export interface DeliveryHooks {
  /** A handler returned something: true when that means it refused the event. */
  after(index: number, name: string, result: unknown): boolean;
  /** A handler threw. */
  failed(index: number, name: string, error: unknown): void;
}

/** The fewest and most subscribers a compiled delivery is written for; outside, the loop is as good. */
export const COMPILE_MIN_SUBSCRIBERS = 2;
export const COMPILE_MAX_SUBSCRIBERS = 256;

/** Publishes of one plan before it is compiled: a name published a few times is not worth it. */
export const COMPILE_AFTER_CALLS = 64;

/** Where code generation is off (`--disallow-code-generation-from-strings`), the first refusal ends the attempts. */
let generationRefused = false;
let sequence = 0;

/**
 * Writes the delivery function of `delivers`, or returns `undefined` when it cannot (code generation
 * disallowed, or a count outside the compiled range): the caller keeps its loop. `makeFunction` is
 * the `Function` constructor; tests pass one that throws.
 */
export function compileDelivery(
  delivers: readonly Deliver[],
  hooks: DeliveryHooks,
  makeFunction: FunctionConstructor = Function,
): CompiledDelivery | undefined {
  const count = delivers.length;
  if (generationRefused || count < COMPILE_MIN_SUBSCRIBERS || count > COMPILE_MAX_SUBSCRIBERS) return undefined;
  // A distinct first line for every function: sources that are the same text could share the
  // engine's call-site feedback, which is what one function per plan avoids.
  let source = `// kindling delivery ${++sequence}\nconst after = hooks.after, failed = hooks.failed;\n`;
  for (let i = 0; i < count; i++) source += `const d${i} = delivers[${i}];\n`;
  source += 'return function deliverAll(name, data) {\n  let refused, result;\n';
  for (let i = 0; i < count; i++) {
    source +=
      `  try { result = d${i}(data, name, undefined); ` +
      `if (result !== undefined && after(${i}, name, result)) (refused ??= []).push(${i}); } ` +
      `catch (error) { failed(${i}, name, error); }\n`;
  }
  source += '  return refused;\n};';
  try {
    const build = new makeFunction('delivers', 'hooks', source) as (
      delivers: readonly Deliver[],
      hooks: DeliveryHooks,
    ) => CompiledDelivery;
    return build(delivers, hooks);
  } catch {
    generationRefused = true;
    return undefined;
  }
}

/** @internal For tests: lets code generation be tried again after a refusal. */
export function resetCompiledDelivery(): void {
  generationRefused = false;
}
