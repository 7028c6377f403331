// Growth curves of config decoding against the number of config classes in the process: an app with
// many components decodes many classes, and neither a class's first decode nor any later one should
// cost more because others exist.
import 'reflect-metadata';
import { IsIn, IsInt, IsOptional, IsString, Min } from 'class-validator';
import { createEntry, decodeEntryConfig, type Entry } from 'kindling';
import { consume } from '../harness.js';
import { q, quiet, timed, type Path } from '../curve-kit.js';

/** A config class of its own (its own decorators, so its own constraint instances). */
function configClass(): new () => object {
  class ComponentConfig {
    @IsString() host = '127.0.0.1';
    @IsInt() @Min(1) port = 8080;
    @IsIn(['debug', 'info', 'warn']) level = 'info';
    @IsString() @IsOptional() handler?: string;
    @IsInt() @IsOptional() timeout_ms?: number;
  }
  return ComponentConfig;
}

const entry: Entry = createEntry({
  id: 'app:component',
  kind: 'bench.component',
  data: { host: '0.0.0.0', port: 9000, level: 'warn', handler: 'app:main', timeout_ms: 2500 },
});

/** Every class made so far, all decoded once: the process keeps them, as an app keeps its components. */
const made: (new () => object)[] = [];

/**
 * With `size` config classes decoded once each, 2,000 decodes of the newest one. Per decode, scaled
 * so that the per-item arithmetic (ms / size) yields the cost of one decode.
 */
async function decodeAmongClasses(size: number): Promise<number> {
  while (made.length < size) {
    const Config = configClass();
    consume(decodeEntryConfig(Config, entry));
    made.push(Config);
  }
  const Newest = configClass();
  consume(decodeEntryConfig(Newest, entry));
  const DECODES = 2_000;
  await quiet();
  const ms = await timed(() => {
    for (let i = 0; i < DECODES; i++) consume(decodeEntryConfig(Newest, entry));
  });
  return (ms / DECODES) * size;
}

/**
 * `size` new config classes, all defined before any is decoded (as an app's modules define them when
 * imported), then the first decode of each: it finds the class's rules, makes its constraints'
 * instances and plans the class.
 */
async function firstDecodes(size: number): Promise<number> {
  const fresh = Array.from({ length: size }, () => configClass());
  await quiet();
  return timed(() => {
    for (const Config of fresh) consume(decodeEntryConfig(Config, entry));
  });
}

export const CONFIG_PATHS: readonly Path[] = [
  {
    id: 'decode-first-of-classes',
    label: 'the first decodeEntryConfig of each of many config classes, all defined first',
    item: 'class',
    items: 'classes',
    sizes: [q(1_000), q(10_000)],
    limit: 1.5,
    measure: 'time',
    run: firstDecodes,
  },
  {
    id: 'decode-among-classes',
    label: 'decodeEntryConfig of one class while many other config classes were decoded',
    item: 'decode',
    items: 'decodes',
    sized: 'classes',
    sizes: [q(100), q(1_000)],
    limit: 1.5,
    measure: 'time',
    run: decodeAmongClasses,
  },
];
