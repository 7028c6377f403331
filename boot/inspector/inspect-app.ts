// Starts the inspector on a running Application: its registry, its bus (when the events component
// bound one), its directory for entry positions.

import { basename } from 'node:path';
import { EventBus } from 'kindling/events';
import type { Application } from '../app/application.js';
import { BootEventName } from '../kernel/boot-events.js';
import { Inspector } from './inspector-server.js';
import type { InspectorLimits } from './inspector-server.js';
import { clusterNodeSource, type InspectorNodeSource } from './inspector-nodes.js';

/** Options of {@link inspectApplication}. */
export interface InspectApplicationOptions {
  /** The port on 127.0.0.1 (0 or none: one the system picks). */
  readonly port?: number;
  readonly token?: string;
  /** More node sources (a cluster's). */
  readonly nodes?: readonly InspectorNodeSource[];
  readonly limits?: Partial<InspectorLimits>;
}

/**
 * Serves the inspector of `app` (started) on 127.0.0.1 until the app begins to stop, or until the
 * returned inspector is closed.
 */
export async function inspectApplication(
  app: Application,
  options: InspectApplicationOptions = {},
): Promise<Inspector> {
  const container = app.boot.context.container;
  const bus = container.isBound(EventBus) ? container.get<EventBus>(EventBus) : undefined;
  // A node of a cluster shows every node's state against the shared log.
  const cluster = app.cluster === undefined ? undefined : clusterNodeSource(app.cluster);
  try {
    const inspector = await Inspector.start({
      name: app.manifest.name ?? basename(app.manifest.dir),
      registry: app.registry,
      bus,
      appDir: app.manifest.dir,
      logger: app.logger,
      ...options,
      nodes: [...(cluster === undefined ? [] : [cluster]), ...(options.nodes ?? [])],
    });
    if (cluster !== undefined)
      app.boot.onBootEvent((event) => {
        if (event.name === BootEventName.stopping) cluster.dispose();
      });
    return inspector;
  } catch (error) {
    cluster?.dispose();
    throw error;
  }
}
