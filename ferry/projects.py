"""AppProject rules: which source repositories, destinations and kinds an application may use.
A violation is reported as a condition and stops a sync; it never reaches the cluster."""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ferry.engine.syncwindows import window_problems
from ferry.engine.tracking import ResourceKey
from ferry.kube.errors import Conflict
from ferry.repourl import DEFAULT_PORTS, BadRepoURL, RepoURL, parse, try_parse

if TYPE_CHECKING:
    from ferry.kube.client import KubeClient


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _allowed(patterns: list[str], value: str) -> bool:
    """Argo CD's list semantics: a match allows, a ``!pattern`` match denies, deny wins."""
    allowed = any(_glob(p, value) for p in patterns if not p.startswith("!"))
    denied = any(_glob(p[1:], value) for p in patterns if p.startswith("!"))
    return allowed and not denied


def _repo_pattern_parts(pattern: str) -> tuple[str, str, str] | None:
    """(scheme, authority, path) globs of a ``sourceRepos`` entry written as a URL (userinfo,
    ``.git`` and a trailing slash dropped, scheme and host in lower case); None for a bare glob."""
    pattern = pattern.strip()
    if "://" in pattern:
        scheme, _, rest = pattern.partition("://")
        authority, _, path = rest.partition("/")
    elif ":" in pattern and "/" not in pattern.split(":", 1)[0]:
        scheme = "ssh"  # scp-like git@host:org/*
        authority, _, path = pattern.partition(":")
    else:
        return None
    authority = authority.rpartition("@")[2].lower().rstrip(".")
    return scheme.lower(), authority, path.strip("/").removesuffix(".git")


def _repo_glob(pattern: str, url: RepoURL) -> bool:
    """A ``sourceRepos`` glob against a parsed URL, part by part: a ``*`` in the host never
    reaches into the path, and the path has no dot segments or userinfo left to match."""
    if pattern == "*":
        return True
    parts = _repo_pattern_parts(pattern)
    path = "/".join(url.repo_segments)
    host = f"[{url.host}]" if ":" in url.host else url.host
    if parts is None:
        return _glob(pattern, url.identity())
    scheme, authority, path_glob = parts
    port = url.effective_port
    authorities = {host} if port is None else {f"{host}:{port}"}
    if url.port is None or url.port == DEFAULT_PORTS.get(url.scheme):
        authorities.add(host)  # the default port may be written or not
    return (
        _glob(scheme, url.scheme) and any(_glob(authority, a) for a in authorities) and _glob(path_glob, path)
    )


def source_permitted(project: Mapping[str, Any], repo_url: str) -> bool:
    """Whether the project's ``sourceRepos`` allow ``repo_url`` (Argo CD's globs, where ``*``
    spans ``/`` in the path), matched on the parsed URL (ferry.repourl): a URL that does not
    parse (dot segments, ``?``/``#``, remote-helper syntax ...) is never permitted."""
    return source_repos_permit(source_repos(project), repo_url)


def source_repos(project: Mapping[str, Any]) -> list[str]:
    """The project's ``sourceRepos`` globs as strings (what a ManifestRequest carries)."""
    return [str(r) for r in (project.get("spec") or {}).get("sourceRepos") or []]


def source_repos_permit(repos: Sequence[str], repo_url: str) -> bool:
    """``source_permitted`` over a list of ``sourceRepos`` globs: the repo server checks what a
    render fetches besides the app's source (chart dependencies, remote bases) with it."""
    url = try_parse(repo_url)
    if url is None:
        return False
    allowed = any(_repo_glob(r, url) for r in repos if not r.startswith("!"))
    denied = any(_repo_glob(r[1:], url) for r in repos if r.startswith("!"))
    return allowed and not denied


def _negatable(pattern: str, value: str) -> bool:
    """Argo CD's destination glob: ``!pattern`` matches what ``pattern`` does not."""
    if pattern.startswith("!"):
        return not _glob(pattern[1:], value)
    return pattern == "*" or _glob(pattern, value)


def destination_permitted(project: Mapping[str, Any], server: str, name: str, namespace: str) -> bool:
    """Whether the project's ``destinations`` allow ``namespace`` on the cluster ``server`` /
    ``name`` (Argo CD's ``isDestinationMatched``: a match allows; a ``!`` pattern that the
    destination does not satisfy denies, and a deny wins). An entry without ``namespace`` allows
    every namespace (ferry's reading; Argo CD's empty pattern matches only the empty namespace)."""
    matched = False
    for dest in (project.get("spec") or {}).get("destinations") or []:
        want_server = str(dest.get("server") or "")
        want_name = str(dest.get("name") or "")
        want_namespace = str(dest.get("namespace") or "*")
        name_ok = bool(name) and bool(want_name) and _negatable(want_name, name)
        server_ok = bool(server) and bool(want_server) and _negatable(want_server, server)
        namespace_ok = _negatable(want_namespace, namespace or "")
        if (server_ok or name_ok) and namespace_ok:
            matched = True
            continue
        denied_cluster = (not name_ok and want_name.startswith("!")) or (
            not server_ok and want_server.startswith("!") and namespace_ok
        )
        denied_namespace = not namespace_ok and want_namespace.startswith("!") and server_ok
        if denied_cluster or denied_namespace:
            return False
    return matched


def _kind_in(entries: list[Mapping[str, Any]], group: str, kind: str) -> bool:
    return any(
        _glob(e.get("group", "") or "", group) and _glob(e.get("kind", "*") or "*", kind) for e in entries
    )


def resource_permitted(project: Mapping[str, Any], group: str, kind: str, *, namespaced: bool) -> bool:
    """Argo CD's ``IsGroupKindNamePermitted``: cluster-scoped kinds need the allow list
    (``clusterResourceWhitelist``, none when empty) and must miss the deny list; namespaced kinds
    must be in ``namespaceResourceWhitelist`` when it is set and miss ``namespaceResourceBlacklist``."""
    spec = project.get("spec") or {}
    if not namespaced:
        return _kind_in(spec.get("clusterResourceWhitelist") or [], group, kind) and not _kind_in(
            spec.get("clusterResourceBlacklist") or [], group, kind
        )
    whitelist = spec.get("namespaceResourceWhitelist") or []
    if whitelist and not _kind_in(whitelist, group, kind):
        return False
    return not _kind_in(spec.get("namespaceResourceBlacklist") or [], group, kind)


def resource_refusal(
    project: Mapping[str, Any],
    *,
    server: str,
    cluster_name: str,
    group: str,
    kind: str,
    namespace: str,
    namespaced: bool,
) -> str | None:
    """Why the project refuses one object of an app (None when it is permitted): its kind, and for
    a namespaced object its namespace (after defaulting to the app's destination namespace) on the
    app's cluster (``server`` as projects name it, ``https://kubernetes.default.svc`` for the
    management cluster, and ``cluster_name``). Argo CD's ``validateSyncPermissions``, with its
    wording. Used before every sync (also for what a sync would prune), by the comparison (the
    object is not compared and shown as not permitted) and by the API's reads of live objects."""
    name = str((project.get("metadata") or {}).get("name", ""))
    if not resource_permitted(project, group, kind, namespaced=namespaced):
        return f"resource {group}:{kind} is not permitted in project {name}"
    if namespaced and not destination_permitted(project, server, cluster_name, namespace):
        return f"namespace {namespace} is not permitted in project '{name}'"
    return None


def _url_problem(url: str) -> str | None:
    """Why a repoURL cannot be used at all (it does not parse, or it is a local path)."""
    if not url:
        return None
    try:
        parsed = parse(url)
    except BadRepoURL as err:
        return err.message
    if parsed.kind == "local":
        return (
            f"repository URL {url!r} is a local path: local paths and file:// are not allowed as "
            "repository URLs (use https://, ssh://, git:// or git@host:path)"
        )
    return None


def violations(project: Mapping[str, Any], spec: Mapping[str, Any], *, cluster_name: str) -> list[str]:
    """What the project forbids about an application spec (source and destination)."""
    name = (project.get("metadata") or {}).get("name", "")
    source = spec.get("source") or {}
    dest = spec.get("destination") or {}
    problems = []
    bad_url = _url_problem(str(source.get("repoURL") or ""))
    if bad_url:
        problems.append(bad_url)
    elif source.get("repoURL") and not source_permitted(project, source["repoURL"]):
        problems.append(f"application repo {source['repoURL']} is not permitted in project {name!r}")
    if not destination_permitted(
        project, dest.get("server") or "", dest.get("name") or cluster_name, dest.get("namespace") or ""
    ):
        where = dest.get("server") or dest.get("name") or ""
        problems.append(
            f"application destination server {where!r} and namespace {dest.get('namespace', '')!r} "
            f"do not match any of the allowed destinations in project {name!r}"
        )
    return problems


DEFAULT_PROJECT = {
    "apiVersion": "ferrycd.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "default"},
    "spec": {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*", "name": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    },
}


async def ensure_default_project(kube: KubeClient, namespace: str) -> None:
    """Create the `default` AppProject in ``namespace`` unless it exists (the controller and the
    server both do at startup, as Argo CD's do); an existing one, an admin's edits included, is
    never overwritten."""
    project = {**DEFAULT_PROJECT, "metadata": {"name": "default", "namespace": namespace}}
    with contextlib.suppress(Conflict):
        await kube.create(project)


# Characters a destinationServiceAccounts defaultServiceAccount may not hold (Argo CD's set).
_SERVICE_ACCOUNT_DISALLOWED = set("!*[]{}\\/")


IMPERSONATION_SETTING = "application.sync.impersonation.enabled"


def sync_service_account(project: Mapping[str, Any], server: str, namespace: str) -> str | None:
    """The user a sync to (``server``, ``namespace``) impersonates, as Argo CD derives it: the
    first ``destinationServiceAccounts`` entry whose ``server`` and ``namespace`` globs match
    gives ``defaultServiceAccount``, ``name`` (in the destination namespace) or ``namespace:name``;
    ``system:serviceaccount:<namespace>:<name>``. None when no entry matches."""
    for entry in (project.get("spec") or {}).get("destinationServiceAccounts") or []:
        if _glob(str(entry.get("server") or ""), server) and _glob(
            str(entry.get("namespace") or ""), namespace
        ):
            account = str(entry.get("defaultServiceAccount") or "").strip()
            account_namespace, sep, name = account.rpartition(":")
            return f"system:serviceaccount:{account_namespace if sep else namespace}:{name}"
    return None


def spec_problems(project: Mapping[str, Any]) -> list[str]:
    """What is wrong with an AppProject's destinations, destinationServiceAccounts and
    syncWindows, as Argo CD's ``ValidateProject`` sees it (the API refuses such a project with
    INVALID_ARGUMENT).

    ``destinationServiceAccounts`` (``server``, ``namespace`` globs without ``!``, and the
    ``defaultServiceAccount`` a sync to that destination impersonates when ferry-cm's
    ``application.sync.impersonation.enabled`` is true; see ``sync_service_account``)."""
    spec = project.get("spec") or {}
    problems: list[str] = []
    for index, dest in enumerate(spec.get("destinations") or []):
        for key in ("server", "name", "namespace"):
            if dest.get(key) == "!*":
                problems.append(f"spec.destinations[{index}].{key} has an invalid format, '!*'")
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(spec.get("destinationServiceAccounts") or []):
        where = f"spec.destinationServiceAccounts[{index}]"
        server = str(entry.get("server") or "")
        namespace = str(entry.get("namespace") or "")
        account = str(entry.get("defaultServiceAccount") or "")
        if not server:
            problems.append(f"{where}.server is required (a cluster URL or glob)")
        if "!" in server:
            problems.append(f"{where}.server has an invalid format, {server!r}")
        if "!" in namespace:
            problems.append(f"{where}.namespace has an invalid format, {namespace!r}")
        if not account.strip() or _SERVICE_ACCOUNT_DISALLOWED & set(account):
            problems.append(
                f"{where}.defaultServiceAccount has an invalid format, {account!r}: give a service account "
                "name (or namespace:name) without any of ! * [ ] { } \\ /"
            )
        if (server, namespace) in seen:
            problems.append(f"{where}: destinationServiceAccount '{server}/{namespace}' already added")
        seen.add((server, namespace))
    return problems + window_problems(spec.get("syncWindows") or [])


# Why the app's project refuses an object (None: permitted), given its key and whether its kind
# is namespaced; see object_refusal.
ObjectRefusal = Callable[[ResourceKey, bool], "str | None"]


def object_refusal(project: Mapping[str, Any], *, server: str, cluster_name: str) -> ObjectRefusal:
    """``resource_refusal`` for the objects of one app: its project on its destination cluster."""

    def refusal(key: ResourceKey, namespaced: bool) -> str | None:
        return resource_refusal(
            project,
            server=server,
            cluster_name=cluster_name,
            group=key.group,
            kind=key.kind,
            namespace=key.namespace,
            namespaced=namespaced,
        )

    return refusal
