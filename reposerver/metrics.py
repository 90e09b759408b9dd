"""Prometheus metrics of the repo server (served on :8084). Names follow Argo CD's with the
``ferry_`` prefix; ``repo`` labels carry URLs without credentials."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

GIT_REQUESTS = Counter(
    "ferry_git_request_total", "Git requests sent to remotes.", ["repo", "request_type"]
)  # request_type: ls-remote | fetch
GIT_REQUEST_SECONDS = Histogram(
    "ferry_git_request_duration_seconds", "Duration of Git requests to remotes.", ["repo", "request_type"]
)
GIT_FAILURES = Counter("ferry_git_request_fail_total", "Git requests that failed.", ["repo", "request_type"])
PENDING = Gauge(
    "ferry_repo_pending_request_total", "Manifest requests waiting for a render slot or a fetch.", ["repo"]
)
RENDER_SECONDS = Histogram(
    "ferry_repo_render_duration_seconds",
    "Time to render manifests, by source type.",
    ["source_type"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RENDERS = Counter(
    "ferry_repo_render_total", "Renders run (cache misses that reached a tool).", ["source_type"]
)
CACHE_REQUESTS = Counter(
    "ferry_repo_cache_request_total",
    "Manifest cache look-ups: hit, miss, or reuse (a new commit that did not touch the app's inputs).",
    ["result"],
)
MIRROR_RECLONES = Counter(
    "ferry_git_mirror_reclone_total", "Mirrors found corrupt and cloned again.", ["repo"]
)
MIRRORS_COLLECTED = Counter(
    "ferry_git_mirror_collected_total", "Mirrors removed after going unused for --mirror-max-idle."
)
