import { counter, sampledGauge } from "./registry.js";

export const wakesRaised = counter({
  name: "rill_subscription_wakes_total",
  help: "Wakes raised for subscriptions with pending work, by subscription type (webhook, pull-wake)",
  labelNames: ["type"],
});
export const deliveries = counter({
  name: "rill_subscription_deliveries_total",
  help: "Webhook delivery attempts, by outcome: done (answered done), leased (accepted, consumer calls back), failed",
  labelNames: ["outcome"],
});
export const retryQueueDepth = sampledGauge({
  name: "rill_subscription_retry_queue_depth",
  help: "Webhook wakes waiting to be delivered again after a failed attempt",
});
export const leaseExpiries = counter({
  name: "rill_subscription_lease_expiries_total",
  help: "Wakes whose holder let the lease run out (the work is offered again)",
});
