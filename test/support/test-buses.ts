// Test support (not exported): buses made by a test are stopped after it, so none leaks.
import { afterEach } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { DefaultEventBus, type EventBusOptions } from '../../src/events/event-bus.js';

/**
 * Returns a factory of silent buses (node `node-1`) that are all stopped after each test of the
 * calling file.
 */
export function trackedBuses(): (options?: EventBusOptions) => DefaultEventBus {
  const buses: DefaultEventBus[] = [];
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.stop();
  });
  return (options = {}) => {
    const bus = new DefaultEventBus({ nodeID: 'node-1', logger: silentLogger, ...options });
    buses.push(bus);
    return bus;
  };
}
