// Boot planning on large graphs: levels and cycles asserted, never time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BootError } from './boot-error.js';
import { planLevels } from './loader.js';
import { replayableRandom } from '../../test/support/replayable-random.js';

type Spec = { name: string; dependsOn: string[] };
const pad = (i: number): string => String(i).padStart(6, '0');

/** A random acyclic graph: each component depends on up to `maxDeps` earlier ones. */
function randomDag(size: number, maxDeps: number, random: () => number, name = (i: number) => `c${pad(i)}`): Spec[] {
  return Array.from({ length: size }, (_, i) => {
    const deps = new Set<string>();
    const wanted = Math.floor(random() * (maxDeps + 1));
    for (let k = 0; k < wanted && i > 0; k++) deps.add(name(Math.floor(random() * i)));
    return { name: name(i), dependsOn: [...deps] };
  });
}

function planError(components: Spec[]): BootError {
  try {
    planLevels(components);
  } catch (error) {
    return error as BootError;
  }
  throw new Error('expected planLevels to refuse');
}

/** Checks that every component sits on a level above each of its dependencies. */
function expectLevelled(components: Spec[], levels: string[][]): void {
  const levelOf = new Map<string, number>();
  levels.forEach((names, at) => names.forEach((name) => levelOf.set(name, at)));
  expect(levelOf.size).toBe(components.length);
  // Each component sits on the lowest level above all of its dependencies.
  const wrong = components.filter(({ name, dependsOn }) => {
    const below = dependsOn.map((dep) => levelOf.get(dep) as number);
    return levelOf.get(name) !== (below.length === 0 ? 0 : Math.max(...below) + 1);
  });
  expect(wrong.map((c) => c.name)).toEqual([]);
}

describe('planLevels on large graphs', () => {
  it('levels 3,000 components with random dependencies, whichever way their names sort', () => {
    const random = replayableRandom(14);
    const forward = randomDag(3_000, 6, random);
    expectLevelled(forward, planLevels(forward));
    // The same graph with names that sort above their dependants (the old search's worst case).
    const reversed = randomDag(3_000, 6, replayableRandom(14), (i) => `c${pad(999_999 - i)}`);
    expectLevelled(reversed, planLevels(reversed));
  });

  it('levels a chain of 100,000 components without a deep call stack', () => {
    const chain = Array.from({ length: 100_000 }, (_, i) => ({
      name: `c${pad(i)}`,
      dependsOn: i === 0 ? [] : [`c${pad(i - 1)}`],
    }));
    const levels = planLevels(chain.slice().reverse());
    expect(levels.length).toBe(100_000);
    expect(levels[0]).toEqual(['c000000']);
    expect(levels[99_999]).toEqual(['c099999']);
  });

  it('reports exactly the cycle of 3 hidden in a random graph of 5,000 components', () => {
    const components = randomDag(5_000, 6, replayableRandom(3));
    // c004000 → c002000 → c001000 → c004000: two edges go backwards in the DAG's order.
    const at = (i: number) => components[i] as Spec;
    at(1_000).dependsOn.push('c004000');
    at(4_000).dependsOn.push('c002000');
    at(2_000).dependsOn.push('c001000');
    const error = planError(components);
    expect(error.code).toBe('INVALID');
    expect(error.cycles).toEqual([['c001000', 'c004000', 'c002000', 'c001000']]);
    expect(error.message).toBe('component dependency cycle: c001000 → c004000 → c002000 → c001000');
  });

  it('reports the shortest cycle through a group that has longer ones too', () => {
    // a → b → c → d → a and the shortcut b → a: the short loop is reported first, then one that
    // puts c and d on a listed cycle.
    const error = planError([
      { name: 'a', dependsOn: ['b'] },
      { name: 'b', dependsOn: ['c', 'a'] },
      { name: 'c', dependsOn: ['d'] },
      { name: 'd', dependsOn: ['a'] },
    ]);
    expect(error.cycles).toEqual([
      ['a', 'b', 'a'],
      ['a', 'b', 'c', 'd', 'a'],
    ]);
  });

  it('lists one cycle per group of a long ring and never more than 50', () => {
    const ring = Array.from({ length: 50_000 }, (_, i) => ({
      name: `r${pad(i)}`,
      dependsOn: [`r${pad((i + 1) % 50_000)}`],
    }));
    const loops = Array.from({ length: 60 }, (_, i) => ({ name: `s${pad(i)}`, dependsOn: [`s${pad(i)}`] }));
    const error = planError([...ring, ...loops]);
    const cycles = error.cycles as string[][];
    expect(cycles.length).toBe(50);
    expect(cycles[0]?.length).toBe(50_001);
    expect(cycles[0]?.[0]).toBe('r000000');
    expect(cycles[1]).toEqual(['s000000', 's000000']);
  });

  it('refuses exactly the graphs that have a cycle, naming real paths (property)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((size) =>
            fc.tuple(
              fc.constant(size),
              fc.array(fc.tuple(fc.nat(size - 1), fc.nat(size - 1)), { maxLength: size * 2 }),
            ),
          ),
        ([size, edges]) => {
          const components = Array.from({ length: size }, (_, i) => ({ name: `n${i}`, dependsOn: [] as string[] }));
          for (const [from, to] of edges) (components[from] as Spec).dependsOn.push(`n${to}`);
          // Reference answer: repeatedly remove components whose dependencies are all removed.
          const left = new Set(components.map((c) => c.name));
          for (let changed = true; changed;) {
            changed = false;
            for (const c of components) {
              if (left.has(c.name) && c.dependsOn.every((dep) => !left.has(dep))) {
                left.delete(c.name);
                changed = true;
              }
            }
          }
          const hasCycle = left.size > 0;
          let cycles: string[][] | undefined;
          try {
            expectLevelled(components, planLevels(components));
          } catch (error) {
            cycles = (error as BootError).cycles as string[][];
          }
          expect(cycles !== undefined).toBe(hasCycle);
          for (const cycle of cycles ?? []) {
            expect(cycle[0]).toBe(cycle.at(-1));
            expect(new Set(cycle.slice(0, -1)).size).toBe(cycle.length - 1);
            for (let i = 0; i + 1 < cycle.length; i++) {
              const from = components.find((c) => c.name === cycle[i]) as Spec;
              expect(from.dependsOn).toContain(cycle[i + 1]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
