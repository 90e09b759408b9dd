"""Prometheus metrics of the notifications controller (served on :9001, Argo CD's port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DELIVERIES = Counter(
    "ferry_notifications_deliveries_total",
    "Notification deliveries by service, trigger and result (success, failure).",
    ["service", "trigger", "result"],
)
TRIGGER_EVALUATIONS = Counter(
    "ferry_notifications_trigger_eval_total",
    "Trigger conditions evaluated, by trigger and whether they held.",
    ["name", "triggered"],
)
LEADER = Gauge("ferry_notifications_leader", "1 while this process holds the leader Lease and sends.")
CONFIG_ERRORS = Gauge(
    "ferry_notifications_config_errors", "Keys of ferry-notifications-cm that could not be used."
)
PENDING_RETRIES = Gauge(
    "ferry_notifications_pending_retries", "Failed deliveries waiting for their next attempt."
)
