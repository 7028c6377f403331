// An app component written as a plain ES module: an observer that logs every committed change.
import { RegistryName, getHandlerRegistry } from 'kindling/boot';

/** @type {import('kindling/boot').ComponentOptions<{ prefix?: string } | undefined>} */
const changelog = {
  name: 'changelog',
  dependsOn: [RegistryName],
  load(ctx, config) {
    const prefix = config?.prefix ?? '[change]';
    const log = (sign) => (observed, entry) =>
      ctx.logger.info(`${prefix} revision ${observed.revision}: ${sign} ${entry.kind} ${entry.id}`);
    const registration = getHandlerRegistry(ctx).registerObserver(
      '**',
      { add: log('+'), update: log('~'), delete: log('-') },
      { name: 'changelog' },
    );
    // The boot's signal aborts when shutdown begins: release the observer then.
    ctx.signal.addEventListener('abort', () => registration.dispose(), { once: true });
    return ctx;
  },
};

export default changelog;
