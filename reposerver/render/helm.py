"""Helm sources: ``helm template`` of a chart in Git (with value files from the repository only)
or of a chart from a Helm repository, with Argo CD's parameters: release name, namespace, value
files, inline values, ``--set`` / ``--set-string`` / ``--set-file``, skip CRDs / tests / schema
validation, kube version and API versions. A chart's dependencies that are not vendored in its
``charts/`` are fetched by ferry (reposerver.render.dependencies), never by helm.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ferry import subproc
from ferry.errors import InvalidArgument, ResourceExhausted
from ferry.redact import strip_userinfo
from reposerver.render import RenderContext, RenderResult, dependencies
from reposerver.source import SourceType, objects_from_yaml, parse_yaml_document
from reposerver.tree import clean_path, join


def _escape(value: str) -> str:
    # --set treats commas and backslashes specially; Argo CD escapes them the same way
    return value.replace("\\", "\\\\").replace(",", "\\,")


def template_args(ctx: RenderContext, chart: str, workdir: Path, app_dir: str) -> list[str]:
    helm = ctx.source.helm
    release = helm.release_name or ctx.app_name or "release"
    namespace = helm.namespace or ctx.namespace
    args = ["template", chart, "--name-template", release]
    if namespace:
        args += ["--namespace", namespace]
    kube_version = helm.kube_version or ctx.kube_version
    if kube_version:
        args += ["--kube-version", kube_version]
    for api_version in [*ctx.api_versions, *helm.api_versions]:
        args += ["--api-versions", api_version]
    for value_file in helm.value_files:
        if "://" in value_file:
            raise InvalidArgument(f"value file {value_file!r}: only files inside the repository are allowed")
        path = join(app_dir, value_file, what="value file")
        if not ctx.tree.is_file(path):
            if helm.ignore_missing_value_files:
                continue
            raise InvalidArgument(
                f"value file {value_file!r} does not exist in the repository (looked at {path!r})"
            )
        args += ["--values", str(workdir / path)]
    if helm.values:
        inline = workdir / ".ferry-inline-values.yaml"
        inline.write_text(helm.values)
        args += ["--values", str(inline)]
    for param in helm.parameters:
        flag = "--set-string" if param.force_string else "--set"
        args += [flag, f"{param.name}={_escape(param.value)}"]
    for file_param in helm.file_parameters:
        path = join(app_dir, file_param.path, what="file parameter")
        args += ["--set-file", f"{file_param.name}={workdir / path}"]
    if not helm.skip_crds:
        args.append("--include-crds")
    if helm.skip_tests:
        args.append("--skip-tests")
    if helm.skip_schema_validation:
        args.append("--skip-schema-validation")
    return args


def helm_inputs(ctx: RenderContext) -> set[str]:
    """The chart directory, value files, file parameters and local (file://) dependencies."""
    inputs = {ctx.path}
    helm = ctx.source.helm
    for value_file in helm.value_files:
        if "://" not in value_file:
            inputs.add(join(ctx.path, value_file, what="value file"))
    for file_param in helm.file_parameters:
        inputs.add(join(ctx.path, file_param.path, what="file parameter"))
    pending = [ctx.path]
    while pending:
        chart_dir = pending.pop()
        chart_file = join(chart_dir, "Chart.yaml")
        if not ctx.tree.is_file(chart_file):
            continue
        chart = parse_yaml_document(ctx.tree.read(chart_file), chart_file) or {}
        for dep in chart.get("dependencies") or [] if isinstance(chart, dict) else []:
            repository = str(dep.get("repository", "")) if isinstance(dep, dict) else ""
            if repository.startswith("file://"):
                dep_dir = join(chart_dir, repository.removeprefix("file://"), what="chart dependency")
                if dep_dir not in inputs:
                    inputs.add(dep_dir)
                    pending.append(dep_dir)
    return {p or "/" for p in inputs}


async def render_helm(ctx: RenderContext, chart_archive: Path | None = None) -> RenderResult:
    """Renders the chart at ``ctx.path`` in Git, or ``chart_archive`` from a Helm repository."""
    workdir = Path(tempfile.mkdtemp(prefix="ferry-helm-"))
    what = ctx.source.chart or ctx.path or "/"
    try:
        # helm's config, cache and plugins live in the sandbox (XDG dirs), never in the checkout
        async with subproc.sandbox() as box:
            return await _render(ctx, chart_archive, workdir, box)
    except subproc.ToolError as err:
        stderr = err.stderr.replace(str(workdir) + "/", "").replace(str(workdir), "")
        raise InvalidArgument(f"helm template {strip_userinfo(what)} failed: {stderr.strip()}") from None
    except subproc.ToolLimitExceeded as err:
        raise ResourceExhausted(f"helm template {strip_userinfo(what)}: {err.message}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _render(
    ctx: RenderContext, chart_archive: Path | None, workdir: Path, box: subproc.Sandbox
) -> RenderResult:
    if chart_archive is not None:
        inputs: set[str] = set()
        chart = str(chart_archive)
        app_dir = ""
    else:
        inputs = helm_inputs(ctx)
        linked = ctx.tree.materialize(workdir, sorted(p if p != "/" else "" for p in inputs))
        inputs |= linked  # what in-repository links made the chart read
        app_dir = clean_path(ctx.path)
        chart_dir = workdir / app_dir
        chart = str(chart_dir)
        # dependencies are fetched by ferry, under the project's rules, never by helm itself
        await dependencies.prepare(chart_dir, workdir, ctx.dependencies, ctx.limits)
    args = template_args(ctx, chart, workdir, app_dir)
    done = await subproc.run([ctx.tools.helm, *args], timeout=ctx.tools.timeout, box=box)
    manifests = objects_from_yaml(
        done.stdout, f"helm template {ctx.source.chart or ctx.path or '/'}", limits=ctx.limits
    )
    return RenderResult(SourceType.HELM, manifests, inputs)
