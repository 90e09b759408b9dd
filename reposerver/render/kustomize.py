"""Kustomize sources: ``kustomize build`` of the app path, with the source's overrides
(namePrefix/Suffix, images, namespace, commonLabels/Annotations, replicas, components, patches)
written into the kustomization first, as Argo CD does with ``kustomize edit``.

The inputs of a render are found by reading kustomization files from Git objects, recursively:
resources, bases, components, patches, generators' files — anything remote or absolute means
"the whole repository". Only those paths are materialised for kustomize. Remote bases are
refused unless the repo server allows them, and then checked against the project's
sourceRepos (``_check_remote_bases``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ferry import subproc
from ferry.errors import InvalidArgument, PermissionDenied, ResourceExhausted
from ferry.projects import source_repos_permit
from ferry.redact import strip_userinfo
from ferry.repourl import try_parse
from reposerver.render import WHOLE_REPOSITORY, RenderContext, RenderResult, minimal_paths
from reposerver.source import KUSTOMIZATION_FILES, SourceType, objects_from_yaml, parse_yaml_document
from reposerver.tree import CommitTree, join

_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_REMOTE_MARKERS = ("://", "github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh:", "?ref=")


def _is_remote(ref: str) -> bool:
    return any(marker in ref for marker in _REMOTE_MARKERS)


def kustomization_file(tree: CommitTree, directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        candidate = join(directory, name)
        if tree.is_file(candidate):
            return candidate
    return None


def _ref_strings(kustomization: dict[str, Any]) -> list[str]:
    """Every file or directory reference a kustomization makes."""
    refs: list[str] = []
    for key in _PATH_LISTS:
        for item in kustomization.get(key) or []:
            if isinstance(item, str) and "\n" not in item:  # inline patches are not paths
                refs.append(item)
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in kustomization.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                refs.append(item["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in kustomization.get(key) or []:
            if not isinstance(gen, dict):
                continue
            for entry in gen.get("files") or []:
                refs.append(str(entry).split("=", 1)[-1])
            refs += [str(e) for e in gen.get("envs") or []]
            if gen.get("env"):
                refs.append(str(gen["env"]))
    openapi = kustomization.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        refs.append(openapi["path"])
    return refs


def _local_refs(tree: CommitTree, app_path: str) -> tuple[set[str], bool, list[tuple[str, str]]]:
    """Repository paths a kustomize build of ``app_path`` reads, whether it may read anything
    else (a remote or absolute reference, Helm charts), and the remote references as
    (kustomization file, reference)."""
    inputs: set[str] = set()
    remote: list[tuple[str, str]] = []
    unknowable = False
    pending = [app_path]
    while pending:
        directory = pending.pop()
        if directory in inputs:
            continue
        inputs.add(directory)
        file = kustomization_file(tree, directory)
        if file is None:
            continue
        kustomization = parse_yaml_document(tree.read(file), file) or {}
        if not isinstance(kustomization, dict):
            raise InvalidArgument(f"{file}: expected a kustomization map")
        if kustomization.get("helmCharts") or kustomization.get("helmGlobals"):
            unknowable = True
        for ref in _ref_strings(kustomization):
            if _is_remote(ref) or ref.startswith("/"):
                unknowable = True
                if _is_remote(ref):
                    remote.append((file, ref))
                continue
            target = join(directory, ref, what=f"{file} reference")
            if tree.is_dir(target):
                pending.append(target)
            else:
                inputs.add(target)
    return inputs, unknowable, remote


def remote_base_repository(ref: str) -> str:
    """The repository URL of a kustomize remote reference, as kustomize splits it: the part
    before ``//`` after the host, else up to a ``.git`` segment, else the first two path
    segments on github.com, gitlab.com and bitbucket.org; a plain http(s) file URL is its own
    repository. The query (``?ref=``, ``?timeout=``) is not part of it."""
    text = ref.split("?", 1)[0].removeprefix("git::")
    if "://" not in text and not text.startswith("git@"):
        text = "https://" + text  # github.com/org/repo/path: kustomize's implied https
    scheme, sep, rest = text.partition("://")
    if not sep:  # git@host:org/repo//path
        scheme, rest = "", text
    if "//" in rest:
        rest = rest.split("//", 1)[0]
    elif ".git/" in rest:
        rest = rest[: rest.index(".git/") + 4]
    else:
        host, _, path = rest.replace(":", "/", 1).partition("/") if not sep else rest.partition("/")
        if host.rpartition("@")[2] in ("github.com", "gitlab.com", "bitbucket.org"):
            segments = path.split("/")[:2]
            rest = rest[: len(rest) - len(path)] + "/".join(segments)
    return f"{scheme}://{rest}" if sep else rest


def _check_remote_bases(ctx: RenderContext, remote: list[tuple[str, str]]) -> None:
    """Remote bases are fetched by kustomize's own git (anonymously, in its sandbox), so they
    are refused unless the repo server allows them (--kustomize-remote-bases=project), and then
    only those the app's project's sourceRepos permit. Remote bases inside a remote base are
    fetched by kustomize without ferry seeing them: which is why the default is deny."""
    for file, ref in remote:
        if ctx.remote_bases != "project":
            raise InvalidArgument(
                f"{file}: remote base {strip_userinfo(ref)!r} is not fetched: the repo server refuses "
                "kustomize remote bases (kustomize's own git would fetch them outside ferry's credential "
                "and project rules); vendor the base into the repository, or start the repo server "
                "with --kustomize-remote-bases=project to fetch those the project's sourceRepos permit"
            )
        repository = remote_base_repository(ref)
        parsed = try_parse(repository)
        if parsed is None or parsed.kind != "network":
            raise InvalidArgument(
                f"{file}: remote base {strip_userinfo(ref)!r} is not a network repository URL "
                "(https://, ssh://, git:// or git@host:path); local paths and file:// are never fetched"
            )
        if not source_repos_permit(ctx.source_repos, repository):
            raise PermissionDenied(
                f"{file}: remote base {strip_userinfo(ref)!r}: repository {strip_userinfo(repository)} "
                f"is not permitted in project {ctx.project!r} (add it to the project's sourceRepos, "
                "or vendor the base into the repository)"
            )


def kustomize_inputs(tree: CommitTree, app_path: str) -> set[str]:
    """Repository paths a kustomize build of ``app_path`` reads; {"/"} when unknowable."""
    inputs, unknowable, _ = _local_refs(tree, app_path)
    return {WHOLE_REPOSITORY} if unknowable else minimal_paths(inputs)


def _edit(kustomization: dict[str, Any], ctx: RenderContext) -> list[list[str]]:
    """Applies the source's overrides to the kustomization map; returns ``kustomize edit``
    commands for those whose syntax kustomize itself should parse (images)."""
    k = ctx.source.kustomize
    if k.name_prefix:
        kustomization["namePrefix"] = k.name_prefix
    if k.name_suffix:
        kustomization["nameSuffix"] = k.name_suffix
    if k.namespace:
        kustomization["namespace"] = k.namespace
    if k.common_labels:
        kustomization["commonLabels"] = {**(kustomization.get("commonLabels") or {}), **dict(k.common_labels)}
    if k.common_annotations:
        merged = {**(kustomization.get("commonAnnotations") or {}), **dict(k.common_annotations)}
        kustomization["commonAnnotations"] = merged
    if k.replicas:
        existing = {r["name"]: r for r in kustomization.get("replicas") or [] if isinstance(r, dict)}
        for replica in k.replicas:
            existing[replica.name] = {"name": replica.name, "count": replica.count}
        kustomization["replicas"] = list(existing.values())
    if k.components:
        kustomization["components"] = [*(kustomization.get("components") or []), *k.components]
    if k.patches:
        patches = list(kustomization.get("patches") or [])
        for patch in k.patches:
            entry: dict[str, Any] = {}
            if patch.path:
                entry["path"] = patch.path
            if patch.patch:
                entry["patch"] = patch.patch
            if patch.HasField("target"):
                t = patch.target
                target = {
                    "group": t.group,
                    "version": t.version,
                    "kind": t.kind,
                    "name": t.name,
                    "namespace": t.namespace,
                    "labelSelector": t.label_selector,
                    "annotationSelector": t.annotation_selector,
                }
                entry["target"] = {key: value for key, value in target.items() if value}
            if patch.options:
                entry["options"] = dict(patch.options)
            patches.append(entry)
        kustomization["patches"] = patches
    return [["edit", "set", "image", *k.images]] if k.images else []


async def render_kustomize(ctx: RenderContext) -> RenderResult:
    local, unknowable, remote = _local_refs(ctx.tree, ctx.path)
    _check_remote_bases(ctx, remote)
    inputs = {WHOLE_REPOSITORY} if unknowable else minimal_paths(local)
    workdir = Path(tempfile.mkdtemp(prefix="ferry-kustomize-"))
    try:
        # the paths named are written even when hidden (a generator's .env), inside the whole
        # repository when its inputs are unknowable
        linked = ctx.tree.materialize(workdir, ["", *sorted(local)] if unknowable else sorted(local))
        if not unknowable:
            inputs = minimal_paths(inputs | linked)  # what in-repository links made it read
        app_dir = workdir / ctx.path
        file = kustomization_file(ctx.tree, ctx.path)
        edits: list[list[str]] = []
        if file is not None and ctx.source.HasField("kustomize"):
            kustomization = parse_yaml_document(ctx.tree.read(file), file) or {}
            edits = _edit(kustomization, ctx)
            (workdir / file).write_text(yaml.safe_dump(kustomization, sort_keys=False))
        async with subproc.sandbox() as box:  # HOME and git's config are not the repository's
            for args in edits:
                await subproc.run(
                    [ctx.tools.kustomize, *args], timeout=ctx.tools.timeout, cwd=app_dir, box=box
                )
            done = await subproc.run(
                [ctx.tools.kustomize, "build", str(app_dir)], timeout=ctx.tools.timeout, cwd=workdir, box=box
            )
        rendered = done.stdout.replace(str(workdir).encode(), b"")
        manifests = objects_from_yaml(rendered, f"kustomize build {ctx.path or '/'}", limits=ctx.limits)
        return RenderResult(SourceType.KUSTOMIZE, manifests, inputs)
    except subproc.ToolError as err:
        stderr = err.stderr.replace(str(workdir) + "/", "").replace(str(workdir), "")
        raise InvalidArgument(f"kustomize build {ctx.path or '/'} failed: {stderr.strip()}") from None
    except subproc.ToolLimitExceeded as err:
        raise ResourceExhausted(f"kustomize build {ctx.path or '/'}: {err.message}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def images_in(manifests: list[dict[str, Any]]) -> list[str]:
    """Container images the rendered objects use (GetAppDetails)."""
    found: set[str] = set()

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key == "image" and isinstance(value, str):
            found.add(value)

    walk(manifests, None)
    return sorted(found)
