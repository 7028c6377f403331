import { orders } from './store.js';

/** How far along an order is: a status never moves back (a node may hear `paid` before `pending`). */
const STAGE = { pending: 0, paid: 1, failed: 1 };

/**
 * The orders-view listener: each `order.status` event (`{ id, status, customer?, total?, error? }`)
 * moves an order in this node's view. The events are broadcast, so every node's view sees each one.
 */
export function keepView(event, ctx) {
  if (!(event.status in STAGE)) {
    ctx.logger.warn(`orders-view: ignoring ${event.id} with status ${event.status}`);
    return;
  }
  const known = orders.get(event.id);
  const status = known !== undefined && STAGE[known.status] > STAGE[event.status] ? known.status : event.status;
  orders.set(event.id, { ...known, ...event, status });
}
