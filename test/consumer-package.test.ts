import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compilers,
  createConsumerProject,
  type CompilerName,
  type ConsumerProject,
} from './support/consumer-project.js';

/**
 * The package as a user gets it: `npm pack`, installed in a scratch project with only what the
 * README's Install section names, compiled with the README's tsconfig (skipLibCheck off, so our
 * .d.ts files are checked too) by TypeScript 5.9 and 7, then run. The sources below are the
 * README's `decodeEntryConfig` and `@entryListener` snippets, plus a class that injects the
 * `Functions` and `HttpServers` tokens of `kindling/components`.
 */

const configSnippet = `import { Type } from 'class-transformer';
import { IsInt, IsString, Min, ValidateNested } from 'class-validator';
import { decodeEntryConfig, type ConfigValidationResult, type Entry } from 'kindling';

class Route {
  @IsString() path!: string;
}

export class HttpServiceConfig {
  @IsString() id!: string; // filled from the entry
  @IsInt() @Min(1) port = 8080; // default
  @ValidateNested({ each: true }) @Type(() => Route) routes: Route[] = [];

  // Runs only when the decorators pass. Return nothing when valid; a message, an Error,
  // { path?, message } or an array of them when not (or throw).
  validate(): ConfigValidationResult {
    if (this.routes.length === 0) return { path: 'routes', message: 'declare at least one route' };
  }
}

export function decode(entry: Entry) {
  const config = decodeEntryConfig(HttpServiceConfig, entry); // Readonly<HttpServiceConfig>, frozen
  return config;
}
`;

const listenerSnippet = `import { ContainerModule, inject, injectable } from 'inversify';
import type { Entry, EntryListener, ListenerContext } from 'kindling';
import { EntryListenerContribution, Logger, entryListener } from 'kindling/boot';

@entryListener('greeting.*')
@injectable()
class GreetingListener implements EntryListener {
  constructor(@inject(Logger) private readonly logger: Logger) {}
  add(ctx: ListenerContext, entry: Entry) { this.logger.info(\`hello \${entry.id}\`); }
  update() {}
  delete() {}
}

export const greetings = new ContainerModule(({ bind }) => {
  bind(EntryListenerContribution).to(GreetingListener);   // @entryObserver + EntryObserverContribution for observers
});
`;

const tokensSource = `import { ContainerModule, inject, injectable } from 'inversify';
import { Functions, HttpServers } from 'kindling/components';

@injectable()
export class Endpoints {
  constructor(
    @inject(Functions) readonly functions: Functions,
    @inject(HttpServers) readonly servers: HttpServers,
  ) {}
}

export const endpoints = new ContainerModule(({ bind }) => {
  bind(Endpoints).toSelf();
});
`;

const mainSource = `import { KindlingError, createEntry, silentLogger, type Logger } from 'kindling';
import { bootTestApp } from 'kindling/testing';
import { decode } from './config.js';
import { Endpoints, endpoints } from './endpoints.js';
import { greetings } from './listener.js';

const facts: Record<string, unknown> = {};

const good = decode(createEntry({ id: 'app:api', kind: 'http.service', data: { routes: [{ path: '/a' }] } }));
facts['config'] = { id: good.id, port: good.port, routes: good.routes.map((route) => route.path), frozen: Object.isFrozen(good) };
try {
  decode(createEntry({ id: 'app:bad', kind: 'http.service', data: { port: 0, routes: [{ path: 7 }] } }));
} catch (error) {
  facts['refused'] = KindlingError.is(error, 'INVALID') ? error.message : String(error);
}

const lines: string[] = [];
const logger: Logger = { ...silentLogger, info: (message: string) => { lines.push(message); } };
const app = await bootTestApp({ components: ['function', 'http'], modules: [greetings, endpoints], logger, acceptKinds: ['greeting.*'] });
try {
  await app.write('hello.js', 'export const hello = (input) => ({ body: \\\`hi \\\${input}\\\` });');
  await app.expectAccepted(\`
entries:
  - { name: ada, kind: greeting.person }
  - { name: server, kind: http.service, addr: "127.0.0.1:0" }
  - { name: hello, kind: function.js, file: ./hello.js, export: hello }
\`);
  facts['greeted'] = lines.filter((line) => line.startsWith('hello '));
  const injected = app.get(Endpoints);
  facts['functions'] = injected.functions.ids();
  facts['called'] = await injected.functions.call('test:hello', 'Ada');
  facts['servers'] = injected.servers.addresses().map((server) => server.id);
} finally {
  await app.shutdown();
}
console.log(JSON.stringify(facts));
`;

describe('the packed package in a consumer project', () => {
  let project: ConsumerProject;

  beforeAll(() => {
    project = createConsumerProject();
    project.write('src/config.ts', configSnippet);
    project.write('src/listener.ts', listenerSnippet);
    project.write('src/endpoints.ts', tokensSource);
    project.write('src/main.ts', mainSource);
  }, 600_000);

  afterAll(() => project?.remove());

  it.each(Object.keys(compilers) as CompilerName[])(
    'compiles with %s (skipLibCheck off) and runs the README snippets',
    (compiler) => {
      const outDir = `dist-${compiler.replace(/\W+/g, '-')}`;
      const compiled = project.compile(compiler, outDir);
      expect(compiled.output).toBe('');
      expect(compiled.status).toBe(0);

      const ran = project.run(`${outDir}/main.js`);
      expect(ran.status, ran.output).toBe(0);
      const facts = JSON.parse(ran.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      expect(facts).toEqual({
        config: { id: 'app:api', port: 8080, routes: ['/a'], frozen: true },
        refused: expect.stringMatching(
          /invalid configuration of entry app:bad .*2 issues[\s\S]*data\.port[\s\S]*data\.routes\[0\]\.path/,
        ),
        greeted: ['hello test:ada'],
        functions: ['test:hello'],
        called: { body: 'hi Ada' },
        servers: ['test:server'],
      });
    },
    300_000,
  );

  it('ships no test helpers, no sources and no source maps', () => {
    const listed = project.list();
    expect(listed.filter((file) => /test-buses|\.test\.|\.map$|\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual(
      [],
    );
    expect(listed).toEqual(
      expect.arrayContaining([
        'package/LICENSE',
        'package/CHANGELOG.md',
        'package/README.md',
        'package/dist/src/index.d.ts',
      ]),
    );
  });
});
