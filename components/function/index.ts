import 'reflect-metadata';
import { DisposableStore, FileBoundary } from 'kindling';
import { EntryFiles, FunctionName, RegistryName, defineComponent, getHandlerRegistry } from 'kindling/boot';
import { FunctionJsConfig } from './function-js-config.js';
import { EventBus } from 'kindling/events';
import { FunctionManager } from './function-manager.js';
import { Functions } from './functions.js';

export { FunctionJsConfig } from './function-js-config.js';
export { Functions } from './functions.js';
export type {
  FunctionCaller,
  FunctionContext,
  FunctionEmitOptions,
  FunctionSendOptions,
  LoadedFunction,
} from './functions.js';

/** The kind of entries the function component loads. */
export const FunctionJsKind = 'function.js';

const Registrations: unique symbol = Symbol('kindling.function.registrations');

/**
 * The `function` component: loads `function.js` entries (an ES module file relative to its YAML
 * file, and an export name) and binds {@link Functions} in the container to call them.
 *
 * @example
 * # registry YAML
 * entries:
 *   - name: hello
 *     kind: function.js
 *     file: ./functions/hello.js
 *     export: hello
 */
export const functionComponent = defineComponent({
  name: FunctionName,
  dependsOn: [RegistryName],
  load: (ctx) => {
    const files = ctx.container.isBound(EntryFiles) ? ctx.container.get<EntryFiles>(EntryFiles) : undefined;
    // An app binds its boundary (the manifest's directory and allow.paths); a bare boot keeps to its baseDir.
    const boundary = ctx.container.isBound(FileBoundary)
      ? ctx.container.get<FileBoundary>(FileBoundary)
      : new FileBoundary(ctx.baseDir);
    // Looked up at each call: the events component may load after this one, or not at all.
    const bus = (): EventBus | undefined =>
      ctx.container.isBound(EventBus) ? ctx.container.get<EventBus>(EventBus) : undefined;
    const manager = new FunctionManager(ctx.logger, ctx.baseDir, files, boundary);
    manager.useBus(bus);
    const registrations = new DisposableStore();
    registrations.add(
      getHandlerRegistry(ctx).registerListener(FunctionJsKind, manager, {
        name: 'function',
        configs: { [FunctionJsKind]: FunctionJsConfig },
      }),
    );
    ctx.container.bind<Functions>(Functions).toConstantValue(manager);
    ctx.container.bind(Registrations).toConstantValue(registrations);
    return ctx;
  },
  stop: (ctx) => {
    ctx.container.get<DisposableStore>(Registrations).dispose();
  },
});
