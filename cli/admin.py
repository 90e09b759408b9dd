"""``ferry admin``: whole-installation chores. ``ferry admin import`` moves an Argo CD
installation's repositories, clusters, projects and applications into ferry (cli/argoimport.py
plans it; this module sends the requests and reports)."""

from __future__ import annotations

import click

from cli.argoimport import Step, UnreadableExport, plan, read_objects
from cli.base import client, group, usage
from cli.connection import Client, CliError

admin = group("admin", "Whole-installation commands (import from Argo CD).")

_SERVICES = {
    "repository": ("repos", "CreateRepository"),
    "repo-creds": ("repos", "CreateRepository"),
    "cluster": ("clusters", "Create"),
    "project": ("projects", "Create"),
    "application": ("apps", "Create"),
}


@admin.command("import")
@click.argument("file_path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Print what would be imported; change nothing.")
@click.option("--upsert", is_flag=True, help="Replace objects that already exist.")
@click.pass_context
def import_command(ctx: click.Context, file_path: str, dry_run: bool, upsert: bool) -> None:
    """Import an Argo CD export: kubectl get -n argocd applications,appprojects,secrets,configmaps -o yaml.

    Repository, repo-creds and cluster Secrets, AppProjects and Applications are created through
    the API, in that order; everything else is reported with what to do instead. Exit code 20 when
    any object could not be created (the others still are)."""
    with click.open_file(file_path) as handle:
        text = handle.read()
    try:
        steps = plan(read_objects(text), upsert=upsert)
    except UnreadableExport as err:
        raise usage(f"{file_path}: {err}") from None
    c = None if dry_run else client(ctx)
    failed = 0
    for step in steps:
        outcome = "skipped" if step.action == "skip" else "would import" if dry_run else "imported"
        if c is not None and step.request is not None:
            try:
                _send(c, step)
            except CliError as err:
                outcome = "failed"
                step.notes.insert(0, str(err))
                failed += 1
        click.echo(f"{outcome:<13} {step.label}" + (f" ({step.action})" if step.action != "skip" else ""))
        for note in step.notes:
            click.echo(f"{'':<13}   {note}")
    imported = sum(1 for s in steps if s.action != "skip") - failed
    verb = "would be imported" if dry_run else "imported"
    click.echo(f"{imported} {verb}, {sum(1 for s in steps if s.action == 'skip')} skipped, {failed} failed")
    if failed:
        raise CliError(f"{failed} object(s) could not be imported (see above)")


def _send(c: Client, step: Step) -> None:
    stub_name, method = _SERVICES[step.action]
    stub = getattr(c, stub_name)
    if step.action == "application":
        _, trailers = c.call_with_trailers(stub, method, step.request)
        step.notes += [f"converted: {note}" for key, note in trailers if key == "ferry-conversion-notes"]
    else:
        c.call(stub, method, step.request)
