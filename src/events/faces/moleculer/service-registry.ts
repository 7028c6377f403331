// What Moleculer users read of the services on every node (`broker.registry`): the shapes of the
// catalogue, apart from the catalogue itself (service-catalog.ts), so that a service can name them.
import type { NodeInfo } from '../../core/transport.js';

/** One event a service listens to, as its node announces it. */
export interface CatalogEvent {
  /** The event name or pattern. */
  readonly name: string;
  /** The balancing group. */
  readonly group: string;
}

/** One service as it travels in presence (`node.services`). */
export interface CatalogService {
  readonly name: string;
  readonly version?: string | number | undefined;
  readonly fullName: string;
  readonly events: readonly CatalogEvent[];
}

/** An item of {@link ServiceRegistry.getServiceList} (Moleculer's shape, without actions or settings). */
export interface ServiceListItem {
  readonly name: string;
  readonly version: string | number | undefined;
  readonly fullName: string;
  readonly nodeID: string;
  /** Whether it runs on this node. */
  readonly local: boolean;
  /** Always true: a node that leaves is forgotten with its services. */
  readonly available: boolean;
  /** With `withEvents`: the events it listens to, by name (those starting with `$` left out, as Moleculer). */
  readonly events?: Readonly<Record<string, CatalogEvent>>;
}

/** Options of {@link ServiceRegistry.getServiceList}, as Moleculer names them. */
export interface ServiceListOptions {
  readonly onlyLocal?: boolean;
  readonly onlyAvailable?: boolean;
  /** Leave out services whose name starts with `$`. */
  readonly skipInternal?: boolean;
  readonly withEvents?: boolean;
}

/** An item of {@link ServiceRegistry.getNodeList}: what presence says of the node, with `local` and `available`. */
export interface NodeListItem extends NodeInfo {
  readonly local: boolean;
  readonly available: boolean;
  /** With `withServices`: the node's services. */
  readonly services?: readonly CatalogService[];
}

/** Options of {@link ServiceRegistry.getNodeList}, as Moleculer names them. */
export interface NodeListOptions {
  readonly onlyAvailable?: boolean;
  readonly withServices?: boolean;
}

/**
 * Moleculer's `broker.registry`, for the services and nodes: this node's services and those the
 * other nodes announce in their presence. A change of another node's services is broadcast locally as
 * `$services.changed { localService: false }`. (Not Kindling's entry registry.)
 *
 * @example
 * const users = bus.registry.getServiceList({ skipInternal: true }).filter((s) => s.name === 'users');
 */
export interface ServiceRegistry {
  getServiceList(options?: ServiceListOptions): ServiceListItem[];
  getNodeList(options?: NodeListOptions): NodeListItem[];
}
