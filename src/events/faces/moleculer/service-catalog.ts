// The catalogue of services on every node: this node's own, and the other nodes' as their presence
// announces them (Moleculer's `broker.registry`).
import type { NodeInfo } from '../../core/transport.js';
import type { Service, ServiceEventDefinition } from './service.js';
import type {
  CatalogEvent,
  CatalogService,
  NodeListItem,
  NodeListOptions,
  ServiceListItem,
  ServiceListOptions,
  ServiceRegistry,
} from './service-registry.js';

/** At most this many services, and events per service, are read from one node's presence. */
const MAX_REMOTE_SERVICES = 1000;
const MAX_REMOTE_EVENTS = 1000;

/** @internal How this node describes its services in presence. */
export function describeServices(services: readonly Service[]): CatalogService[] {
  return services.map((service) => ({
    name: service.name,
    ...(service.version === undefined ? {} : { version: service.version }),
    fullName: service.fullName,
    events: Object.entries(service.schema.events ?? {}).map(([key, declaration]) => {
      const definition = (
        typeof declaration === 'function' || Array.isArray(declaration) ? {} : declaration
      ) as Partial<ServiceEventDefinition>;
      return {
        name: typeof definition.name === 'string' ? definition.name : key,
        group: typeof definition.group === 'string' ? definition.group : service.name,
      };
    }),
  }));
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined;
}

/**
 * @internal Reads another node's `services` defensively (it is data from a peer): entries that are
 * not well formed are left out, and at most {@link MAX_REMOTE_SERVICES} are kept.
 */
export function readServices(raw: unknown): CatalogService[] {
  if (!Array.isArray(raw)) return [];
  const out: CatalogService[] = [];
  for (const item of raw.slice(0, MAX_REMOTE_SERVICES)) {
    if (typeof item !== 'object' || item === null) continue;
    const record = item as Record<string, unknown>;
    const name = text(record['name']);
    if (name === undefined) continue;
    const version = record['version'];
    const events: CatalogEvent[] = [];
    if (Array.isArray(record['events'])) {
      for (const event of (record['events'] as unknown[]).slice(0, MAX_REMOTE_EVENTS)) {
        if (typeof event !== 'object' || event === null) continue;
        const eventName = text((event as Record<string, unknown>)['name']);
        if (eventName === undefined) continue;
        events.push({ name: eventName, group: text((event as Record<string, unknown>)['group']) ?? name });
      }
    }
    out.push({
      name,
      version: typeof version === 'string' || typeof version === 'number' ? version : undefined,
      fullName: text(record['fullName']) ?? name,
      events,
    });
  }
  return out;
}

/** A stable text of a service list, to tell whether an update changed it. */
function signature(services: readonly CatalogService[]): string {
  return JSON.stringify(services);
}

/** @internal The catalogue behind {@link ServiceRegistry}, fed by presence. */
export class ServiceCatalog implements ServiceRegistry {
  private readonly remote = new Map<string, { info: NodeInfo; services: CatalogService[]; signature: string }>();

  constructor(
    private readonly nodeID: string,
    private readonly localServices: () => readonly Service[],
    /** Called when another node's services changed (`$services.changed { localService: false }`). */
    private readonly changed: () => void,
  ) {}

  /** A node joined or announced a change. */
  nodeSeen(info: NodeInfo): void {
    const services = readServices(info['services']);
    const sig = signature(services);
    const before = this.remote.get(info.id);
    this.remote.set(info.id, { info, services, signature: sig });
    if (before === undefined ? services.length > 0 : before.signature !== sig) this.changed();
  }

  /** A node left: its services go with it. */
  nodeLeft(info: NodeInfo): void {
    const before = this.remote.get(info.id);
    if (before === undefined) return;
    this.remote.delete(info.id);
    if (before.services.length > 0) this.changed();
  }

  getServiceList(options: ServiceListOptions = {}): ServiceListItem[] {
    const out: ServiceListItem[] = [];
    const add = (service: CatalogService, nodeID: string, local: boolean): void => {
      if (options.skipInternal === true && service.name.startsWith('$')) return;
      const item: ServiceListItem = {
        name: service.name,
        version: service.version,
        fullName: service.fullName,
        nodeID,
        local,
        available: true,
        ...(options.withEvents === true
          ? {
              events: Object.fromEntries(
                service.events.filter((event) => !event.name.startsWith('$')).map((event) => [event.name, event]),
              ),
            }
          : {}),
      };
      out.push(item);
    };
    for (const service of describeServices(this.localServices())) add(service, this.nodeID, true);
    if (options.onlyLocal !== true) {
      for (const [nodeID, node] of this.remote) for (const service of node.services) add(service, nodeID, false);
    }
    return out;
  }

  getNodeList(options: NodeListOptions = {}): NodeListItem[] {
    const withServices = options.withServices === true;
    const self: NodeListItem = {
      id: this.nodeID,
      local: true,
      available: true,
      ...(withServices ? { services: describeServices(this.localServices()) } : {}),
    };
    const others = [...this.remote.values()].map(({ info, services }): NodeListItem => {
      const { services: _announced, ...rest } = info;
      return { ...rest, id: info.id, local: false, available: true, ...(withServices ? { services } : {}) };
    });
    return [self, ...others];
  }
}
