import { compilePattern, type CompiledPattern } from '../../../pattern/kind-pattern.js';

/** The two permissions of the Wippy events module, checked per system. */
export type EventAction = 'events.send' | 'events.subscribe';

/**
 * Decides whether an action on a system is allowed. `system` is the concrete system for
 * `events.send` and for each delivered event of a wildcard subscription, and the subscription's
 * pattern as written for the check made by `subscribe` itself.
 *
 * @example
 * const policy: EventPermissionPolicy = { allows: (action, system) => system !== 'payments' };
 */
export interface EventPermissionPolicy {
  allows(action: EventAction, system: string): boolean;
}

/** One grant of {@link allowEvents}: an action (or `*` for both) on systems matching a kind-dialect pattern. */
export interface EventPermissionRule {
  readonly action: EventAction | '*';
  /** A kind-dialect pattern of systems (`orders`, `orders.*`, `**`). */
  readonly system: string;
}

/**
 * A deny-by-default policy that allows exactly the listed grants. A subscription pattern is allowed
 * when a grant's pattern matches it as written (`orders.*` allows `subscribe('orders.eu')` and
 * `subscribe('orders.*')`, not `subscribe('**')`); the events a wildcard subscription receives are
 * checked again one system at a time, so a grant never leaks a system it does not match.
 *
 * @example
 * const bus = new DefaultEventBus({
 *   permissions: allowEvents([{ action: 'events.send', system: 'orders' }, { action: '*', system: 'public.*' }]),
 * });
 */
export function allowEvents(rules: readonly EventPermissionRule[]): EventPermissionPolicy {
  const compiled: { action: EventPermissionRule['action']; pattern: CompiledPattern }[] = rules.map((rule) => ({
    action: rule.action,
    pattern: compilePattern(rule.system, 'kind'),
  }));
  return {
    allows(action, system) {
      for (const rule of compiled) {
        if (
          (rule.action === '*' || rule.action === action) &&
          (rule.pattern.source === system || rule.pattern.test(system))
        ) {
          return true;
        }
      }
      return false;
    },
  };
}

/** The policy of a bus without `permissions`: everything is allowed. */
export const allowAllEvents: EventPermissionPolicy = Object.freeze({ allows: () => true });
