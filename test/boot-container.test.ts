import { ContainerModule, inject, injectable } from 'inversify';
import { describe, expect, it } from 'vitest';
import type { Entry, EntryListener, EntryObserver, ListenerContext, ObserverContext } from 'kindling';
import {
  EntryListenerContribution,
  EntryObserverContribution,
  Logger,
  entryListener,
  entryObserver,
} from 'kindling/boot';
import { bootTestApp } from 'kindling/testing';

/** A replaceable service: an interface and a same-named token. */
interface Greeter {
  greet(name: string): string;
}
const Greeter: unique symbol = Symbol('Greeter');

@injectable()
class PoliteGreeter implements Greeter {
  greet(name: string): string {
    return `Good day, ${name}`;
  }
}

@entryListener('greeting.*')
@injectable()
class GreetingListener implements EntryListener {
  readonly greeted: string[] = [];

  constructor(
    @inject(Greeter) private readonly greeter: Greeter,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  add(_ctx: ListenerContext, entry: Entry): void {
    const name = (entry.data as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') throw new Error(`${entry.id} needs a name`);
    this.greeted.push(this.greeter.greet(name));
    this.logger.debug(`greeted ${name}`);
  }

  update(ctx: ListenerContext, entry: Entry): void {
    this.add(ctx, entry);
  }

  delete(): void {}
}

@entryObserver('**')
@injectable()
class ChangeLog implements EntryObserver {
  readonly lines: string[] = [];

  add(ctx: ObserverContext, entry: Entry): void {
    this.lines.push(`r${ctx.revision} +${entry.id}`);
  }
}

const greetings = new ContainerModule(({ bind }) => {
  bind<Greeter>(Greeter).to(PoliteGreeter);
  bind(GreetingListener).toSelf();
  bind(EntryListenerContribution).toService(GreetingListener);
  bind(ChangeLog).toSelf();
  bind(EntryObserverContribution).toService(ChangeLog);
});

describe('listeners and observers bound in the container', () => {
  it('registers a decorated listener, built with its @inject dependencies, for its kind pattern', async () => {
    await using app = await bootTestApp({ modules: [greetings] });
    await app.expectAccepted('entries:\n  - { name: ada, kind: greeting.formal, data: { name: Ada } }\n');
    expect(app.get(GreetingListener).greeted).toEqual(['Good day, Ada']);
  });

  it('lets a decorated listener refuse an entry', async () => {
    await using app = await bootTestApp({ modules: [greetings] });
    await app.expectRefused(
      'entries:\n  - { name: nobody, kind: greeting.formal, data: {} }\n',
      'test:nobody needs a name',
    );
  });

  it('registers a decorated observer for its pattern', async () => {
    await using app = await bootTestApp({ modules: [greetings] });
    await app.expectAccepted('entries:\n  - { name: ada, kind: greeting.formal, data: { name: Ada } }\n');
    expect(app.get(ChangeLog).lines).toEqual(['r1 +test:ada']);
  });

  it('refuses to boot when a contribution has no pattern decorator', async () => {
    @injectable()
    class Undecorated implements EntryListener {
      add(): void {}
      update(): void {}
      delete(): void {}
    }
    const module = new ContainerModule(({ bind }) => {
      bind(EntryListenerContribution).to(Undecorated);
    });
    await expect(bootTestApp({ modules: [module] })).rejects.toThrow(
      /class Undecorated is bound as an EntryListenerContribution but has no @entryListener\(pattern\) decorator/,
    );
  });

  it('refuses a malformed pattern where the decorator is written', () => {
    expect(() => entryListener('http.*x')).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });

  it('unregisters the listeners when the registry component stops', async () => {
    const app = await bootTestApp({ modules: [greetings] });
    const handlers = app.handlers;
    expect(handlers.listenersFor('greeting.formal')).toHaveLength(1);
    await app.shutdown();
    expect(handlers.listenersFor('greeting.formal')).toHaveLength(0);
  });
});
