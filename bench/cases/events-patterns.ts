// Pattern resolution: which of 1,000 event-dialect patterns match a name. Kindling's PatternSet (the
// trie and lookup cache the event bus uses) on a cache miss and on a hit, beside the linear scans
// other buses do per event: a loop over 1,000 compiled RegExps, Moleculer's own `match()` over the
// 1,000 patterns (what its emit does), and picomatch matchers (dots mapped to slashes, names
// converted beforehand so the conversion is not timed). Reports ns per resolution.
//
// Misses use a fresh name every time (a pool of 300,000 names, far more than the 16,384 names the
// cache keeps, so a name has always been evicted before it comes round again); the cost of filling
// and clearing the cache is part of the figure. Time is CPU time (process.cpuUsage); every subject
// runs in this one process, interleaved over ROUNDS rounds; the figure is the median over rounds of
// tinybench's median sample.
import moleculer from 'moleculer';
import picomatch from 'picomatch';
import { Bench } from 'tinybench';
import { compilePattern } from 'kindling';
import { PatternSet } from '../../dist/src/pattern/pattern-trie.js';
import { type BenchRow, calibrateCpu, compare, cpuNowMs, report } from '../harness.js';

const PATTERNS = 1000;
const POOL = 300_000;
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const TIME_MS = Number(process.env['TIME_MS'] ?? 300);
const WARMUP_MS = 100;
const TARGET_CALL_MS = 2;
const AGREEMENT_SAMPLE = 3000;

/**
 * 1,000 patterns: `leading` of them start with a wildcard (`*.nsN`, `**.nsN.done`, which a prefix
 * trie must test on every miss unless it indexes them otherwise), the others have a literal first
 * segment (`nsN.*`, `nsN.**`, `nsN.*.changed`, `nsN.item?.updated`, `nsN.user.created`, `nsN.order*`,
 * `$nsN.**`).
 */
function patterns(leading: number): string[] {
  const literal = [
    (i: number) => `ns${i}.*`,
    (i: number) => `ns${i}.**`,
    (i: number) => `ns${i}.*.changed`,
    (i: number) => `ns${i}.item?.updated`,
    (i: number) => `ns${i}.user.created`,
    (i: number) => `ns${i}.order*`,
    (i: number) => `$ns${i}.**`,
  ];
  const wild = [(i: number) => `*.ns${i}`, (i: number) => `**.ns${i}.done`];
  const every = leading === 0 ? Infinity : PATTERNS / leading;
  return Array.from({ length: PATTERNS }, (_, i) =>
    i % every < 1
      ? (wild[i % 2] as (i: number) => string)(i)
      : (literal[i % literal.length] as (i: number) => string)(i),
  );
}

/**
 * Names that hit the patterns of one namespace, names no pattern matches, and names ending in
 * `.done` (every `**.nsN.done` pattern shares that last segment, so these test all of them: the
 * costly case for an index by last segment), interleaved.
 */
function names(count: number): string[] {
  const out: string[] = [];
  for (let j = 0; out.length < count; j++) {
    const ns = (j * 7919) % PATTERNS;
    out.push(`ns${ns}.item${j % 10}.updated`, `ns${ns}.x${j}.changed`, `zz${j}.user.created`, `zz${j}.ns${ns}.done`);
  }
  return out.slice(0, count);
}

function toRegExp(pattern: string): RegExp {
  let body = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        body += '.*';
        i++;
      } else body += '[^.]*';
    } else if (ch === '?') body += '[^.]';
    else body += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(`^${body}$`);
}

interface Subject {
  /** The row's name and subject in the report. */
  readonly row: string;
  readonly subject: string;
  /** Resolves `count` names; returns how many matches it found (so nothing is optimised away). */
  readonly run: (count: number) => number;
}

/** The shares of leading-wildcard patterns the trie is timed on; the scans and the hit use MAIN_MIX. */
const MIXES = [0, 10, 100, 200] as const;
const MAIN_MIX = 10;
const list = patterns(MAIN_MIX);
const pool = names(POOL);
const slashPool = pool.map((n) => n.replaceAll('.', '/'));
let cursor = 0;
const next = (): number => {
  cursor = cursor + 1 === POOL ? 0 : cursor + 1;
  return cursor;
};

function patternSet(leading: number): PatternSet<number> {
  const built = new PatternSet<number>('event');
  patterns(leading).forEach((pattern, i) => built.add(pattern, i));
  return built;
}
const set = patternSet(MAIN_MIX);
const regexps = list.map(toRegExp);
const matchers = list.map((p) => picomatch(p.replaceAll('.', '/')));
const moleculerMatch = moleculer.Utils.match;
const hot = ['ns7.item3.updated', 'ns21.x5.changed', 'zz1.user.created', 'ns42.order7'];

const missRow = (leading: number): string =>
  `cache miss, ${PATTERNS.toLocaleString('en')} patterns, ${leading} leading wildcards`;
const HIT_ROW = `cache hit, ${PATTERNS.toLocaleString('en')} patterns`;

const subjects: Subject[] = [
  ...MIXES.map((leading): Subject => {
    const mixSet = leading === MAIN_MIX ? set : patternSet(leading);
    return {
      row: missRow(leading),
      subject: 'kindling',
      run: (count) => {
        let found = 0;
        for (let i = 0; i < count; i++) found += mixSet.match(pool[next()] as string).length;
        return found;
      },
    };
  }),
  {
    row: HIT_ROW,
    subject: 'kindling',
    run: (count) => {
      let found = 0;
      for (let i = 0; i < count; i++) found += set.match(hot[i & 3] as string).length;
      return found;
    },
  },
  {
    row: missRow(MAIN_MIX),
    subject: 'RegExp loop',
    run: (count) => {
      let found = 0;
      for (let i = 0; i < count; i++) {
        const name = pool[next()] as string;
        for (const re of regexps) if (re.test(name)) found++;
      }
      return found;
    },
  },
  {
    row: missRow(MAIN_MIX),
    subject: 'Moleculer match() loop',
    run: (count) => {
      let found = 0;
      for (let i = 0; i < count; i++) {
        const name = pool[next()] as string;
        for (const pattern of list) if (moleculerMatch(name, pattern)) found++;
      }
      return found;
    },
  },
  {
    row: missRow(MAIN_MIX),
    subject: 'picomatch loop',
    run: (count) => {
      let found = 0;
      for (let i = 0; i < count; i++) {
        const name = slashPool[next()] as string;
        for (const isMatch of matchers) if (isMatch(name)) found++;
      }
      return found;
    },
  },
];
const key = (subject: Subject): string => `${subject.row} / ${subject.subject}`;

/** The scans and the trie must agree before their speed means anything. */
function checkAgreement(sample: number): void {
  for (let j = 0; j < sample; j++) {
    const name = pool[j] as string;
    const ours = [...set.match(name)].sort((a, b) => a - b).join(',');
    const byRegExp = regexps.flatMap((re, i) => (re.test(name) ? [i] : [])).join(',');
    const byCompile = list.flatMap((p, i) => (compilePattern(p, 'event').test(name) ? [i] : [])).join(',');
    if (ours !== byRegExp || ours !== byCompile)
      throw new Error(`disagreement on ${name}: ${ours} / ${byRegExp} / ${byCompile}`);
  }
}

const calibrate = (subject: Subject): number => calibrateCpu(subject.run, TARGET_CALL_MS);

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  checkAgreement(AGREEMENT_SAMPLE);
  const batches = new Map(subjects.map((s) => [key(s), calibrate(s)]));
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, warmupTime: WARMUP_MS, throws: true, now: cpuNowMs });
    for (const subject of subjects) {
      const batch = batches.get(key(subject)) as number;
      bench.add(key(subject), () => void subject.run(batch));
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name} did not complete: ${result.state}`);
      const nsPerOp = (result.latency.p50 * 1e6) / (batches.get(task.name) as number);
      samples.set(task.name, [...(samples.get(task.name) ?? []), nsPerOp]);
    }
  }
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const rows: BenchRow[] = subjects.map((s) => {
    const value = median(samples.get(key(s)) as number[]);
    // Absolute times are shown for information: they depend on the machine, the ratios do not.
    return { name: s.row, subject: s.subject, value, unit: 'ns', better: 'lower' } satisfies BenchRow;
  });
  // Shown in mix order, the scans right under the miss they are compared with, the hit last.
  const display = [...MIXES.map(missRow), HIT_ROW];
  rows.sort((a, b) => display.indexOf(a.name) - display.indexOf(b.name));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  report({
    case: `Event bus: pattern resolution against ${PATTERNS.toLocaleString('en')} patterns (ns per name)`,
    rows: compare(rows),
    notes: [
      `misses: a fresh name each time from a pool of ${POOL.toLocaleString('en')} (the cache keeps 16,384), so cache fill and reset are included; hit: 4 names in rotation`,
      `the scans (RegExp, Moleculer match(), picomatch) and the hit use the mix with ${MAIN_MIX} leading-wildcard patterns; "leading wildcards" = patterns like *.nsN and **.nsN.done`,
      `PatternSet, RegExp loop and compilePattern agree on ${AGREEMENT_SAMPLE.toLocaleString('en')} sample names`,
      `time = process CPU time; median of ${ROUNDS} rounds × ${TIME_MS} ms (+${WARMUP_MS} ms warm-up) of tinybench's median sample; each timed call ≈ ${TARGET_CALL_MS} ms of CPU`,
      `case took ${seconds.toFixed(0)} s`,
    ],
  });
}

await main();
