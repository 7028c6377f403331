// Config decoding: decodeEntryConfig against the plain class-transformer + class-validator pair on
// the same classes and data, with 300 other decorated classes registered (class-validator's rule
// lookup grows with every decorated class in the process).
import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, ValidateNested, validateSync, IsIn, IsBoolean } from 'class-validator';
import { createEntry, decodeEntryConfig } from 'kindling';
import { calibrateCpu, compare, consume, cpuNowMs, report, type BenchRow } from '../harness.js';

// 300 unrelated decorated classes, as a large application would have.
for (let i = 0; i < 300; i++) {
  const Other = class {};
  Object.defineProperty(Other, 'name', { value: `Other${i}` });
  IsString()(Other.prototype, 'name');
  IsInt()(Other.prototype, 'count');
  IsOptional()(Other.prototype, 'count');
}

class Route {
  @IsString() path = '/';
  @IsIn(['GET', 'POST', 'PUT', 'DELETE']) method = 'GET';
  @IsString() handler = '';
}

class ServiceConfig {
  @IsString() @IsOptional() id?: string;
  @IsOptional() meta?: Record<string, unknown>;
  @IsString() name = '';
  @IsInt() @Min(1) @Max(65535) port = 8080;
  @IsInt() @Min(0) timeout = 30;
  @IsBoolean() tls = false;
  @ValidateNested({ each: true }) @Type(() => Route) routes: Route[] = [];
}

const data = {
  name: 'api',
  port: 9000,
  timeout: 5,
  tls: true,
  routes: [
    { path: '/users', method: 'GET', handler: 'app:list' },
    { path: '/users', method: 'POST', handler: 'app:create' },
  ],
};
const entry = createEntry({ id: 'app:api', kind: 'http.service', data });
const options = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false };

const QUICK = process.env['BENCH_QUICK'] === '1';
const ROUNDS = QUICK ? 5 : 15;

const subjects: Record<string, () => void> = {
  kindling: () => consume(decodeEntryConfig(ServiceConfig, entry)),
  'plainToInstance + validateSync': () => {
    const instance = plainToInstance(ServiceConfig, entry.data as object);
    const errors = validateSync(instance, options);
    if (errors.length > 0) throw new Error('unexpected validation errors');
    consume(instance);
  },
};

/**
 * Each side's median rate over ROUNDS rounds that alternate between the sides (which one goes first
 * alternates too), so that load which comes and goes on the machine hits both alike.
 */
function interleaved(): Record<string, number> {
  const names = Object.keys(subjects);
  const counts: Record<string, number> = {};
  for (const name of names) {
    const run = subjects[name] as () => void;
    counts[name] = calibrateCpu((count) => {
      for (let i = 0; i < count; i++) run();
    }, 40);
  }
  const rates: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const run = subjects[name] as () => void;
      const count = counts[name] as number;
      const start = cpuNowMs();
      for (let i = 0; i < count; i++) run();
      rates[name]?.push((count * 1000) / (cpuNowMs() - start));
    }
  }
  const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] as number;
  return Object.fromEntries(names.map((name) => [name, median(rates[name] ?? [])]));
}

const measured = interleaved();
const rows: BenchRow[] = Object.entries(measured).map(([subject, value]) => ({
  name: 'decode + validate one config',
  subject,
  value,
  unit: 'ops/s',
  better: 'higher',
}));
const compared = compare(rows).map((row) =>
  row.ratio === undefined ? row : { ...row, target: '≥ 1.0× (not slower)', met: row.ratio >= 1 },
);
report({
  case: 'Config decoding (300 other decorated classes registered)',
  rows: compared,
  notes: [
    'kindling also refuses __proto__ keys, fills id/meta, runs initDefaults/validate hooks and freezes the result',
    `time = process CPU time, median of ${ROUNDS} rounds alternating between the two sides`,
  ],
});
