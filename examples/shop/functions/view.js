import { orders } from './store.js';

/**
 * The orders-view listener: `order.created`, `order.paid` and `order.failed` move an order in the
 * view. The event name is in `ctx.caller.event`.
 */
export function keepView(event, ctx) {
  const known = orders.get(event.id);
  switch (ctx.caller?.event) {
    case 'order.created':
      // A payment may have been seen first (another node's listener got the created event).
      orders.set(event.id, { status: 'pending', ...known, id: event.id, customer: event.customer, total: event.total });
      break;
    case 'order.paid':
      orders.set(event.id, { ...known, id: event.id, status: 'paid' });
      break;
    case 'order.failed':
      orders.set(event.id, { ...known, id: event.id, status: 'failed', error: event.error });
      break;
    default:
      ctx.logger.debug(`orders-view: ignoring ${ctx.caller?.event}`);
  }
}
