/** The test card that is always declined (as card processors' test numbers go). */
const DECLINED = '4000000000000002';

/**
 * The payments consumer: charges one order. A throw is a failed attempt: the channel retries it
 * with backoff, then dead-letters it. On success, the paid status is broadcast to every node's view.
 */
export function charge(payment, ctx) {
  const card = payment.card.replace(/ /g, '');
  if (card === DECLINED) {
    throw new Error(`card ending ${card.slice(-4)} declined (attempt ${ctx.caller.attempt})`);
  }
  ctx.logger.info(`charged ${payment.amount.toFixed(2)} for ${payment.orderId}`);
  ctx.broadcast('order.status', { id: payment.orderId, status: 'paid' });
}

/**
 * Called once a payment is given up on: the order fails. The message stays in the channel's dead
 * letters (`kindling dead-letters examples/shop payments`) and can be sent again from there
 * (`kindling redrive examples/shop payments --all`).
 */
export function paymentFailed(letter, ctx) {
  ctx.logger.warn(`payment of ${letter.data.orderId} failed after ${letter.attempts} attempts: ${letter.error}`);
  ctx.broadcast('order.status', { id: letter.data.orderId, status: 'failed', error: letter.error });
}
