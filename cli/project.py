"""``ferry proj ...``: AppProjects — which sources and destinations their applications may use,
their roles with tokens for CI, and their sync windows (``ferry proj windows ...``, as
``argocd proj windows ...``)."""

from __future__ import annotations

import datetime
from typing import Any

import click
import yaml

from cli.base import client, confirmed, group, output_option, parse_duration, read_file, usage
from cli.output import structured, table
from ferry.convert import from_k8s, to_k8s
from ferry.engine.syncwindows import SyncWindow, SyncWindowError
from ferry.v1 import project_pb2, types_pb2

Obj = dict[str, Any]

proj = group("proj", "Manage projects.")
role = group("role", "Manage a project's roles.")
proj.add_command(role)


def _get(ctx: click.Context, name: str) -> Obj:
    c = client(ctx)
    return to_k8s(c.call(c.projects, "Get", project_pb2.ProjectQuery(name=name)))


def _update(ctx: click.Context, project: Obj) -> None:
    c = client(ctx)
    c.call(
        c.projects,
        "Update",
        project_pb2.ProjectUpdateRequest(project=from_k8s(project, types_pb2.AppProject)),
    )


def _destination(value: str) -> Obj:
    server, sep, namespace = value.rpartition(",")
    if not sep or not server:
        raise usage(f"--dest takes SERVER,NAMESPACE, got {value!r}")
    return {"server": server, "namespace": namespace}


@proj.command()
@click.argument("name", required=False)
@click.option("-d", "--description", default="", help="What the project is for.")
@click.option("--dest", "destinations", multiple=True, help="Allowed destination SERVER,NAMESPACE (globs).")
@click.option("-s", "--src", "sources", multiple=True, help="Allowed source repository URL (globs).")
@click.option("-f", "--file", "file_path", default=None, help="AppProject manifest to create from.")
@click.option("--upsert", is_flag=True, help="Replace the project if it exists.")
@click.pass_context
def create(
    ctx: click.Context,
    name: str | None,
    description: str,
    destinations: tuple[str, ...],
    sources: tuple[str, ...],
    file_path: str | None,
    upsert: bool,
) -> None:
    """Create a project from flags or from a manifest with -f."""
    if file_path is not None:
        if name or description or destinations or sources:
            raise usage("-f takes the whole project from the file: leave out NAME and the flags")
        try:
            project: Obj = yaml.safe_load(read_file(file_path, "-f")) or {}
        except yaml.YAMLError as err:
            raise usage(f"-f {file_path}: not YAML: {err}") from None
        if not isinstance(project, dict):
            raise usage(f"-f {file_path}: expected an AppProject object")
    elif not name:
        raise usage("give the project's NAME (or a manifest with -f)")
    else:
        project = {
            "metadata": {"name": name},
            "spec": {
                "description": description,
                "sourceRepos": list(sources),
                "destinations": [_destination(d) for d in destinations],
            },
        }
    c = client(ctx)
    created = c.call(
        c.projects,
        "Create",
        project_pb2.ProjectCreateRequest(project=from_k8s(project, types_pb2.AppProject), upsert=upsert),
    )
    click.echo(f"project '{created.metadata.name}' created")


@proj.command("list")
@output_option("json", "yaml", "name")
@click.pass_context
def list_command(ctx: click.Context, output: str | None) -> None:
    """List projects."""
    c = client(ctx)
    reply = c.call(c.projects, "List", project_pb2.ProjectQuery())
    items = [to_k8s(p) for p in reply.items]
    if output in ("json", "yaml"):
        structured(items, output)
        return
    if output == "name":
        for item in items:
            click.echo(item["metadata"]["name"])
        return
    rows = []
    for item in items:
        spec = item.get("spec") or {}
        destinations = [
            f"{d.get('server') or d.get('name', '')},{d.get('namespace', '')}"
            for d in spec.get("destinations") or []
        ]
        rows.append(
            (
                item["metadata"]["name"],
                spec.get("description", ""),
                _few(destinations),
                _few(spec.get("sourceRepos") or []),
                _few([r.get("name", "") for r in spec.get("roles") or []]),
            )
        )
    table(["NAME", "DESCRIPTION", "DESTINATIONS", "SOURCES", "ROLES"], rows)


def _few(values: list[str]) -> str:
    if not values:
        return "<none>"
    return ",".join(values) if len(values) <= 2 else f"{len(values)} items"


@proj.command()
@click.argument("name")
@output_option("json", "yaml")
@click.pass_context
def get(ctx: click.Context, name: str, output: str | None) -> None:
    """Show a project."""
    project = _get(ctx, name)
    if output:
        structured(project, output)
        return
    spec = project.get("spec") or {}
    destinations = [
        f"{d.get('server') or d.get('name', '')},{d.get('namespace', '')}"
        for d in spec.get("destinations") or []
    ]
    kinds = [f"{g.get('group', '')}/{g.get('kind', '')}" for g in spec.get("clusterResourceWhitelist") or []]
    for label, values in (
        ("Name", [name]),
        ("Description", [spec.get("description", "")]),
        ("Destinations", destinations or ["<none>"]),
        ("Repositories", spec.get("sourceRepos") or ["<none>"]),
        ("Allowed Cluster Resources", kinds or ["<none>"]),
        ("Roles", [r.get("name", "") for r in spec.get("roles") or []] or ["<none>"]),
    ):
        click.echo(f"{label + ':':<27}{values[0]}")
        for value in values[1:]:
            click.echo(f"{'':<27}{value}")


@proj.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx: click.Context, names: tuple[str, ...], yes: bool) -> None:
    """Delete projects (the server refuses while applications use them)."""
    c = client(ctx)
    for name in names:
        if confirmed(f"Delete project '{name}'?", yes):
            c.call(c.projects, "Delete", project_pb2.ProjectQuery(name=name))
            click.echo(f"project '{name}' deleted")


@proj.command("add-destination")
@click.argument("project")
@click.argument("server")
@click.argument("namespace")
@click.option("--name", "by_name", is_flag=True, help="SERVER is a cluster name, not a URL.")
@click.pass_context
def add_destination(ctx: click.Context, project: str, server: str, namespace: str, by_name: bool) -> None:
    """Allow the project's applications to deploy to SERVER and NAMESPACE."""
    current = _get(ctx, project)
    wanted = {"name" if by_name else "server": server, "namespace": namespace}
    destinations = current.setdefault("spec", {}).setdefault("destinations", [])
    if wanted in destinations:
        raise usage(f"project '{project}' already allows {server},{namespace}")
    destinations.append(wanted)
    _update(ctx, current)


@proj.command("remove-destination")
@click.argument("project")
@click.argument("server")
@click.argument("namespace")
@click.pass_context
def remove_destination(ctx: click.Context, project: str, server: str, namespace: str) -> None:
    """Stop allowing SERVER and NAMESPACE."""
    current = _get(ctx, project)
    destinations = (current.get("spec") or {}).get("destinations") or []
    kept = [
        d
        for d in destinations
        if not (server in (d.get("server"), d.get("name")) and d.get("namespace", "") == namespace)
    ]
    if len(kept) == len(destinations):
        raise usage(f"project '{project}' has no destination {server},{namespace}")
    current["spec"]["destinations"] = kept
    _update(ctx, current)


@proj.command("add-source")
@click.argument("project")
@click.argument("url")
@click.pass_context
def add_source(ctx: click.Context, project: str, url: str) -> None:
    """Allow the project's applications to use the repository URL (a glob)."""
    current = _get(ctx, project)
    sources = current.setdefault("spec", {}).setdefault("sourceRepos", [])
    if url in sources:
        raise usage(f"project '{project}' already allows source {url}")
    sources.append(url)
    _update(ctx, current)


@proj.command("remove-source")
@click.argument("project")
@click.argument("url")
@click.pass_context
def remove_source(ctx: click.Context, project: str, url: str) -> None:
    """Stop allowing the repository URL."""
    current = _get(ctx, project)
    sources = (current.get("spec") or {}).get("sourceRepos") or []
    if url not in sources:
        raise usage(f"project '{project}' has no source {url}")
    current["spec"]["sourceRepos"] = [s for s in sources if s != url]
    _update(ctx, current)


def _roles(project: Obj) -> list[Obj]:
    roles: list[Obj] = project.setdefault("spec", {}).setdefault("roles", [])
    return roles


def _role(project: Obj, name: str) -> Obj:
    for entry in _roles(project):
        if entry.get("name") == name:
            return entry
    raise usage(f"project '{project['metadata']['name']}' has no role '{name}'")


@role.command("create")
@click.argument("project")
@click.argument("role_name")
@click.option("--description", default="", help="What the role is for.")
@click.pass_context
def role_create(ctx: click.Context, project: str, role_name: str, description: str) -> None:
    """Create a role in a project."""
    current = _get(ctx, project)
    if any(r.get("name") == role_name for r in _roles(current)):
        raise usage(f"project '{project}' already has role '{role_name}'")
    _roles(current).append({"name": role_name, "description": description})
    _update(ctx, current)
    click.echo(f"Role '{role_name}' created")


@role.command("delete")
@click.argument("project")
@click.argument("role_name")
@click.pass_context
def role_delete(ctx: click.Context, project: str, role_name: str) -> None:
    """Delete a role (its tokens stop working)."""
    current = _get(ctx, project)
    _role(current, role_name)
    current["spec"]["roles"] = [r for r in _roles(current) if r.get("name") != role_name]
    _update(ctx, current)
    click.echo(f"Role '{role_name}' deleted")


@role.command("list")
@click.argument("project")
@click.pass_context
def role_list(ctx: click.Context, project: str) -> None:
    """List a project's roles."""
    table(
        ["ROLE-NAME", "DESCRIPTION"],
        [(r.get("name", ""), r.get("description", "")) for r in _roles(_get(ctx, project))],
    )


@role.command("add-policy")
@click.argument("project")
@click.argument("role_name")
@click.option(
    "-a", "--action", required=True, help="get, create, update, delete, sync, override or action/*."
)
@click.option("-o", "--object", "obj", default="*", help="Application name (a glob) inside the project.")
@click.option("-p", "--permission", type=click.Choice(["allow", "deny"]), default="allow")
@click.pass_context
def role_add_policy(
    ctx: click.Context, project: str, role_name: str, action: str, obj: str, permission: str
) -> None:
    """Grant (or deny) the role an action on the project's applications."""
    current = _get(ctx, project)
    entry = _role(current, role_name)
    policy = f"p, proj:{project}:{role_name}, applications, {action}, {project}/{obj}, {permission}"
    policies = entry.setdefault("policies", [])
    if policy not in policies:
        policies.append(policy)
    _update(ctx, current)


@role.command("create-token")
@click.argument("project")
@click.argument("role_name")
@click.option(
    "-e", "--expires-in", default="0", help="Lifetime such as 24h or 7d; 0: one year (tokens always expire)."
)
@click.option("-i", "--id", "token_id", default="", help="Token id (random by default).")
@click.option("-t", "--token-only", is_flag=True, help="Print only the token.")
@click.pass_context
def role_create_token(
    ctx: click.Context, project: str, role_name: str, expires_in: str, token_id: str, token_only: bool
) -> None:
    """Issue a token acting as the role (for CI); it is shown once."""
    c = client(ctx)
    reply = c.call(
        c.projects,
        "CreateToken",
        project_pb2.ProjectTokenCreateRequest(
            project=project,
            role=role_name,
            expires_in=parse_duration(expires_in, "--expires-in"),
            id=token_id,
        ),
    )
    click.echo(reply.token if token_only else f"Token: {reply.token}")


windows = group("windows", "Manage a project's sync windows (when its applications may sync).")
proj.add_command(windows)


def _globs(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated flag values, as Argo CD's string slices read them."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _windows(project: Obj) -> list[Obj]:
    entries: list[Obj] = project.setdefault("spec", {}).setdefault("syncWindows", [])
    return entries


def _window(project: Obj, window_id: int) -> Obj:
    entries = _windows(project)
    if not 0 <= window_id < len(entries):
        ids = ", ".join(str(i) for i in range(len(entries))) or "none"
        raise usage(
            f"window with id '{window_id}' not found in project '{project['metadata']['name']}' (ids: {ids})"
        )
    return entries[window_id]


_SELECTORS = (
    click.option(
        "--applications",
        multiple=True,
        help="Application names (globs, comma separated) the window applies to.",
    ),
    click.option("--namespaces", multiple=True, help="Destination namespaces (globs, comma separated)."),
    click.option(
        "--clusters", multiple=True, help="Destination clusters, server URL or name (globs, comma separated)."
    ),
    click.option("--schedule", default="", help='When the window opens, in cron format (e.g. "0 22 * * *").'),
    click.option("--duration", default="", help="How long it stays open (e.g. 1h, 30m, 1h30m)."),
    click.option("--time-zone", default="", help="Time zone of the schedule (default UTC)."),
    click.option("--description", default="", help="What the window is for (e.g. a ticket number)."),
)


def _selector_options(command: Any) -> Any:
    for option in reversed(_SELECTORS):
        command = option(command)
    return command


def _window_fields(flags: dict[str, Any]) -> Obj:
    """The window fields the shared flags give (those left empty are left out)."""
    fields: Obj = {
        "schedule": flags["schedule"],
        "duration": flags["duration"],
        "timeZone": flags["time_zone"],
        "description": flags["description"],
        "applications": _globs(flags["applications"]),
        "namespaces": _globs(flags["namespaces"]),
        "clusters": _globs(flags["clusters"]),
    }
    return {k: v for k, v in fields.items() if v}


@windows.command("add")
@click.argument("project")
@click.option(
    "-k", "--kind", type=click.Choice(["allow", "deny"]), required=True, help="allow or deny syncs."
)
@_selector_options
@click.option("--manual-sync", is_flag=True, help="Let manual syncs run when the window would block them.")
@click.option(
    "--use-and-operator", is_flag=True, help="Apply to apps matching every given selector instead of any one."
)
@click.pass_context
def windows_add(
    ctx: click.Context, /, project: str, kind: str, manual_sync: bool, use_and_operator: bool, **flags: Any
) -> None:
    """Add a sync window to PROJECT (the server checks the schedule, duration and time zone)."""
    window: Obj = {"kind": kind, "timeZone": "UTC", **_window_fields(flags)}
    if "schedule" not in window or "duration" not in window:
        raise usage(
            "a sync window needs --schedule and --duration (e.g. --schedule '0 22 * * *' --duration 1h)"
        )
    if not any(key in window for key in ("applications", "namespaces", "clusters")):
        raise usage("a sync window applies to nothing without --applications, --namespaces or --clusters")
    if manual_sync:
        window["manualSync"] = True
    if use_and_operator:
        window["andOperator"] = True
    current = _get(ctx, project)
    _windows(current).append(window)
    _update(ctx, current)
    click.echo(f"sync window {len(_windows(current)) - 1} added to project '{project}'")


def _by_id(command: Any) -> Any:
    """PROJECT ID arguments (IDs are positions in spec.syncWindows, as `proj windows list` shows)."""
    return click.argument("project")(click.argument("window_id", metavar="ID", type=int)(command))


@windows.command("update")
@_by_id
@_selector_options
@click.pass_context
def windows_update(ctx: click.Context, /, project: str, window_id: int, **flags: Any) -> None:
    """Change a sync window; a list given replaces the whole list (IDs from `proj windows list`)."""
    current = _get(ctx, project)
    window = _window(current, window_id)
    changes = _window_fields(flags)
    if not changes:
        raise usage(
            "give what to change: --schedule, --duration, --applications, --namespaces, --clusters, ..."
        )
    window.update(changes)
    _update(ctx, current)


@windows.command("delete")
@_by_id
@click.pass_context
def windows_delete(ctx: click.Context, project: str, window_id: int) -> None:
    """Delete a sync window (IDs from `proj windows list`; later windows' IDs move down by one)."""
    current = _get(ctx, project)
    _windows(current).remove(_window(current, window_id))
    _update(ctx, current)


def _set_manual_sync(ctx: click.Context, project: str, window_id: int, enabled: bool) -> None:
    current = _get(ctx, project)
    window = _window(current, window_id)
    if enabled:
        window["manualSync"] = True
    else:
        window.pop("manualSync", None)
    _update(ctx, current)


@windows.command("enable-manual-sync")
@_by_id
@click.pass_context
def windows_enable_manual_sync(ctx: click.Context, project: str, window_id: int) -> None:
    """Let manual syncs run when the window would block them."""
    _set_manual_sync(ctx, project, window_id, True)


@windows.command("disable-manual-sync")
@_by_id
@click.pass_context
def windows_disable_manual_sync(ctx: click.Context, project: str, window_id: int) -> None:
    """Hold manual syncs too when the window blocks."""
    _set_manual_sync(ctx, project, window_id, False)


def _enabled(value: object) -> str:
    return "Enabled" if value else "Disabled"


@windows.command("list")
@click.argument("project")
@output_option("json", "yaml")
@click.pass_context
def windows_list(ctx: click.Context, project: str, output: str | None) -> None:
    """List a project's sync windows, with whether each is open now."""
    entries = _windows(_get(ctx, project))
    if output:
        structured(entries, output)
        return
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for index, entry in enumerate(entries):
        try:
            status = "Active" if SyncWindow.parse(index, entry).active(now) else "Inactive"
        except SyncWindowError:
            status = "Invalid"
        rows.append(
            (
                index,
                status,
                entry.get("kind", ""),
                entry.get("schedule", ""),
                entry.get("duration", ""),
                ",".join(entry.get("applications") or []) or "-",
                ",".join(entry.get("namespaces") or []) or "-",
                ",".join(entry.get("clusters") or []) or "-",
                _enabled(entry.get("manualSync")),
                entry.get("timeZone") or "UTC",
                _enabled(entry.get("andOperator")),
            )
        )
    headers = ["ID", "STATUS", "KIND", "SCHEDULE", "DURATION", "APPLICATIONS", "NAMESPACES", "CLUSTERS"]
    table([*headers, "MANUALSYNC", "TIMEZONE", "USEANDOPERATOR"], rows)
