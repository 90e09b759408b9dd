"""``ferry app ...``: create, inspect, sync, wait for, diff and roll back applications.

Flags map onto the Application spec here; everything they mean (is the repository allowed, does
the path exist, may this caller sync) is decided by the server."""

from __future__ import annotations

import datetime
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click
import yaml

from cli.base import (
    EXIT_DIFFERENT,
    EXIT_OPERATION_FAILED,
    EXIT_TIMEOUT,
    F,
    client,
    confirmed,
    group,
    output_option,
    usage,
)
from cli.connection import Client, CliError
from cli.output import colour_enabled, paint, structured, table
from cli.progress import OperationProgress, age, operation_done, resource_rows, short_revision
from ferry.convert import from_k8s, to_k8s
from ferry.engine.annotations import DELETION_APPROVED, FERRY
from ferry.v1 import application_pb2, types_pb2

Obj = dict[str, Any]

app = group("app", "Manage applications.")


def _pairs(values: Sequence[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise usage(f"{flag} takes NAME=VALUE, got {value!r}")
        pairs.append((name, rest))
    return pairs


def _upsert(items: list[Obj], key: str, entry: Obj) -> None:
    for index, existing in enumerate(items):
        if existing.get(key) == entry[key]:
            items[index] = entry
            return
    items.append(entry)


def _image_name(image: str) -> str:
    """``nginx=nginx:1.2`` and ``nginx:1.2`` both name the image ``nginx`` (Kustomize's rule)."""
    if "=" in image:
        return image.split("=", 1)[0]
    return (
        image.split("@", 1)[0].rsplit(":", 1)[0]
        if ":" in image.rsplit("/", 1)[-1]
        else image.split("@", 1)[0]
    )


SPEC_OPTIONS: list[Callable[[F], F]] = [
    click.option("--repo", default=None, help="Repository URL (Git, or Helm with --helm-chart)."),
    click.option("--path", default=None, help="Path in the repository."),
    click.option("--revision", default=None, help="Branch, tag, commit, semver constraint or HEAD."),
    click.option("--helm-chart", default=None, help="Chart name when --repo is a Helm repository."),
    click.option("--dest-server", default=None, help="Destination cluster URL."),
    click.option("--dest-name", default=None, help="Destination cluster name (instead of --dest-server)."),
    click.option("--dest-namespace", default=None, help="Destination namespace."),
    click.option("--project", default=None, help="AppProject (default: default)."),
    click.option(
        "--sync-policy",
        type=click.Choice(["auto", "automated", "automatic", "manual", "none"]),
        default=None,
        help="Automated or manual sync.",
    ),
    click.option("--auto-prune", is_flag=True, default=None, help="Automated sync may delete resources."),
    click.option(
        "--self-heal", is_flag=True, default=None, help="Automated sync undoes drift in the cluster."
    ),
    click.option("--allow-empty", is_flag=True, default=None, help="Automated sync may leave no resources."),
    click.option(
        "--sync-option", "sync_options", multiple=True, help="Sync option, e.g. CreateNamespace=true."
    ),
    click.option("--helm-set", multiple=True, help="Helm parameter NAME=VALUE."),
    click.option("--helm-set-string", multiple=True, help="Helm string parameter NAME=VALUE."),
    click.option("--values", "values_files", multiple=True, help="Helm values file in the repository."),
    click.option("--release-name", default=None, help="Helm release name."),
    click.option("--kustomize-image", multiple=True, help="Kustomize image override, e.g. web=web:1.2."),
    click.option("--nameprefix", default=None, help="Kustomize name prefix."),
    click.option("--namesuffix", default=None, help="Kustomize name suffix."),
    click.option("--directory-recurse", is_flag=True, default=None, help="Read directories recursively."),
    click.option("--jsonnet-ext-var-str", multiple=True, help="Jsonnet external variable NAME=VALUE."),
    click.option("--jsonnet-tla-str", multiple=True, help="Jsonnet top-level argument NAME=VALUE."),
    click.option(
        "--config-management-plugin", default=None, help="Config management plugin that renders the source."
    ),
    click.option(
        "--plugin-env", multiple=True, help="Plugin environment variable NAME=VALUE (ARGOCD_ENV_NAME)."
    ),
]


def spec_options(func: F) -> F:
    for option in reversed(SPEC_OPTIONS):
        func = option(func)
    return func


SPEC_KEYS = (
    "repo",
    "path",
    "revision",
    "helm_chart",
    "dest_server",
    "dest_name",
    "dest_namespace",
    "project",
    "sync_policy",
    "auto_prune",
    "self_heal",
    "allow_empty",
    "sync_options",
    "helm_set",
    "helm_set_string",
    "values_files",
    "release_name",
    "kustomize_image",
    "nameprefix",
    "namesuffix",
    "directory_recurse",
    "jsonnet_ext_var_str",
    "jsonnet_tla_str",
    "config_management_plugin",
    "plugin_env",
)


def given(flags: dict[str, Any]) -> list[str]:
    """The spec flags present on the command line."""
    return [key for key in SPEC_KEYS if flags.get(key) not in (None, (), False)]


def apply_spec_flags(spec: Obj, flags: dict[str, Any]) -> Obj:
    """The spec with the flags applied (``ferry app create`` and ``ferry app set``)."""
    source = spec.setdefault("source", {})
    for flag, field in (
        ("repo", "repoURL"),
        ("path", "path"),
        ("revision", "targetRevision"),
        ("helm_chart", "chart"),
    ):
        if flags.get(flag) is not None:
            source[field] = flags[flag]
    destination = spec.setdefault("destination", {})
    for flag, field in (("dest_server", "server"), ("dest_name", "name"), ("dest_namespace", "namespace")):
        if flags.get(flag) is not None:
            destination[field] = flags[flag]
    if flags.get("project") is not None:
        spec["project"] = flags["project"]
    _apply_sync_policy(spec, flags)
    helm_flags = ("helm_set", "helm_set_string", "values_files", "release_name")
    if any(flags.get(f) for f in helm_flags):
        helm = source.setdefault("helm", {})
        parameters = helm.setdefault("parameters", [])
        for name, value in _pairs(flags.get("helm_set") or (), "--helm-set"):
            _upsert(parameters, "name", {"name": name, "value": value})
        for name, value in _pairs(flags.get("helm_set_string") or (), "--helm-set-string"):
            _upsert(parameters, "name", {"name": name, "value": value, "forceString": True})
        files = helm.setdefault("valueFiles", [])
        files.extend(f for f in flags.get("values_files") or () if f not in files)
        if flags.get("release_name") is not None:
            helm["releaseName"] = flags["release_name"]
    if (
        flags.get("kustomize_image")
        or flags.get("nameprefix") is not None
        or flags.get("namesuffix") is not None
    ):
        kustomize = source.setdefault("kustomize", {})
        images = kustomize.setdefault("images", [])
        for image in flags.get("kustomize_image") or ():
            images[:] = [i for i in images if _image_name(i) != _image_name(image)] + [image]
        if flags.get("nameprefix") is not None:
            kustomize["namePrefix"] = flags["nameprefix"]
        if flags.get("namesuffix") is not None:
            kustomize["nameSuffix"] = flags["namesuffix"]
    if flags.get("directory_recurse") or flags.get("jsonnet_ext_var_str") or flags.get("jsonnet_tla_str"):
        directory = source.setdefault("directory", {})
        if flags.get("directory_recurse"):
            directory["recurse"] = True
        jsonnet = directory.setdefault("jsonnet", {})
        for flag, field in (("jsonnet_ext_var_str", "extVars"), ("jsonnet_tla_str", "tlas")):
            entries = jsonnet.setdefault(field, [])
            for name, value in _pairs(flags.get(flag) or (), "--" + flag.replace("_", "-")):
                _upsert(entries, "name", {"name": name, "value": value})
    if flags.get("config_management_plugin") is not None or flags.get("plugin_env"):
        plugin = source.setdefault("plugin", {})
        if flags.get("config_management_plugin") is not None:
            plugin["name"] = flags["config_management_plugin"]
        env = plugin.setdefault("env", [])
        for name, value in _pairs(flags.get("plugin_env") or (), "--plugin-env"):
            _upsert(env, "name", {"name": name, "value": value})
    return spec


def _apply_sync_policy(spec: Obj, flags: dict[str, Any]) -> None:
    policy = spec.setdefault("syncPolicy", {})
    mode = flags.get("sync_policy")
    if mode in ("auto", "automated", "automatic"):
        policy.setdefault("automated", {})
    elif mode in ("manual", "none"):
        policy.pop("automated", None)
    for flag, field in (("auto_prune", "prune"), ("self_heal", "selfHeal"), ("allow_empty", "allowEmpty")):
        if flags.get(flag):
            if "automated" not in policy:
                raise usage(f"--{flag.replace('_', '-')} needs automated sync: add --sync-policy auto")
            policy["automated"][field] = True
    options = policy.setdefault("syncOptions", [])
    options.extend(o for o in flags.get("sync_options") or () if o not in options)


def _application(spec: Obj, name: str, labels: Sequence[str]) -> types_pb2.Application:
    metadata: Obj = {"name": name}
    if labels:
        metadata["labels"] = dict(_pairs(labels, "--label"))
    return from_k8s({"metadata": metadata, "spec": spec}, types_pb2.Application)


def _get(c: Client, name: str, refresh: str = "") -> Obj:
    query = application_pb2.ApplicationQuery(name=name)
    if refresh:
        query.refresh = refresh
    return to_k8s(c.call(c.apps, "Get", query))


@app.command()
@click.argument("name", required=False)
@click.option(
    "-f",
    "--file",
    "file_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Application manifest (ferry's, or Argo CD's argoproj.io/v1alpha1); - reads stdin.",
)
@click.option("--upsert", is_flag=True, help="Replace the application if it exists.")
@click.option("--validate/--no-validate", default=True, help="Check repository and path before creating.")
@click.option("--label", "labels", multiple=True, help="Label NAME=VALUE on the application.")
@spec_options
@click.pass_context
def create(
    ctx: click.Context,
    /,
    name: str | None,
    file_path: str | None,
    upsert: bool,
    validate: bool,
    labels: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create an application from flags, or from a manifest with -f."""
    request = application_pb2.ApplicationCreateRequest(upsert=upsert, validate=validate)
    if file_path is not None:
        if name or given(flags) or labels:
            raise usage("-f takes the whole application from the file: leave out NAME and the spec flags")
        with click.open_file(file_path) as handle:
            request.manifest = handle.read()
    else:
        if not name:
            raise usage("give the application's NAME (or a manifest with -f)")
        request.application.CopyFrom(_application(apply_spec_flags({}, flags), name, labels))
    c = client(ctx)
    created, trailers = c.call_with_trailers(c.apps, "Create", request)
    for key, note in trailers:
        if key == "ferry-conversion-notes":
            click.echo(f"converted: {note}", err=True)
    click.echo(f"application '{created.metadata.name}' created")


@app.command("set")
@click.argument("name")
@spec_options
@click.pass_context
def set_command(ctx: click.Context, /, name: str, **flags: Any) -> None:
    """Change an application's spec with the same flags as create."""
    if not given(flags):
        raise usage("nothing to set: give at least one flag (see ferry app set --help)")
    c = client(ctx)
    spec = apply_spec_flags(_get(c, name).get("spec") or {}, flags)
    c.call(
        c.apps,
        "UpdateSpec",
        application_pb2.ApplicationUpdateSpecRequest(
            name=name, spec=from_k8s(spec, types_pb2.ApplicationSpec)
        ),
    )


@app.command()
@click.argument("name")
@click.option("--values", "values_files", multiple=True, help="Helm values file to remove.")
@click.option("--helm-set", "helm_params", multiple=True, help="Helm parameter NAME to remove.")
@click.option("--kustomize-image", "images", multiple=True, help="Kustomize image NAME to remove.")
@click.option("--nameprefix", is_flag=True, help="Remove the Kustomize name prefix.")
@click.option("--namesuffix", is_flag=True, help="Remove the Kustomize name suffix.")
@click.option(
    "--jsonnet-ext-var-str", "ext_vars", multiple=True, help="Jsonnet external variable NAME to remove."
)
@click.option("--jsonnet-tla-str", "tlas", multiple=True, help="Jsonnet top-level argument NAME to remove.")
@click.option("--sync-option", "sync_options", multiple=True, help="Sync option to remove.")
@click.pass_context
def unset(
    ctx: click.Context,
    name: str,
    values_files: tuple[str, ...],
    helm_params: tuple[str, ...],
    images: tuple[str, ...],
    nameprefix: bool,
    namesuffix: bool,
    ext_vars: tuple[str, ...],
    tlas: tuple[str, ...],
    sync_options: tuple[str, ...],
) -> None:
    """Remove parameters, values files, images or options from an application's spec."""
    if not (
        values_files or helm_params or images or nameprefix or namesuffix or ext_vars or tlas or sync_options
    ):
        raise usage("nothing to unset: give at least one flag (see ferry app unset --help)")
    c = client(ctx)
    spec = _get(c, name).get("spec") or {}
    source = spec.get("source") or {}
    helm = source.get("helm") or {}
    if "valueFiles" in helm:
        helm["valueFiles"] = [f for f in helm["valueFiles"] if f not in values_files]
    if "parameters" in helm:
        helm["parameters"] = [p for p in helm["parameters"] if p.get("name") not in helm_params]
    kustomize = source.get("kustomize") or {}
    if "images" in kustomize:
        kustomize["images"] = [i for i in kustomize["images"] if _image_name(i) not in images]
    for flag, field in ((nameprefix, "namePrefix"), (namesuffix, "nameSuffix")):
        if flag:
            kustomize.pop(field, None)
    jsonnet = (source.get("directory") or {}).get("jsonnet") or {}
    for names, field in ((ext_vars, "extVars"), (tlas, "tlas")):
        if field in jsonnet:
            jsonnet[field] = [v for v in jsonnet[field] if v.get("name") not in names]
    policy = spec.get("syncPolicy") or {}
    if "syncOptions" in policy:
        policy["syncOptions"] = [o for o in policy["syncOptions"] if o not in sync_options]
    c.call(
        c.apps,
        "UpdateSpec",
        application_pb2.ApplicationUpdateSpecRequest(
            name=name, spec=from_k8s(spec, types_pb2.ApplicationSpec)
        ),
    )


def _sync_policy(spec: Obj) -> str:
    automated = (spec.get("syncPolicy") or {}).get("automated")
    if automated is None or automated.get("enabled") is False:
        return "Manual"
    extras = [
        label for field, label in (("prune", "Prune"), ("selfHeal", "SelfHeal")) if automated.get(field)
    ]
    return "Auto" + (f"-{'-'.join(extras)}" if extras else "")


def _cluster(spec: Obj) -> str:
    destination = spec.get("destination") or {}
    return str(destination.get("server") or destination.get("name") or "")


def _plugin_fields(plugin: Obj | None) -> list[tuple[str, str]]:
    """The config management plugin lines of ``ferry app get`` (none without a plugin)."""
    if plugin is None:
        return []
    fields = [("Plugin", plugin.get("name") or "(discovered)")]
    env = ", ".join(f"{e.get('name', '')}={e.get('value', '')}" for e in plugin.get("env") or [])
    if env:
        fields.append(("Plugin Env", env))
    names = ", ".join(p.get("name", "") for p in plugin.get("parameters") or [])
    if names:
        fields.append(("Plugin Parameters", names))
    return fields


def _window_fields(windows: Obj | None) -> list[tuple[str, str]]:
    """Argo CD's SyncWindow and Assigned Windows lines, when windows apply to the app."""
    assigned = (windows or {}).get("assignedWindows") or []
    if not assigned:
        return []
    assert windows is not None
    state = (
        "Sync Allowed"
        if windows.get("canAutoSync")
        else "Manual Allowed"
        if windows.get("canSync")
        else "Sync Denied"
    )
    labels = ",".join(
        f"{w.get('kind', '')}:{w.get('schedule', '')}:{w.get('duration', '')}" for w in assigned
    )
    return [("SyncWindow", state), ("Assigned Windows", labels)]


def describe(app_obj: Obj, wide: bool = False, windows: Obj | None = None) -> None:
    """``ferry app get``'s human view: the summary, conditions, the operation and the resources;
    ``windows`` is the app's GetApplicationSyncWindows answer."""
    spec, status = app_obj.get("spec") or {}, app_obj.get("status") or {}
    source, destination = spec.get("source") or {}, spec.get("destination") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    revision = sync.get("revision", "")
    target = source.get("targetRevision") or "HEAD"
    sync_text = sync.get("status", "Unknown")
    if revision:
        sync_text += f" to {target} ({short_revision(revision)})"
    fields = [
        ("Name", app_obj["metadata"]["name"]),
        ("Project", spec.get("project") or "default"),
        ("Server", destination.get("server") or destination.get("name", "")),
        ("Namespace", destination.get("namespace", "")),
        ("Repo", source.get("repoURL", "")),
        ("Chart" if source.get("chart") else "Path", source.get("chart") or source.get("path", "")),
        ("Target", target),
        *_plugin_fields(source.get("plugin")),
        *_window_fields(windows),
        ("Sync Policy", _sync_policy(spec)),
        ("Sync Status", sync_text),
        (
            "Health Status",
            health.get("status", "Unknown") + (f" ({health['message']})" if health.get("message") else ""),
        ),
    ]
    if wide:
        fields += [
            ("Reconciled", status.get("reconciledAt", "")),
            ("Source Type", status.get("sourceType", "")),
        ]
        urls = (status.get("summary") or {}).get("externalURLs") or []
        if urls:
            fields.append(("URLs", ", ".join(urls)))
    for label, value in fields:
        first, _, rest = value.partition(" ")
        click.echo(f"{label + ':':<20}{paint(first)}{' ' + rest if rest else ''}".rstrip())
    conditions = status.get("conditions") or []
    if conditions:
        click.echo()
        table(
            ["CONDITION", "MESSAGE", "LAST TRANSITION"],
            [(c.get("type", ""), c.get("message", ""), c.get("lastTransitionTime", "")) for c in conditions],
        )
    operation = status.get("operationState")
    if operation:
        click.echo()
        click.echo(f"{'Operation:':<20}Sync")
        click.echo(f"{'Phase:':<20}{paint(operation.get('phase', ''))}")
        if operation.get("message"):
            click.echo(f"{'Message:':<20}{operation['message']}")
    rows = resource_rows(app_obj, wide=wide)
    if rows:
        click.echo()
        headers = ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]
        table([*headers, "WAVE"] if wide else headers, rows)


def tree_lines(tree: Obj, app_obj: Obj) -> list[tuple[str, str, str]]:
    """(KIND/NAME with tree branches, sync status, health) for every node, children under parents."""
    statuses = {
        (r.get("group", ""), r.get("kind"), r.get("namespace", ""), r.get("name")): r
        for r in (app_obj.get("status") or {}).get("resources") or []
    }
    nodes = tree.get("nodes") or []
    by_uid = {n.get("uid"): n for n in nodes}
    children: dict[str, list[Obj]] = {}
    roots = []
    for node in nodes:
        parents = [p.get("uid") for p in node.get("parentRefs") or [] if p.get("uid") in by_uid]
        if parents:
            children.setdefault(parents[0], []).append(node)
        else:
            roots.append(node)
    lines: list[tuple[str, str, str]] = []

    def walk(node: Obj, prefix: str, branch: str) -> None:
        key = (node.get("group", ""), node.get("kind"), node.get("namespace", ""), node.get("name"))
        status = statuses.get(key, {})
        lines.append(
            (
                f"{prefix}{branch}{node.get('kind')}/{node.get('name')}",
                status.get("status", ""),
                (node.get("health") or status.get("health") or {}).get("status", ""),
            )
        )
        kids = sorted(
            children.get(node.get("uid", ""), []), key=lambda n: (n.get("kind", ""), n.get("name", ""))
        )
        inner = prefix + ("   " if branch.startswith("└") else "│  " if branch else "")
        for index, kid in enumerate(kids):
            walk(kid, inner, "└─ " if index == len(kids) - 1 else "├─ ")

    for root in sorted(roots, key=lambda n: (n.get("kind", ""), n.get("name", ""))):
        walk(root, "", "")
    return lines


@app.command()
@click.argument("name")
@output_option("json", "yaml", "wide", "tree")
@click.option("--refresh", is_flag=True, help="Compare with Git again before showing.")
@click.option("--hard-refresh", is_flag=True, help="Render the manifests again (no cache) before showing.")
@click.pass_context
def get(ctx: click.Context, name: str, output: str | None, refresh: bool, hard_refresh: bool) -> None:
    """Show an application."""
    c = client(ctx)
    app_obj = _get(c, name, "hard" if hard_refresh else "normal" if refresh else "")
    if output in ("json", "yaml"):
        structured(app_obj, output)
    elif output == "tree":
        tree = to_k8s(c.call(c.apps, "ResourceTree", application_pb2.ResourcesQuery(application_name=name)))
        table(["KIND/NAME", "STATUS", "HEALTH"], tree_lines(tree, app_obj))
    else:
        windows = c.call(
            c.apps, "GetApplicationSyncWindows", application_pb2.ApplicationSyncWindowsQuery(name=name)
        )
        describe(app_obj, wide=output == "wide", windows=to_k8s(windows))


def list_all(c: Client, query: application_pb2.ApplicationQuery) -> list[Obj]:
    """Every page of the list."""
    apps: list[Obj] = []
    while True:
        page = c.call(c.apps, "List", query)
        apps.extend(to_k8s(item) for item in page.items)
        if not page.metadata.continue_token:
            return apps
        query.continue_token = page.metadata.continue_token


@app.command("list")
@output_option("wide", "name", "json", "yaml")
@click.option("-p", "--project", "projects", multiple=True, help="Only applications of this project.")
@click.option("-l", "--selector", default="", help="Label selector, e.g. team=web,tier!=db.")
@click.option("-r", "--repo", default="", help="Only applications of this repository.")
@click.option("-c", "--cluster", default="", help="Only applications deploying to this cluster URL.")
@click.pass_context
def list_command(
    ctx: click.Context, output: str | None, projects: tuple[str, ...], selector: str, repo: str, cluster: str
) -> None:
    """List applications."""
    c = client(ctx)
    apps = list_all(
        c,
        application_pb2.ApplicationQuery(
            projects=projects, selector=selector, repo=repo, dest_server=cluster
        ),
    )
    if output in ("json", "yaml"):
        structured(apps, output)
        return
    if output == "name":
        for item in apps:
            click.echo(item["metadata"]["name"])
        return
    headers = [
        "NAME",
        "CLUSTER",
        "NAMESPACE",
        "PROJECT",
        "STATUS",
        "HEALTH",
        "SYNCPOLICY",
        "CONDITIONS",
        "REPO",
        "PATH",
        "TARGET",
    ]
    rows = []
    for item in apps:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        source = spec.get("source") or {}
        conditions = ",".join(c.get("type", "") for c in status.get("conditions") or []) or "<none>"
        row = [
            item["metadata"]["name"],
            _cluster(spec),
            (spec.get("destination") or {}).get("namespace", ""),
            spec.get("project") or "default",
            (status.get("sync") or {}).get("status", "Unknown"),
            (status.get("health") or {}).get("status", "Unknown"),
            _sync_policy(spec),
            conditions,
            source.get("repoURL", ""),
            source.get("chart") or source.get("path", ""),
            source.get("targetRevision") or "HEAD",
        ]
        if output == "wide":
            row += [
                short_revision((status.get("sync") or {}).get("revision", "")),
                status.get("reconciledAt", ""),
            ]
        rows.append(row)
    table(headers + (["REVISION", "RECONCILED"] if output == "wide" else []), rows)


@app.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--cascade",
    type=bool,
    is_flag=False,
    flag_value=True,
    default=True,
    help="Delete the application's resources too (--cascade=false keeps them).",
)
@click.option("--propagation-policy", type=click.Choice(["foreground", "background"]), default="foreground")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wait", is_flag=True, help="Wait until the application is gone.")
@click.option("--timeout", type=int, default=300, help="Seconds to wait with --wait.")
@click.pass_context
def delete(
    ctx: click.Context,
    names: tuple[str, ...],
    cascade: bool,
    propagation_policy: str,
    yes: bool,
    wait: bool,
    timeout: int,
) -> None:
    """Delete applications (and, by default, their resources)."""
    c = client(ctx)
    for name in names:
        what = "and all its resources" if cascade else "(keeping its resources)"
        if not confirmed(f"Delete application '{name}' {what}?", yes):
            continue
        c.call(
            c.apps,
            "Delete",
            application_pb2.ApplicationDeleteRequest(
                name=name, cascade=cascade, propagation_policy=propagation_policy
            ),
        )
        click.echo(f"application '{name}' deleted")
        if wait:
            _wait_gone(c, name, timeout)


def _wait_gone(c: Client, name: str, timeout: int) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _get(c, name)
        except CliError as err:
            if "not found" in err.message:
                return
            raise
        time.sleep(1)
    raise CliError(f"timed out after {timeout}s waiting for application '{name}' to be deleted", EXIT_TIMEOUT)


def _resource(value: str) -> types_pb2.SyncOperationResource:
    parts = value.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise usage(f"--resource takes GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME, got {value!r}")
    namespace, _, name = parts[2].rpartition("/")
    return types_pb2.SyncOperationResource(group=parts[0], kind=parts[1], name=name, namespace=namespace)


def watch(c: Client, name: str, timeout: int) -> Iterator[Obj]:
    """The application now, then after every change, until ``timeout`` seconds pass (0: forever)."""
    stream = c.stream(
        c.apps, "Watch", application_pb2.ApplicationQuery(name=name), timeout=timeout if timeout > 0 else None
    )
    for event in stream:
        if event.type == "DELETED":
            raise CliError(f"application '{name}' was deleted while waiting")
        yield to_k8s(event.application)


def follow_operation(c: Client, name: str, after: str, timeout: int, quiet: bool = False) -> Obj:
    """Follow the operation requested at resourceVersion ``after`` to its end, showing progress;
    exits 21 when it failed and 22 when ``timeout`` passed first."""
    progress = OperationProgress(sys.stdout.isatty() and not quiet)
    final: Obj | None = None
    for current in watch(c, name, timeout):
        if int(current["metadata"].get("resourceVersion") or 0) <= int(after or 0):
            continue
        if not quiet:
            progress.update(current)
        if operation_done(current):
            final = current
            break
    progress.close()
    if final is None:
        raise CliError(f"timed out after {timeout}s waiting for the operation on '{name}'", EXIT_TIMEOUT)
    summarize_operation(final)
    state = (final.get("status") or {}).get("operationState") or {}
    if state.get("phase") != "Succeeded":
        raise CliError(
            f"operation {state.get('phase', 'Unknown')}: {state.get('message', '')}", EXIT_OPERATION_FAILED
        )
    return final


def summarize_operation(app_obj: Obj) -> None:
    state = (app_obj.get("status") or {}).get("operationState") or {}
    sync = (state.get("operation") or {}).get("sync") or {}
    result = state.get("syncResult") or {}
    started, finished = state.get("startedAt", ""), state.get("finishedAt", "")
    for label, value in (
        ("Name", app_obj["metadata"]["name"]),
        ("Operation", "Sync" + (" (dry run)" if sync.get("dryRun") else "")),
        ("Sync Revision", result.get("revision", "")),
        ("Phase", paint(state.get("phase", ""))),
        ("Start", started),
        ("Finished", finished),
        ("Duration", age(started, finished)),
        ("Message", state.get("message", "")),
    ):
        click.echo(f"{label + ':':<20}{value}")
    rows = resource_rows(app_obj)
    if rows:
        click.echo()
        table(["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"], rows)


@app.command()
@click.argument("name")
@click.option("--revision", default="", help="Sync to this revision instead of the target.")
@click.option("--prune", is_flag=True, help="Delete resources that are no longer in Git.")
@click.option("--dry-run", is_flag=True, help="Preview the sync without changing the cluster.")
@click.option("--force", is_flag=True, help="Replace resources that cannot be patched.")
@click.option(
    "--strategy",
    type=click.Choice(["hook", "apply"]),
    default="hook",
    help="hook: run hooks (default); apply: apply the resources only, no hooks.",
)
@click.option(
    "--resource", "resources", multiple=True, help="Only GROUP:KIND:NAME (or GROUP:KIND:NAMESPACE/NAME)."
)
@click.option(
    "--sync-option", "sync_options", multiple=True, help="Sync option for this sync, e.g. Replace=true."
)
@click.option("--async", "async_", is_flag=True, help="Request the sync and return at once.")
@click.option("--timeout", type=int, default=0, help="Seconds to wait for the sync (0: no limit).")
@click.pass_context
def sync(
    ctx: click.Context,
    name: str,
    revision: str,
    prune: bool,
    dry_run: bool,
    force: bool,
    strategy: str,
    resources: tuple[str, ...],
    sync_options: tuple[str, ...],
    async_: bool,
    timeout: int,
) -> None:
    """Sync an application to its target state, showing progress until the operation ends."""
    request = application_pb2.ApplicationSyncRequest(
        name=name,
        revision=revision,
        prune=prune,
        dry_run=dry_run,
        resources=[_resource(r) for r in resources],
        sync_options=application_pb2.SyncOptions(items=sync_options),
    )
    c = client(ctx)
    if strategy == "apply":  # as argocd app sync --strategy apply: no hooks
        request.strategy.apply.SetInParent()
        request.strategy.apply.force = force
    elif force:
        request.strategy.hook.force = True
    requested = c.call(c.apps, "Sync", request)
    if async_:
        click.echo(f"sync of application '{name}' requested")
        return
    follow_operation(c, name, requested.metadata.resource_version, timeout)


def _history(app_obj: Obj) -> list[Obj]:
    return sorted((app_obj.get("status") or {}).get("history") or [], key=lambda h: int(h.get("id", 0)))


@app.command()
@click.argument("name")
@output_option("json", "yaml")
@click.pass_context
def history(ctx: click.Context, name: str, output: str | None) -> None:
    """Show what was deployed, newest last."""
    entries = _history(_get(client(ctx), name))
    if output:
        structured(entries, output)
        return
    rows = []
    for entry in entries:
        source = entry.get("source") or {}
        initiator = entry.get("initiatedBy") or {}
        by = "automated" if initiator.get("automated") else initiator.get("username", "")
        rows.append(
            (
                entry.get("id", 0),
                entry.get("deployedAt", ""),
                f"{source.get('targetRevision') or 'HEAD'} ({short_revision(entry.get('revision', ''))})",
                source.get("path") or source.get("chart", ""),
                by,
            )
        )
    table(["ID", "DATE", "REVISION", "PATH", "INITIATOR"], rows)


@app.command()
@click.argument("name")
@click.argument("history_id", type=int, required=False)
@click.option("--prune", is_flag=True, help="Delete resources that the old revision does not have.")
@click.option("--dry-run", is_flag=True, help="Preview without changing the cluster.")
@click.option("--async", "async_", is_flag=True, help="Request the rollback and return at once.")
@click.option("--timeout", type=int, default=0, help="Seconds to wait (0: no limit).")
@click.pass_context
def rollback(
    ctx: click.Context,
    name: str,
    history_id: int | None,
    prune: bool,
    dry_run: bool,
    async_: bool,
    timeout: int,
) -> None:
    """Deploy an earlier history entry again (the previous one when ID is left out)."""
    c = client(ctx)
    if history_id is None:
        entries = _history(_get(c, name))
        if len(entries) < 2:
            raise CliError(f"application '{name}' has no earlier deployment to roll back to")
        history_id = int(entries[-2].get("id", 0))
    requested = c.call(
        c.apps,
        "Rollback",
        application_pb2.ApplicationRollbackRequest(name=name, id=history_id, prune=prune, dry_run=dry_run),
    )
    if async_:
        click.echo(f"rollback of application '{name}' to {history_id} requested")
        return
    follow_operation(c, name, requested.metadata.resource_version, timeout)


WAIT_DESCRIPTIONS = {
    "sync": "Synced",
    "health": "Healthy",
    "operation": "no operation running",
    "suspended": "Suspended",
    "degraded": "Degraded",
}


def wait_state(app_obj: Obj, wanted: Sequence[str]) -> dict[str, bool]:
    """Which of the waited-for conditions hold now."""
    status = app_obj.get("status") or {}
    health = (status.get("health") or {}).get("status")
    met = {
        "sync": (status.get("sync") or {}).get("status") == "Synced",
        "health": health == "Healthy",
        "suspended": health == "Suspended",
        "degraded": health == "Degraded",
        "operation": app_obj.get("operation") is None
        and (status.get("operationState") or {}).get("phase") not in ("Running", "Terminating"),
    }
    return {key: met[key] for key in wanted}


@app.command()
@click.argument("name")
@click.option("--sync", "want_sync", is_flag=True, help="Wait until Synced.")
@click.option("--health", "want_health", is_flag=True, help="Wait until Healthy.")
@click.option("--operation", "want_operation", is_flag=True, help="Wait until no operation runs.")
@click.option("--suspended", "want_suspended", is_flag=True, help="Wait until Suspended.")
@click.option("--degraded", "want_degraded", is_flag=True, help="Wait until Degraded.")
@click.option("--timeout", type=int, default=0, help="Seconds to wait (0: no limit).")
@click.pass_context
def wait(
    ctx: click.Context,
    name: str,
    want_sync: bool,
    want_health: bool,
    want_operation: bool,
    want_suspended: bool,
    want_degraded: bool,
    timeout: int,
) -> None:
    """Wait until an application is synced, healthy and idle (or what the flags ask for)."""
    chosen = [
        key
        for key, on in (
            ("sync", want_sync),
            ("health", want_health),
            ("operation", want_operation),
            ("suspended", want_suspended),
            ("degraded", want_degraded),
        )
        if on
    ]
    wanted = chosen or ["sync", "health", "operation"]
    c = client(ctx)
    last: Obj | None = None
    shown = ""
    for current in watch(c, name, timeout):
        last = current
        state = wait_state(current, wanted)
        line = _wait_line(current)
        if line != shown:
            click.echo(line)
            shown = line
        if all(state.values()):
            return
    missing = [WAIT_DESCRIPTIONS[k] for k, ok in (wait_state(last, wanted) if last else {}).items() if not ok]
    raise CliError(
        f"timed out after {timeout}s waiting for application '{name}' to be "
        f"{' and '.join(missing or [WAIT_DESCRIPTIONS[k] for k in wanted])} (now: "
        f"{_wait_line(last) if last else 'unknown'})",
        EXIT_TIMEOUT,
    )


def _wait_line(app_obj: Obj) -> str:
    status = app_obj.get("status") or {}
    operation = (status.get("operationState") or {}).get("phase", "")
    running = "Requested" if app_obj.get("operation") is not None else operation
    return (
        f"{(status.get('sync') or {}).get('status', 'Unknown')}  "
        f"{(status.get('health') or {}).get('status', 'Unknown')}"
        + (f"  operation {running}" if running else "")
    )


def _colour_diff(text: str) -> str:
    if not colour_enabled():
        return text
    lines = []
    for line in text.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            lines.append(click.style(line, fg="green"))
        elif line.startswith("-") and not line.startswith("---"):
            lines.append(click.style(line, fg="red"))
        else:
            lines.append(line)
    return "\n".join(lines)


@app.command()
@click.argument("name")
@click.option("--refresh", is_flag=True, help="Compare with Git again first.")
@click.option("--hard-refresh", is_flag=True, help="Render the manifests again (no cache) first.")
@click.pass_context
def diff(ctx: click.Context, name: str, refresh: bool, hard_refresh: bool) -> None:
    """Show how the live state differs from Git. Exit 1 when it differs, 0 when it does not."""
    c = client(ctx)
    if refresh or hard_refresh:
        _get(c, name, "hard" if hard_refresh else "normal")
    reply = c.call(c.apps, "ManagedResources", application_pb2.ResourcesQuery(application_name=name))
    different = False
    for item in reply.items:
        if not item.modified or item.hook:
            continue
        different = True
        kind = f"{item.group}/{item.kind}" if item.group else item.kind
        where = f"{item.namespace}/{item.name}" if item.namespace else item.name
        click.echo(f"\n===== {kind} {where} ======")
        click.echo(_colour_diff(item.diff.rstrip("\n")))
    if different:
        ctx.exit(EXIT_DIFFERENT)


def _as_yaml(documents: Sequence[str]) -> None:
    click.echo("\n---\n".join(yaml.safe_dump(json.loads(d), sort_keys=False).rstrip() for d in documents))


@app.command()
@click.argument("name")
@click.option(
    "--source", type=click.Choice(["git", "live"]), default="git", help="Git's manifests or the cluster's."
)
@click.option(
    "--revision", default="", help="Render this revision instead of the target (with --source git)."
)
@click.pass_context
def manifests(ctx: click.Context, name: str, source: str, revision: str) -> None:
    """Print an application's manifests as YAML, from Git or from the cluster."""
    c = client(ctx)
    if source == "live":
        if revision:
            raise usage("--revision only applies to --source git")
        reply = c.call(c.apps, "ManagedResources", application_pb2.ResourcesQuery(application_name=name))
        _as_yaml([item.live_state for item in reply.items if item.live_state])
        return
    rendered = c.call(
        c.apps, "GetManifests", application_pb2.ApplicationManifestQuery(name=name, revision=revision)
    )
    _as_yaml(list(rendered.manifests))


@app.command()
@click.argument("name")
@click.option(
    "--orphaned", is_flag=True, help="Only resources in the destination namespace that no app manages."
)
@output_option("json", "yaml")
@click.pass_context
def resources(ctx: click.Context, name: str, orphaned: bool, output: str | None) -> None:
    """List an application's resources (with --orphaned, the namespace's unmanaged ones)."""
    c = client(ctx)
    rows: list[Obj] = []
    if not orphaned:
        for item in (_get(c, name).get("status") or {}).get("resources") or []:
            rows.append(
                {**{k: item.get(k, "") for k in ("group", "kind", "namespace", "name")}, "orphaned": False}
            )
    tree = to_k8s(c.call(c.apps, "ResourceTree", application_pb2.ResourcesQuery(application_name=name)))
    for node in tree.get("orphanedNodes") or []:
        rows.append(
            {**{k: node.get(k, "") for k in ("group", "kind", "namespace", "name")}, "orphaned": True}
        )
    if output:
        structured(rows, output)
        return
    table(
        ["GROUP", "KIND", "NAMESPACE", "NAME", "ORPHANED"],
        [(r["group"], r["kind"], r["namespace"], r["name"], "Yes" if r["orphaned"] else "No") for r in rows],
    )


@app.command()
@click.argument("name")
@click.option("--group", default="", help="Group of the resource whose pods to read.")
@click.option("--kind", default="", help="Kind of the resource whose pods to read (e.g. Deployment).")
@click.option("--name", "resource_name", default="", help="Name of that resource, or of a pod.")
@click.option("--namespace", default="", help="Namespace of that resource.")
@click.option("-c", "--container", default="", help="Container (the first one by default).")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming new lines.")
@click.option("--tail", type=int, default=None, help="Only the last N lines of each pod.")
@click.option("--since-seconds", type=int, default=0, help="Only lines newer than this.")
@click.option("--filter", "filter_text", default="", help="Only lines containing this text.")
@click.option("-p", "--previous", is_flag=True, help="The previous container's logs.")
@click.pass_context
def logs(
    ctx: click.Context,
    name: str,
    group: str,
    kind: str,
    resource_name: str,
    namespace: str,
    container: str,
    follow: bool,
    tail: int | None,
    since_seconds: int,
    filter_text: str,
    previous: bool,
) -> None:
    """Print the logs of an application's pods."""
    c = client(ctx)
    query = application_pb2.ApplicationPodLogsQuery(
        name=name,
        group=group,
        kind=kind,
        resource_name=resource_name,
        namespace=namespace,
        container=container,
        follow=follow,
        since_seconds=since_seconds,
        filter=filter_text,
        previous=previous,
    )
    if tail is not None:
        query.tail_lines = tail
    for entry in c.stream(c.apps, "PodLogs", query):
        if entry.content or not entry.last:
            click.echo(entry.content)


@app.command("terminate-op")
@click.argument("name")
@click.pass_context
def terminate_op(ctx: click.Context, name: str) -> None:
    """Stop the running operation (sync or rollback) of an application."""
    c = client(ctx)
    c.call(c.apps, "TerminateOperation", application_pb2.OperationTerminateRequest(name=name))
    click.echo(f"application '{name}' operation terminating")


@app.command("confirm-deletion")
@click.argument("name")
@click.pass_context
def confirm_deletion(ctx: click.Context, name: str) -> None:
    """Confirm the prunes (Prune=confirm) and deletions (Delete=confirm) an application waits for."""
    c = client(ctx)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"metadata": {"annotations": {f"{FERRY}/{DELETION_APPROVED}": stamp}}}
    c.call(
        c.apps,
        "Patch",
        application_pb2.ApplicationPatchRequest(name=name, patch=json.dumps(patch), patch_type="merge"),
    )
    click.echo(f"Application '{name}' updated successfully")
