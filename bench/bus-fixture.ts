// What the bus cases share: the background subscriptions (patterns that never match what is
// published) and handler functions that are really distinct, as in an application.
import { EventEmitter } from 'node:events';
import eventemitter2 from 'eventemitter2';
import mittModule from 'mitt';
import { silentLogger } from 'kindling';
import { DefaultEventBus } from 'kindling/events';

const { EventEmitter2 } = eventemitter2;
const mitt = ((mittModule as { default?: unknown }).default ?? mittModule) as typeof mittModule.default;

/** Which unrelated subscriptions are registered beside the measured ones. */
export type Background = 'none' | 'trailing' | 'mixed';

export const BACKGROUND_SIZE = 1000;

/** 1,000 patterns whose wildcards all trail a literal first segment (`ns1.*`, `ns2.**`, `ns3.*.changed`). */
export function trailingBackground(count = BACKGROUND_SIZE): string[] {
  const forms = [
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `ns${i}.item.*`,
  ];
  return Array.from({ length: count }, (_, i) => (forms[i % forms.length] as (i: number) => string)(i));
}

/**
 * 1,000 patterns of mixed forms: 700 with a literal first segment, 300 starting with a wildcard
 * (`*.ns7`, `**.ns8.done`, `*.ns9.*`), which no prefix can rule out.
 */
export function mixedBackground(count = BACKGROUND_SIZE): string[] {
  const forms = [
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `*.ns${i}`,
    (i: number) => `**.ns${i}.done`,
    (i: number) => `*.ns${i}.*`,
  ];
  return Array.from({ length: count }, (_, i) => (forms[i % forms.length] as (i: number) => string)(i));
}

/** The background's patterns; for libraries without wildcards, as many exact names. */
export function backgroundPatterns(background: Background, wildcards: boolean): string[] {
  if (background === 'none') return [];
  if (!wildcards) return Array.from({ length: BACKGROUND_SIZE }, (_, i) => `ns${i}.event`);
  return background === 'trailing' ? trailingBackground() : mixedBackground();
}

/** What every handler adds to, so that no handler's work can be dropped. */
export const handled = { count: 0 };

/**
 * `count` handlers with distinct code (each its own function source, not one closure copied), as the
 * handlers of an application are: the engine cannot treat them as one call site's single target.
 */
export function distinctHandlers(count: number): ((payload: unknown) => void)[] {
  return Array.from(
    { length: count },
    // Distinct function sources are the point here, so the source is generated.
    (_, i) =>
      // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call -- see above
      new Function(
        'state',
        `return function handler${i}(payload) { if (payload !== undefined) state.count += ${(i % 7) + 1}; };`,
      )(handled) as (payload: unknown) => void,
  );
}

/** The subjects of the bus cases, as their rows name them. */
export const KINDLING = 'kindling';
export const EE = 'EventEmitter';
export const EE2 = 'EventEmitter2 (wildcard)';
export const MITT = 'mitt';

/** One emitter behind a common face: `on` returns its own undo; `close` ends it. */
export interface EmitterFace {
  on(name: string, handler: (payload: unknown) => void): () => void;
  emit(name: string, payload: unknown): void;
  close(): Promise<void>;
}

/** A fresh emitter of each subject, by its row name: the bus and the peers it is measured beside. */
export function emitterFaces(): Record<string, () => EmitterFace> {
  return {
    [KINDLING]: () => {
      const bus = new DefaultEventBus({ nodeID: 'bench', logger: silentLogger });
      return {
        on: (name, handler) => {
          const subscription = bus.on(name, handler);
          return () => subscription.dispose();
        },
        emit: (name, payload) => bus.emit(name, payload),
        close: () => bus.stop(),
      };
    },
    [EE]: () => {
      const ee = new EventEmitter();
      ee.setMaxListeners(0);
      return {
        on: (name, handler) => (ee.on(name, handler), () => void ee.off(name, handler)),
        emit: (name, payload) => void ee.emit(name, payload),
        close: async () => void ee.removeAllListeners(),
      };
    },
    [EE2]: () => {
      const ee2 = new EventEmitter2({ wildcard: true, delimiter: '.', maxListeners: 0 });
      return {
        on: (name, handler) => (ee2.on(name, handler), () => void ee2.off(name, handler)),
        emit: (name, payload) => void ee2.emit(name, payload),
        close: async () => void ee2.removeAllListeners(),
      };
    },
    [MITT]: () => {
      const emitter = mitt<Record<string, unknown>>();
      return {
        on: (name, handler) => (emitter.on(name, handler), () => emitter.off(name, handler)),
        emit: (name, payload) => emitter.emit(name, payload),
        close: async () => emitter.all.clear(),
      };
    },
  };
}
