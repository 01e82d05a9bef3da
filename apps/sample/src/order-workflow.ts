/*
 * The README's durable workflow (README.md, "Durable workflows"): charge a card, wait for the
 * warehouse's `shipped` signal, sleep, then send a review request. The side effects run as child
 * tasks with their own retries; the order itself only decides, stage by stage, so nothing it does
 * needs retrying (a retry would start it over at stage 0).
 */
import type { ChildResult, TaskManager } from '@taskmill/core';

export type OrderTasks = {
  order: { payload: { order_id: string; amount: number; review_after: number }; result: { status: string; tracking?: string } };
  charge_card: { payload: { order_id: string; amount: number }; result: { charge_id: string } };
  review_request: { payload: { order_id: string }; result: { sent: boolean } };
};

/** What the sample's side effects did, for its checks. */
export const sideEffects = { charges: [] as string[], reviewRequests: [] as Array<{ order_id: string; at: number }> };

/** Register the order workflow and its two side-effect tasks on `tm`. */
export function useOrderWorkflow<M extends OrderTasks>(tm: TaskManager<M>): void {
  const orders = tm as unknown as TaskManager<OrderTasks>;
  orders.use('charge_card', {
    handler: (task) => {
      sideEffects.charges.push(task.payload.order_id); // a real one passes an idempotency key to the provider
      return { charge_id: `ch_${task.payload.order_id}` };
    },
    max_retries: 5,
    retry_interval: 1,
  });
  orders.use('review_request', (task) => {
    sideEffects.reviewRequests.push({ order_id: task.payload.order_id, at: Date.now() });
    return { sent: true };
  });
  orders.use('order', (task, next) => {
    const { order_id, amount, review_after } = task.payload;
    switch (task.stage) {
      case 0:
        return next({ name: 'charge_card', payload: { order_id, amount } });
      case 1: {
        const [charge] = task.result as ChildResult[];
        if ('error' in charge) return { status: 'payment failed' };
        // a shipment takes days: wait for the warehouse, at most two weeks
        return task.waitForSignal('shipped', { timeout: 14 * 86_400 });
      }
      case 2:
        if (task.received_signal?.timed_out) return { status: 'never shipped' };
        // a day later (review_after seconds), durably: no slot held, any restart survived
        return task.sleep(review_after);
      case 3:
        return next({ name: 'review_request', payload: { order_id } });
      default:
        return { status: 'review requested', tracking: (task.received_signal?.data as { tracking: string }).tracking };
    }
  });
}
