"""``ferry admin import``: an Argo CD installation's objects made into ferry API requests.

Reads what ``kubectl get -n argocd applications,appprojects,secrets,configmaps -o yaml`` prints (a
``List``, or a stream of YAML documents) and plans one step per object, in the order the API needs
them: repository credentials and clusters first, then projects, then applications (whose
validation looks at the repositories). Each step says what it will create and what it could not
carry over; objects ferry has no API for (Argo CD's ConfigMaps, other Secrets, other kinds) are
reported with what to do instead. Pure: no I/O, the caller sends the requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from google.protobuf.message import Message

from ferry.convert import from_k8s, to_k8s
from ferry.v1 import application_pb2, cluster_pb2, project_pb2, repository_pb2, types_pb2

ARGO_API_VERSION = "argoproj.io/v1alpha1"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label key)
FERRY_API_VERSION = "ferrycd.io/v1alpha1"

# Argo CD repository Secret keys ferry has no field for, and what to do about them.
_REPOSITORY_UNSUPPORTED = {
    "githubAppPrivateKey": "GitHub App credentials are not supported: store a token as the password",
    "githubAppID": "",
    "githubAppInstallationID": "",
    "githubAppEnterpriseBaseUrl": "",
    "gcpServiceAccountKey": "Google Cloud service account keys are not supported: use a token",
    "useAzureWorkloadIdentity": "Azure workload identity is not supported: use a token",
    "enableOCI": "OCI Helm repositories are not supported yet",
    "enableLfs": "Git LFS is not fetched",
    "proxy": "per-repository proxies are not supported: set HTTPS_PROXY on the repo server",
    "noProxy": "",
    "insecureIgnoreHostKey": "deprecated in Argo CD: use insecure",
}
# The ConfigMaps of an Argo CD installation and their ferry counterparts.
_CONFIGMAPS = {
    "argocd-cm": "copy the keys you use into ferry-cm (same key names)",
    "argocd-rbac-cm": "copy policy.csv, policy.default and scopes into ferry-rbac-cm",
    "argocd-notifications-cm": "copy triggers, templates and services into ferry-notifications-cm",
    "argocd-cmd-params-cm": "flags of Argo CD's processes: set the matching ferry flags or FERRY_* variables",
    "argocd-ssh-known-hosts-cm": "give known hosts per repository (knownHosts) instead",
    "argocd-tls-certs-cm": "give CA bundles per repository (caData) instead",
    "argocd-gpg-keys-cm": "commit signature verification is not supported",
}
_SERVER_MANAGED = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


class UnreadableExport(ValueError):
    """The input cannot be read at all (not YAML, not objects)."""


@dataclass
class Step:
    """One object of the input: what ferry will do with it (``action``), the request that does
    it (None when skipped), and notes on what changed or was not carried over."""

    kind: str
    name: str
    action: str  # "repository", "repo-creds", "cluster", "project", "application" or "skip"
    request: Message | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


_ORDER = {"repository": 0, "repo-creds": 0, "cluster": 1, "project": 2, "application": 3, "skip": 4}


def read_objects(text: str) -> list[dict[str, Any]]:
    """Every object of a YAML stream, ``List`` items flattened."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as err:
        raise UnreadableExport(f"not YAML: {err}") from None
    found: list[dict[str, Any]] = []
    for document in documents:
        if not isinstance(document, dict):
            raise UnreadableExport("every document must be a Kubernetes object or a List")
        if document.get("kind") == "List" or (
            document.get("kind", "").endswith("List") and "items" in document
        ):
            found += [item for item in document.get("items") or [] if isinstance(item, dict)]
        else:
            found.append(document)
    return found


def plan(objects: Iterable[dict[str, Any]], *, upsert: bool = False) -> list[Step]:
    """One step per object, in the order the API needs them (stable within a kind)."""
    steps = [_step(obj, upsert) for obj in objects]
    return sorted(steps, key=lambda step: _ORDER[step.action])


def _step(obj: dict[str, Any], upsert: bool) -> Step:
    kind = str(obj.get("kind") or "?")
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "?")
    api_version = str(obj.get("apiVersion") or "")
    if kind == "Application" and api_version in (ARGO_API_VERSION, FERRY_API_VERSION):
        return _application(obj, name, upsert)
    if kind == "AppProject" and api_version in (ARGO_API_VERSION, FERRY_API_VERSION):
        return _project(obj, name, upsert)
    if kind == "Secret" and api_version == "v1":
        return _secret(obj, name, upsert)
    if kind == "ConfigMap" and name in _CONFIGMAPS:
        keys = sorted((obj.get("data") or {}).keys())
        shown = f" (keys: {', '.join(keys)})" if keys else ""
        return Step(kind, name, "skip", notes=[f"not imported: {_CONFIGMAPS[name]}{shown}"])
    if kind == "ApplicationSet":
        return Step(kind, name, "skip", notes=["not imported: ApplicationSets are not supported yet"])
    return Step(kind, name, "skip", notes=[f"not imported: ferry has no counterpart of {api_version} {kind}"])


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its status and the fields the API server manages."""
    cleaned = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_MANAGED}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    cleaned["metadata"] = metadata
    return cleaned


def _application(obj: dict[str, Any], name: str, upsert: bool) -> Step:
    manifest = yaml.safe_dump(_clean(obj), sort_keys=False)
    request = application_pb2.ApplicationCreateRequest(manifest=manifest, upsert=upsert, validate=True)
    return Step("Application", name, "application", request)


def _dropped(value: dict[str, Any], message: Message, path: str) -> list[str]:
    """Fields of ``value`` that ``message`` has no place for, as dotted paths."""
    kept = to_k8s(message)
    dropped: list[str] = []
    for key, item in value.items():
        if key not in kept:
            if item not in (None, "", [], {}, False):
                dropped.append(f"{path}.{key}")
        elif isinstance(item, dict) and isinstance(kept[key], dict):
            field_descriptor = message.DESCRIPTOR.fields_by_camelcase_name.get(key)
            if field_descriptor is not None and field_descriptor.message_type is not None:
                sub = getattr(message, field_descriptor.name)
                if not field_descriptor.message_type.GetOptions().map_entry:
                    dropped += _dropped(item, sub, f"{path}.{key}")
    return dropped


def _project(obj: dict[str, Any], name: str, upsert: bool) -> Step:
    cleaned = _clean(obj)
    cleaned["apiVersion"] = FERRY_API_VERSION
    cleaned["metadata"] = {k: v for k, v in cleaned["metadata"].items() if k != "namespace"}
    project = from_k8s(cleaned, types_pb2.AppProject)
    notes = [
        f"not carried over: {path}" for path in _dropped(cleaned.get("spec") or {}, project.spec, "spec")
    ]
    if obj.get("apiVersion") == ARGO_API_VERSION:
        notes.insert(0, f"apiVersion {ARGO_API_VERSION} -> {FERRY_API_VERSION}")
    request = project_pb2.ProjectCreateRequest(project=project, upsert=upsert)
    return Step("AppProject", name, "project", request, notes)


def _secret_data(obj: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = {}
    for key, value in (obj.get("data") or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise UnreadableExport(
                f"Secret {obj.get('metadata', {}).get('name')}: data.{key} is not base64"
            ) from None
    data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    return data


def _secret(obj: dict[str, Any], name: str, upsert: bool) -> Step:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    kind = labels.get(SECRET_TYPE_LABEL)
    if kind not in ("repository", "repo-creds", "cluster"):
        return Step(
            "Secret",
            name,
            "skip",
            notes=["not imported: not an Argo CD repository, repo-creds or cluster Secret"],
        )
    data = _secret_data(obj)
    if kind == "cluster":
        return _cluster(data, name, upsert)
    notes = []
    for key, why in _REPOSITORY_UNSUPPORTED.items():
        if data.get(key) and why:
            notes.append(f"not carried over: {key}: {why}")
    if not data.get("url"):
        return Step("Secret", name, "skip", notes=["not imported: the Secret has no url"])
    repository = types_pb2.Repository(
        repo=data["url"],
        type=data.get("type", ""),
        name=data.get("name", ""),
        project=data.get("project", ""),
        username=data.get("username", ""),
        password=data.get("password", ""),
        ssh_private_key=data.get("sshPrivateKey", ""),
        tls_client_cert_data=data.get("tlsClientCertData", ""),
        tls_client_cert_key=data.get("tlsClientCertKey", ""),
        bearer_token=data.get("bearerToken", ""),
        insecure=data.get("insecure", "").lower() == "true",
        force_http_basic_auth=data.get("forceHttpBasicAuth", "").lower() == "true",
    )
    request = repository_pb2.RepoCreateRequest(
        repo=repository, upsert=upsert, creds_only=kind == "repo-creds"
    )
    return Step("Secret", name, str(kind), request, notes)


def _cluster(data: dict[str, str], name: str, upsert: bool) -> Step:
    if not data.get("server"):
        return Step("Secret", name, "skip", notes=["not imported: the cluster Secret has no server"])
    try:
        config = json.loads(data.get("config") or "{}")
    except json.JSONDecodeError as err:
        return Step("Secret", name, "skip", notes=[f"not imported: config is not JSON: {err}"])
    if not isinstance(config, dict):
        config = {}
    notes = [
        f"not carried over: config.{key}: only bearerToken and tlsClientConfig are supported"
        for key in ("execProviderConfig", "awsAuthConfig", "username", "password")
        if config.get(key)
    ]
    tls = config.get("tlsClientConfig") or {}
    if tls.get("serverName"):
        notes.append("not carried over: config.tlsClientConfig.serverName")
    for key in ("clusterResources", "project"):
        if data.get(key):
            notes.append(f"not carried over: {key} (stored by Argo CD; ferry does not scope clusters yet)")
    cluster = cluster_pb2.Cluster(
        server=data["server"],
        name=data.get("name", ""),
        namespaces=[n.strip() for n in data.get("namespaces", "").split(",") if n.strip()],
        config=cluster_pb2.ClusterConfig(
            bearer_token=str(config.get("bearerToken") or ""),
            tls_client_config=cluster_pb2.TLSClientConfig(
                insecure=bool(tls.get("insecure")),
                ca_data=str(tls.get("caData") or ""),
                cert_data=str(tls.get("certData") or ""),
                key_data=str(tls.get("keyData") or ""),
            ),
        ),
    )
    return Step(
        "Secret", name, "cluster", cluster_pb2.ClusterCreateRequest(cluster=cluster, upsert=upsert), notes
    )
