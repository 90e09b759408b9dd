"""``ferry app actions``: list and run the actions of an app's live resources (Argo CD's
``argocd app actions list|run``: restart, pause/resume, suspend/resume, create-job)."""

from __future__ import annotations

from typing import Any

import click

from cli.base import client, group, output_option, usage
from cli.connection import Client
from cli.output import structured, table
from ferry.convert import to_k8s
from ferry.v1 import application_pb2

actions = group("actions", "List and run the actions of an application's resources.")


def _resource_options(f: Any) -> Any:
    for option in (
        click.option("--kind", required=True, help="Kind of the resource (Deployment, CronJob, ...)."),
        click.option("--group", "group_name", default=None, help="API group of the resource (apps, batch)."),
        click.option(
            "--resource-name", default="", help="Name of the resource (all of that kind when empty)."
        ),
        click.option("--namespace", default=None, help="Namespace of the resource."),
    ):
        f = option(f)
    return f


def _resources(
    c: Client, name: str, kind: str, group_name: str | None, resource_name: str, namespace: str | None
) -> list[dict[str, Any]]:
    """The app's resources the flags select (from its status), as group/kind/namespace/name/version."""
    reply = c.call(c.apps, "Get", application_pb2.ApplicationQuery(name=name))
    found = []
    for resource in (to_k8s(reply).get("status") or {}).get("resources") or []:
        if resource.get("kind") != kind:
            continue
        if group_name is not None and resource.get("group", "") != group_name:
            continue
        if resource_name and resource.get("name") != resource_name:
            continue
        if namespace is not None and resource.get("namespace", "") != namespace:
            continue
        found.append(resource)
    if not found:
        raise usage(
            f"application '{name}' has no {kind}" + (f" named '{resource_name}'" if resource_name else "")
        )
    return found


def _request(name: str, resource: dict[str, Any]) -> dict[str, str]:
    return {
        "name": name,
        "namespace": str(resource.get("namespace", "")),
        "resource_name": str(resource["name"]),
        "version": str(resource.get("version", "")),
        "group": str(resource.get("group", "")),
        "kind": str(resource["kind"]),
    }


@actions.command("list")
@click.argument("name")
@_resource_options
@output_option("json", "yaml")
@click.pass_context
def list_command(
    ctx: click.Context,
    name: str,
    kind: str,
    group_name: str | None,
    resource_name: str,
    namespace: str | None,
    output: str | None,
) -> None:
    """List the actions of the application's resources of one kind."""
    c = client(ctx)
    rows = []
    for resource in _resources(c, name, kind, group_name, resource_name, namespace):
        reply = c.call(
            c.apps,
            "ListResourceActions",
            application_pb2.ApplicationResourceRequest(**_request(name, resource)),
        )
        for action in reply.actions:
            rows.append(
                (resource.get("group", ""), resource["kind"], resource["name"], action.name, action.disabled)
            )
    if output in ("json", "yaml"):
        keys = ("group", "kind", "name", "action", "disabled")
        structured([dict(zip(keys, row, strict=True)) for row in rows], output)
        return
    table(["GROUP", "KIND", "NAME", "ACTION", "DISABLED"], [(*row[:4], str(row[4]).lower()) for row in rows])


@actions.command("run")
@click.argument("name")
@click.argument("action")
@_resource_options
@click.option("--all", "run_all", is_flag=True, help="Run it on every selected resource (else exactly one).")
@click.pass_context
def run_command(
    ctx: click.Context,
    name: str,
    action: str,
    kind: str,
    group_name: str | None,
    resource_name: str,
    namespace: str | None,
    run_all: bool,
) -> None:
    """Run ACTION on the application's resource (restart, pause, resume, suspend, create-job)."""
    c = client(ctx)
    selected = _resources(c, name, kind, group_name, resource_name, namespace)
    if len(selected) > 1 and not run_all:
        names = ", ".join(str(r["name"]) for r in selected)
        raise usage(f"{len(selected)} {kind}s match ({names}): give --resource-name, or --all")
    for resource in selected:
        request = application_pb2.ResourceActionRunRequest(**_request(name, resource), action=action)
        c.call(c.apps, "RunResourceAction", request)
        click.echo(f"action '{action}' run on {resource['kind']}/{resource['name']}")
