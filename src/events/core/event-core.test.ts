import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Disposable } from '../../common/disposable.js';
import { silentLogger } from '../../common/logger.js';
import { matchEventName } from '../../pattern/kind-pattern.js';
import { RESOLUTION_CACHE_LIMIT } from '../../pattern/resolution-cache.js';
import { EventCore } from './event-core.js';
import { LocalTransport } from './transport.js';

function newCore(): EventCore {
  return new EventCore({
    nodeID: 'node-1',
    logger: silentLogger,
    transport: new LocalTransport(),
    bufferSize: 16,
    overflow: 'drop-oldest',
  });
}

interface Live {
  readonly id: number;
  readonly pattern: string;
  readonly group: string | undefined;
  readonly registration: Disposable;
}

type Step =
  | {
      readonly op: 'subscribe';
      readonly pattern: string;
      readonly group: string | undefined;
      readonly needsEnvelope: boolean;
    }
  | { readonly op: 'unsubscribe'; readonly pick: number }
  | { readonly op: 'publish'; readonly name: string; readonly mode: 'emit' | 'broadcast' };

const words = ['a', 'b', 'c'];
const eventName = fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
const eventPattern = fc
  .array(fc.constantFrom(...words, '*', '**', 'a*', '?'), { minLength: 1, maxLength: 3 })
  .map((s) => s.join('.'));
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('subscribe' as const),
    pattern: eventPattern,
    group: fc.constantFrom(undefined, undefined, 'g1', 'g2'),
    needsEnvelope: fc.boolean(),
  }),
  fc.record({ op: fc.constant('unsubscribe' as const), pick: fc.nat() }),
  fc.record({
    op: fc.constant('publish' as const),
    name: eventName,
    mode: fc.constantFrom('emit' as const, 'broadcast' as const),
  }),
  fc.record({
    op: fc.constant('publish' as const),
    name: eventName,
    mode: fc.constantFrom('emit' as const, 'broadcast' as const),
  }),
);

describe('EventCore subscriptions', () => {
  it('delivers like a plain list of subscribers, whatever the order of subscribes, unsubscribes and publishes', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (script) => {
        const core = newCore();
        const live: Live[] = [];
        let delivered: number[] = [];
        let next = 0;
        for (const s of script) {
          if (s.op === 'subscribe') {
            const id = next++;
            const registration = core.subscribe({
              pattern: s.pattern,
              group: s.group,
              needsEnvelope: s.needsEnvelope,
              label: `#${id}`,
              deliver: () => void delivered.push(id),
            });
            live.push({ id, pattern: s.pattern, group: s.group, registration });
          } else if (s.op === 'unsubscribe') {
            if (live.length === 0) continue;
            const [gone] = live.splice(s.pick % live.length, 1);
            gone?.registration.dispose();
            gone?.registration.dispose();
          } else {
            delivered = [];
            if (s.mode === 'broadcast') core.broadcast(s.name, null);
            else core.emit(s.name, null);
            const matching = live.filter((l) => matchEventName(l.pattern, s.name));
            if (s.mode === 'broadcast') {
              expect(delivered).toEqual(matching.map((l) => l.id));
            } else {
              // emit: every subscriber without a group, and one member of each group and pattern.
              const slotOf = (l: Live): string => (l.group === undefined ? `#${l.id}` : `${l.group} ${l.pattern}`);
              const byId = new Map(matching.map((l) => [l.id, l]));
              expect(delivered.every((id) => byId.has(id))).toBe(true);
              expect(delivered.map((id) => slotOf(byId.get(id) as Live)).sort()).toEqual(
                [...new Set(matching.map(slotOf))].sort(),
              );
            }
          }
          expect(core.stats().subscriptions).toBe(live.length);
        }
        core.close();
        expect(core.stats()).toEqual(expect.objectContaining({ subscriptions: 0, cachedNames: 0 }));
      }),
      { numRuns: 300 },
    );
  });

  it('reaches exactly the groups a publish names, in a short list or a long one', () => {
    const groupNames = Array.from({ length: 14 }, (_, i) => `g${i}`);
    const subscriber = fc.record({
      pattern: fc.constantFrom('a.b', 'a.*', '**'),
      group: fc.option(fc.constantFrom(...groupNames), { nil: undefined }),
    });
    // Up to 24 names: lists of 8 or fewer are searched, longer ones marked; repeats and unknown names too.
    const named = fc.array(fc.constantFrom(...groupNames, 'nobody'), { maxLength: 24 });
    fc.assert(
      fc.property(
        fc.array(subscriber, { maxLength: 30 }),
        fc.array(fc.tuple(fc.constantFrom('emit' as const, 'broadcast' as const), named), {
          minLength: 1,
          maxLength: 6,
        }),
        (subs, publishes) => {
          const core = newCore();
          let delivered: number[] = [];
          subs.forEach((s, id) =>
            core.subscribe({
              pattern: s.pattern,
              group: s.group,
              needsEnvelope: false,
              label: `#${id}`,
              deliver: () => void delivered.push(id),
            }),
          );
          for (const [mode, groups] of publishes) {
            delivered = [];
            core.publish({ name: 'a.b', data: null, eventType: mode, groups });
            // A subscriber without a group is in no named group.
            const reached = subs
              .map((s, id) => ({ ...s, id }))
              .filter((s) => s.group !== undefined && groups.includes(s.group));
            if (mode === 'broadcast') expect(delivered).toEqual(reached.map((s) => s.id));
            else {
              // One member of each named group and pattern.
              const slotOf = (id: number): string => `${subs[id]?.group} ${subs[id]?.pattern}`;
              expect(delivered.map(slotOf).sort()).toEqual([...new Set(reached.map((s) => slotOf(s.id)))].sort());
            }
          }
          core.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the plans of names that a new or removed pattern cannot match', () => {
    const core = newCore();
    core.subscribe({ pattern: 'b.y', needsEnvelope: false, label: 'b.y', deliver: () => undefined });
    // A plan is cached from a name's second publish on.
    for (const name of ['a.x', 'a.y', 'b.y', 'c.z']) core.broadcast(name, null);
    expect(core.stats().cachedNames).toBe(0);
    for (const name of ['a.x', 'a.y', 'b.y', 'c.z']) core.broadcast(name, null);
    expect(core.stats().cachedNames).toBe(4);
    const wildcard = core.subscribe({ pattern: 'a.*', needsEnvelope: false, label: 'a.*', deliver: () => undefined });
    expect(core.stats().cachedNames).toBe(2);
    core.broadcast('a.x', null);
    wildcard.dispose();
    expect(core.stats().cachedNames).toBe(2);
    core.subscribe({ pattern: 'c.z', needsEnvelope: false, label: 'c.z', deliver: () => undefined });
    expect(core.stats().cachedNames).toBe(1);
  });

  it('caches at most the documented number of names after a million distinct ones', () => {
    const core = newCore();
    let calls = 0;
    core.subscribe({ pattern: 'user.*', needsEnvelope: false, label: 'users', deliver: () => void calls++ });
    core.subscribe({ pattern: 'order.*.paid', needsEnvelope: false, label: 'orders', deliver: () => void calls++ });
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      core.emit(`user.u${i}`, null);
      if ((i & 1023) === 0) largest = Math.max(largest, core.stats().cachedNames);
    }
    expect(calls).toBe(1_000_000);
    expect(largest).toBeGreaterThan(0);
    expect(core.stats().cachedNames).toBeLessThanOrEqual(RESOLUTION_CACHE_LIMIT);
    expect(largest).toBeLessThanOrEqual(RESOLUTION_CACHE_LIMIT);
  });

  it('unsubscribes tens of thousands of subscribers of one name in any order, the rest still called in order', () => {
    const core = newCore();
    const called: number[] = [];
    const count = 40_000;
    const registrations = Array.from({ length: count }, (_, id) =>
      core.subscribe({
        pattern: 'app.ready',
        needsEnvelope: false,
        label: `#${id}`,
        deliver: () => void called.push(id),
      }),
    );
    // A fixed shuffle (a multiplicative step coprime with the count visits every index once).
    const order = Array.from({ length: count }, (_, i) => (i * 7919) % count);
    const gone = new Set<number>();
    for (const [step, id] of order.entries()) {
      registrations[id]?.dispose();
      gone.add(id);
      if (step % 10_000 === 9_999) {
        called.length = 0;
        core.broadcast('app.ready', null);
        expect(called).toEqual(Array.from({ length: count }, (_, i) => i).filter((i) => !gone.has(i)));
      }
    }
    expect(core.stats().subscriptions).toBe(0);
    called.length = 0;
    core.broadcast('app.ready', null);
    expect(called).toEqual([]);
  });

  it('balances an emit over the members of a group that come and go', () => {
    const core = newCore();
    const called: string[] = [];
    const member = (label: string): Disposable =>
      core.subscribe({
        pattern: 'job.*',
        group: 'workers',
        needsEnvelope: false,
        label,
        deliver: () => void called.push(label),
      });
    const a = member('a');
    member('b');
    core.subscribe({
      pattern: 'job.*',
      needsEnvelope: false,
      label: 'audit',
      deliver: () => void called.push('audit'),
    });
    for (let i = 0; i < 4; i++) core.emit('job.run', null);
    expect(called.filter((l) => l !== 'audit').sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(called.filter((l) => l === 'audit')).toHaveLength(4);
    a.dispose();
    called.length = 0;
    for (let i = 0; i < 3; i++) core.emit('job.run', null);
    expect(called.sort()).toEqual(['audit', 'audit', 'audit', 'b', 'b', 'b']);
  });

  it('keeps the round robin of a group fair while its members leave oldest first, middle or newest', () => {
    const core = newCore();
    const called: number[] = [];
    const members = Array.from({ length: 6 }, (_, id) =>
      core.subscribe({
        pattern: 'job.run',
        group: 'workers',
        needsEnvelope: false,
        deliver: () => void called.push(id),
      }),
    );
    const round = (): number[] => {
      called.length = 0;
      for (let i = 0; i < 12; i++) core.emit('job.run', i);
      return [...called];
    };
    expect(round()).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    // One emit served #0, so #1 is due: it stays due after #0 (the oldest) leaves.
    core.emit('job.run', null);
    members[0]?.dispose();
    called.length = 0;
    core.emit('job.run', null);
    expect(called).toEqual([1]);
    const counts = (ids: number[]): Map<number, number> => {
      const out = new Map<number, number>();
      for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
      return out;
    };
    expect(counts(round().slice(0, 10))).toEqual(new Map([1, 2, 3, 4, 5].map((id) => [id, 2])));
    // The member that was due leaves: the next one is served, and the leaver never again.
    called.length = 0;
    core.emit('job.run', null);
    const due = called[0] as number;
    core.emit('job.run', null);
    const next = called[1] as number;
    members[next]?.dispose();
    called.length = 0;
    core.emit('job.run', null);
    expect(called).not.toContain(next);
    members[5]?.dispose();
    members[2]?.dispose();
    const left = [1, 2, 3, 4, 5].filter((id) => id !== next && id !== 5 && id !== 2);
    const many = round();
    expect(many.every((id) => left.includes(id))).toBe(true);
    expect(new Set(counts(many).values()).size).toBe(1);
    expect(due).not.toBe(next);
    for (const member of members) member?.dispose();
    called.length = 0;
    core.emit('job.run', null);
    expect(called).toEqual([]);
    expect(core.stats().subscriptions).toBe(0);
  });

  it('limits an emit to the groups it names, however many (a long list is looked up, not searched)', () => {
    const core = newCore();
    const called: string[] = [];
    const groups = Array.from({ length: 40 }, (_, i) => `g${i}`);
    for (const group of groups) {
      for (const member of ['a', 'b']) {
        core.subscribe({
          pattern: 'job.*',
          group,
          needsEnvelope: false,
          deliver: () => void called.push(`${group}${member}`),
        });
      }
    }
    core.subscribe({ pattern: 'job.*', needsEnvelope: false, deliver: () => void called.push('no group') });
    const named = groups.filter((_, i) => i % 3 === 0);
    for (const list of [named, named.slice(0, 3)]) {
      called.length = 0;
      core.publish({ name: 'job.run', data: null, eventType: 'emit', groups: list });
      expect(called.map((label) => label.slice(0, -1))).toEqual(list);
      called.length = 0;
      core.publish({ name: 'job.run', data: null, eventType: 'broadcast', groups: list });
      expect(called).toEqual(list.flatMap((group) => [`${group}a`, `${group}b`]));
    }
  });

  it('delivers right through a name going from one subscriber to several and back', () => {
    const core = newCore();
    const called: string[] = [];
    const member = (label: string, pattern = 'job.run'): Disposable =>
      core.subscribe({
        pattern,
        group: 'workers',
        needsEnvelope: false,
        label,
        deliver: () => void called.push(label),
      });
    const emitMany = (count: number): string[] => {
      called.length = 0;
      for (let i = 0; i < count; i++) core.emit('job.run', i);
      return [...called].sort();
    };
    // Published twice so that the plan is cached: the subscriber's own plan from then on.
    const a = member('a');
    expect(emitMany(2)).toEqual(['a', 'a']);
    // A second member of the group: the name is balanced now.
    const b = member('b');
    expect(emitMany(4)).toEqual(['a', 'a', 'b', 'b']);
    // Back to one: the first plan again, every emit to a.
    b.dispose();
    expect(emitMany(3)).toEqual(['a', 'a', 'a']);
    // A wildcard match beside it, then gone again.
    const all = core.subscribe({
      pattern: 'job.*',
      needsEnvelope: true,
      label: 'audit',
      deliver: (_data, _name, envelope) =>
        void called.push(`audit ${envelope === undefined ? 'no envelope' : 'envelope'}`),
    });
    expect(emitMany(2)).toEqual(['a', 'a', 'audit envelope', 'audit envelope']);
    all.dispose();
    expect(emitMany(2)).toEqual(['a', 'a']);
    a.dispose();
    expect(emitMany(2)).toEqual([]);
    // A subscriber that needs the envelope alone on a name gets it.
    core.subscribe({
      pattern: 'job.run',
      needsEnvelope: true,
      label: 'alone',
      deliver: (_data, _name, envelope) => void called.push(envelope?.name ?? 'no envelope'),
    });
    expect(emitMany(2)).toEqual(['job.run', 'job.run']);
  });
});
