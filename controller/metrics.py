"""Prometheus metrics of the controller (served on :8082), named after Argo CD's with ``ferry_``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RECONCILE = Histogram(
    "ferry_app_reconcile",
    "Application reconciliation performance in seconds.",
    ["dest_server"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 16),
)
K8S_REQUESTS = Counter(
    "ferry_app_k8s_request_total",
    "Requests the controller sent to Kubernetes API servers.",
    ["server", "verb", "resource_kind", "response_code", "dry_run"],
)
SYNCS = Counter(
    "ferry_app_sync_total", "Sync operations finished.", ["name", "project", "dest_server", "phase"]
)
SYNC_SECONDS = Counter(
    "ferry_app_sync_duration_seconds_total",
    "Seconds spent in sync operations.",
    ["name", "project", "dest_server"],
)
STATUS_WRITES = Counter("ferry_app_status_write_total", "Application status updates written.", ["reason"])
REPO_ERRORS = Counter("ferry_app_comparison_error_total", "Comparisons that failed.", ["reason"])
SHARDS_HELD = Gauge(
    "ferry_controller_shards_held", "Shards this controller holds (1 when sharding is off: it owns all)."
)


def observer(server: str) -> Callable[[str, str, int, bool], None]:
    def observe(verb: str, kind: str, status: int, dry_run: bool) -> None:
        K8S_REQUESTS.labels(server, verb, kind, str(status), str(dry_run).lower()).inc()

    return observe


class StateCollector(Collector):
    """Gauges computed from the controller's state at scrape time (no stale label sets)."""

    def __init__(
        self, apps: Callable[[], Iterable[dict[str, Any]]], clusters: Callable[[], Iterable[dict[str, Any]]]
    ):
        self._apps = apps
        self._clusters = clusters

    def collect(self) -> Iterable[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "ferry_app_info",
            "Information about applications.",
            labels=[
                "name",
                "project",
                "repo",
                "dest_server",
                "dest_namespace",
                "sync_status",
                "health_status",
                "autosync_enabled",
            ],
        )
        for app in self._apps():
            info.add_metric(
                [
                    str(app.get(k, ""))
                    for k in (
                        "name",
                        "project",
                        "repo",
                        "dest_server",
                        "dest_namespace",
                        "sync_status",
                        "health_status",
                        "autosync_enabled",
                    )
                ],
                1,
            )
        yield info
        objects = GaugeMetricFamily(
            "ferry_cluster_api_resource_objects", "Objects in the cluster cache.", labels=["server"]
        )
        age = GaugeMetricFamily(
            "ferry_cluster_cache_age_seconds",
            "Seconds since the cluster cache last changed.",
            labels=["server"],
        )
        connection = GaugeMetricFamily(
            "ferry_cluster_connection_status",
            "1 when the cluster's watches are connected.",
            labels=["server"],
        )
        for cluster in self._clusters():
            objects.add_metric([cluster["server"]], cluster["objects"])
            age.add_metric([cluster["server"]], cluster["age"])
            connection.add_metric([cluster["server"]], 1 if cluster["connected"] else 0)
        yield objects
        yield age
        yield connection


def register(collector: Collector) -> None:
    REGISTRY.register(collector)
