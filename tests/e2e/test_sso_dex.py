"""The bundled Dex (``dex.config``): ``ferry-dex gencfg`` generates Dex's configuration from
ferry-cm and ferry-secret, real Dex runs it (issuer ``<url>/api/dex``, its LDAP connector's
bind password a ``$`` reference into ferry-secret), a ferry-server started with ``--dex-server``
proxies ``/api/dex/`` to it, and a login goes through the proxy: Dex's login form, the callback,
a session whose groups come from LDAP."""

from __future__ import annotations

import base64
import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client as k8s

from ferry import pki
from ferry.v1 import version_pb2
from ferry_devenv.dex import DexServer, DexUser, LdapDirectory
from ferry_devenv.process import free_port, port_open
from tests.conftest import CONTROL_NS, SERVICE_KEY, RunningServer, start_ferry_process
from tests.e2e.test_sso import dex_login
from tests.e2e.test_ui import wait_for
from tests.integration.server.conftest import Api, secret_data, upsert_configmap

USER = DexUser("dora", "dora-sso-pw", groups=("platform",))
BIND_KEY = "dex.ldap.bindPW"


def _patch_secret(kube: k8s.ApiClient, data: dict[str, str | None]) -> None:
    body = {
        "data": {k: base64.b64encode(v.encode()).decode() if v is not None else None for k, v in data.items()}
    }
    k8s.CoreV1Api(kube).patch_namespaced_secret("ferry-secret", CONTROL_NS, body)


@pytest.fixture
def dex_setup(
    server_process: RunningServer, kube: k8s.ApiClient, tmp_path: Path
) -> Iterator[tuple[RunningServer, DexServer, Path]]:
    """A second ferry-server with --dex-server, ferry-cm with url and dex.config, Dex running the
    configuration ferry-dex generated."""
    core = k8s.CoreV1Api(kube)
    original = dict(core.read_namespaced_config_map("ferry-cm", CONTROL_NS).data or {})
    ca = pki.new_ca("dex-bundled-ca")
    ldap = LdapDirectory([USER]).start()
    dex = DexServer(ca)  # its port is known now; the configuration comes later
    http_port = free_port()
    kubeconfig = str(server_process.proc.argv[server_process.proc.argv.index("--kubeconfig") + 1])
    server = start_ferry_process(
        "ferry-server",
        ["--kubeconfig", kubeconfig, "--namespace", CONTROL_NS, "--http-port", str(http_port),
         "--repo-server", "127.0.0.1:1", "--dex-server", dex.origin, "--dex-server-ca", str(dex.ca_path)],
        env={"FERRY_SERVICE_KEY": SERVICE_KEY},
    )  # fmt: skip
    server.http_url = f"https://127.0.0.1:{http_port}"
    server.proc.wait_until(lambda: port_open(http_port), timeout=30, what="HTTP port")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(ca.cert_pem.decode() + secret_data(kube, "ferry-server-tls")["tls.crt"])
    try:
        connector = ldap.connector()
        _patch_secret(kube, {BIND_KEY: connector["config"]["bindPW"]})
        connector["config"]["bindPW"] = f"${BIND_KEY}"
        upsert_configmap(
            kube,
            "ferry-cm",
            {**original, "url": server.http_url, "dex.config": yaml.safe_dump({"connectors": [connector]})},
        )
        config = tmp_path / "dex.yaml"
        exe = str(Path(sys.executable).parent / "ferry-dex")
        done = subprocess.run(
            [exe, "gencfg", "--kubeconfig", kubeconfig, "--namespace", CONTROL_NS, "-o", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        dex.config = yaml.safe_load(config.read_text())
        dex.start()
        yield server, dex, bundle
    finally:
        upsert_configmap(kube, "ferry-cm", original)
        _patch_secret(kube, {BIND_KEY: None})
        server.stop()
        dex.stop()
        ldap.stop()


def test_bundled_dex_through_the_proxy(
    dex_setup: tuple[RunningServer, DexServer, Path], kube: k8s.ApiClient
) -> None:
    server, dex, bundle = dex_setup
    generated = dex.config or {}
    assert generated["issuer"] == f"{server.http_url}/api/dex"
    clients = {c["id"]: c for c in generated["staticClients"]}
    assert clients["ferry"]["redirectURIs"] == [f"{server.http_url}/auth/callback"]
    assert clients["ferry-cli"]["public"] is True
    ldap_config = generated["connectors"][0]["config"]
    assert not str(ldap_config["bindPW"]).startswith("$"), "the secret reference was resolved"

    api = Api(server, kube)
    try:

        def configured() -> bool:
            found = api.call("settings", "Get", version_pb2.SettingsQuery(), token="")
            return bool(found.oidc_config.issuer == f"{server.http_url}/api/dex")

        wait_for("the server to see dex.config", configured, timeout=30)
        found = api.call("settings", "Get", version_pb2.SettingsQuery(), token="")
        assert (found.oidc_config.client_id, found.oidc_config.cli_client_id) == ("ferry", "ferry-cli")
        assert [(c.name, c.type) for c in found.dex_config.connectors] == [("LDAP", "ldap")]
    finally:
        api.close()

    http = requests.Session()
    http.request = functools.partial(http.request, timeout=60, verify=str(bundle))  # type: ignore[method-assign]
    # discovery through ferry-server's proxy names ferry's URL
    discovery = http.get(f"{server.http_url}/api/dex/.well-known/openid-configuration").json()
    assert discovery["authorization_endpoint"] == f"{server.http_url}/api/dex/auth"
    started = http.get(
        f"{server.http_url}/auth/login", params={"return_url": "/settings"}, allow_redirects=False
    )
    assert started.status_code == 303
    assert started.headers["Location"].startswith(f"{server.http_url}/api/dex/auth?")
    callback = dex_login(http, started.headers["Location"], USER, f"{server.http_url}/auth/callback")
    done = http.get(callback, allow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["Location"] == "/settings"
    info = http.get(f"{server.http_url}/api/v1/session/userinfo").json()
    assert info["loggedIn"] is True
    assert info["iss"] == f"{server.http_url}/api/dex"
    assert info["groups"] == ["platform"]
