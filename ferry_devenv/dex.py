"""A real OpenID Connect provider for the SSO tests: Dex (built by ``hack/tools.sh dex``) over
HTTPS with a certificate from a local CA, its users and their groups in a real LDAP directory
(Debian's ``slapd``), each its own process on a free loopback port.

Why LDAP: Dex's ``staticPasswords`` have no groups, and its ``mockCallback`` connector gives one
fixed user with fixed groups and no login form. Dex's LDAP connector is a password connector —
Dex renders its own login form for it — and reads each user's groups from the directory, so
different users get different ``groups`` claims through Dex's real login page::

    ca = pki.new_ca("sso-ca")
    ldap = LdapDirectory([DexUser("alice", "alice-pw", groups=("deployers",))]).start()
    dex = DexServer(ca, ldap, clients=[DexClient("ferry", "s3cret", ["https://.../auth/callback"])])
    dex.start()
    dex.issuer                        # https://127.0.0.1:PORT/dex
    dex.password_grant("ferry", "s3cret", "alice", "alice-pw")   # tokens without a browser
    dex.restart(id_token_ttl="2s")    # same issuer, new signing keys (storage is in memory)
    dex.stop(); ldap.stop()

``DexServer`` can also run a configuration someone else generated (``config=``, e.g. what
ferry-server makes of ``dex.config``): its ``web`` section is replaced by this server's HTTPS
listener, and its ``issuer`` is kept.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ferry import pki
from ferry_devenv.process import ManagedProcess, free_port, new_workdir
from ferry_devenv.servers import PortServer
from ferry_devenv.tools import tool

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDAP_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
BASE_DN = "dc=ferry,dc=test"
LDAP_ADMIN_DN = f"cn=admin,{BASE_DN}"


@dataclass(frozen=True)
class DexUser:
    username: str
    password: str
    email: str = ""
    groups: tuple[str, ...] = ()

    @property
    def mail(self) -> str:
        return self.email or f"{self.username}@ferry.test"


@dataclass(frozen=True)
class DexClient:
    id: str
    secret: str = ""
    redirect_uris: Sequence[str] = ()
    public: bool = False

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "name": self.id, "redirectURIs": list(self.redirect_uris)}
        if self.public:
            entry["public"] = True
        else:
            entry["secret"] = self.secret
        return entry


def _ldif(users: Sequence[DexUser]) -> str:
    entries = [
        {"dn": BASE_DN, "objectClass": ["dcObject", "organization"], "o": "ferry", "dc": "ferry"},
        {"dn": f"ou=people,{BASE_DN}", "objectClass": ["organizationalUnit"], "ou": "people"},
        {"dn": f"ou=groups,{BASE_DN}", "objectClass": ["organizationalUnit"], "ou": "groups"},
    ]
    members: dict[str, list[str]] = {}
    for user in users:
        dn = f"uid={user.username},ou=people,{BASE_DN}"
        entries.append(
            {
                "dn": dn,
                "objectClass": ["inetOrgPerson"],
                "uid": user.username,
                "cn": user.username,
                "sn": user.username,
                "mail": user.mail,
                "userPassword": user.password,
            }
        )
        for group in user.groups:
            members.setdefault(group, []).append(dn)
    for group, dns in sorted(members.items()):
        entries.append(
            {
                "dn": f"cn={group},ou=groups,{BASE_DN}",
                "objectClass": ["groupOfNames"],
                "cn": group,
                "member": dns,
            }
        )
    blocks = []
    for entry in entries:
        lines = []
        for key, value in entry.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {item}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


class LdapDirectory(PortServer):
    """slapd on a free loopback port, holding ``users`` under ou=people and their groups
    (groupOfNames) under ou=groups; bound to by Dex as cn=admin."""

    name = "slapd"

    def __init__(self, users: Sequence[DexUser]) -> None:
        super().__init__()
        self.users = list(users)
        self.admin_password = "ldap-admin-" + self.workdir.name[-8:]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        database = self.workdir / "db"
        database.mkdir(exist_ok=True)
        lines = [f"include /etc/ldap/schema/{schema}.schema" for schema in LDAP_SCHEMAS]
        lines += [
            f"pidfile {self.workdir / 'slapd.pid'}",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "database mdb",
            f'suffix "{BASE_DN}"',
            f'rootdn "{LDAP_ADMIN_DN}"',
            f"rootpw {self.admin_password}",
            f"directory {database}",
            "maxsize 10485760",
        ]
        path = self.workdir / "slapd.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> LdapDirectory:
        if not Path(SLAPD).exists():
            raise FileNotFoundError(f"{SLAPD} is missing: run hack/system-packages.sh (installs slapd)")
        config = self._config()
        ldif = self.workdir / "users.ldif"
        ldif.write_text(_ldif(self.users))
        done = subprocess.run(
            [SLAPADD, "-f", str(config), "-l", str(ldif)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"slapadd failed: {done.stderr.strip()}")
        super().start()
        return self

    def _argv(self) -> list[str]:
        return [SLAPD, "-f", str(self.workdir / "slapd.conf"), "-h", f"ldap://{self.address}/", "-d", "0"]

    def connector(self) -> dict[str, Any]:
        """Dex's LDAP connector for this directory: uid logs in, groups from groupOfNames."""
        return {
            "type": "ldap",
            "id": "ldap",
            "name": "LDAP",
            "config": {
                "host": self.address,
                "insecureNoSSL": True,
                "bindDN": LDAP_ADMIN_DN,
                "bindPW": self.admin_password,
                "usernamePrompt": "Username",
                "userSearch": {
                    "baseDN": f"ou=people,{BASE_DN}",
                    "filter": "(objectClass=inetOrgPerson)",
                    "username": "uid",
                    "idAttr": "uid",
                    "emailAttr": "mail",
                    "nameAttr": "cn",
                    "preferredUsernameAttr": "uid",
                },
                "groupSearch": {
                    "baseDN": f"ou=groups,{BASE_DN}",
                    "filter": "(objectClass=groupOfNames)",
                    "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}],
                    "nameAttr": "cn",
                },
            },
        }


@dataclass
class DexServer:
    """Dex on a free loopback port over HTTPS (a certificate for 127.0.0.1 and localhost signed by
    ``ca``), in-memory storage (a restart makes new signing keys), the LDAP directory as its only
    connector (so Dex goes straight to its login form), the password grant enabled for tests."""

    ca: pki.KeyPair
    ldap: LdapDirectory | None = None
    clients: list[DexClient] = field(default_factory=list)
    config: dict[str, Any] | None = None  # a whole configuration to run instead (its web is replaced)
    id_token_ttl: str = "1h"  # noqa: S105 (a duration)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.workdir = new_workdir("dex")
        self._proc: ManagedProcess | None = None
        (self.workdir / "ca.crt").write_bytes(self.ca.cert_pem)
        pair = pki.issue_cert(self.ca, "dex", hosts=["127.0.0.1", "localhost"])
        (self.workdir / "tls.crt").write_bytes(pair.cert_pem)
        (self.workdir / "tls.key").write_bytes(pair.key_pem)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        if self.config is not None:
            return str(self.config["issuer"])
        return f"{self.origin}/dex"

    @property
    def ca_path(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def log_path(self) -> Path:
        return self.workdir / "dex.log"

    def _web(self) -> dict[str, Any]:
        return {
            "https": f"127.0.0.1:{self.port}",
            "tlsCert": str(self.workdir / "tls.crt"),
            "tlsKey": str(self.workdir / "tls.key"),
        }

    def dex_config(self) -> dict[str, Any]:
        if self.config is not None:
            return {**self.config, "web": self._web()}
        config: dict[str, Any] = {
            "issuer": self.issuer,
            "storage": {"type": "memory"},
            "web": self._web(),
            "logger": {"level": "info"},
            "expiry": {"idTokens": self.id_token_ttl},
            "oauth2": {"skipApprovalScreen": True, "responseTypes": ["code"]},
            "staticClients": [c.config() for c in self.clients],
            "enablePasswordDB": False,
        }
        if self.ldap is not None:
            config["connectors"] = [self.ldap.connector()]
            config["oauth2"]["passwordConnector"] = "ldap"
        return config

    def start(self) -> DexServer:
        path = self.workdir / "config.yaml"
        path.write_text(yaml.safe_dump(self.dex_config(), sort_keys=False))
        self._proc = ManagedProcess(
            "dex", [str(tool("dex")), "serve", str(path)], log_path=self.log_path
        ).start()
        try:
            self._proc.wait_until(self._ready, timeout=30, what="its discovery document")
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        return bool(self.get_json("/.well-known/openid-configuration").get("issuer"))

    def restart(self, *, id_token_ttl: str | None = None) -> None:
        """Same port and issuer; new signing keys, and every earlier session forgotten."""
        if self._proc is not None:
            self._proc.stop()
        if id_token_ttl is not None:
            self.id_token_ttl = id_token_ttl
        self.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    def _url(self, path: str) -> str:
        # a generated configuration's issuer may name another origin (a proxy): talk to Dex itself
        base = f"{self.origin}{urllib.parse.urlsplit(self.issuer).path}"
        return base.rstrip("/") + path

    def get_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self._url(path), context=self.ssl_context(), timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def password_grant(
        self, client_id: str, client_secret: str, username: str, password: str, *, scopes: str = ""
    ) -> dict[str, Any]:
        """Tokens for a user without a browser (Dex's password grant through the LDAP connector)."""
        body = urllib.parse.urlencode(
            {
                "grant_type": "password",
                "username": username,
                "password": password,
                "scope": scopes or "openid profile email groups",
                "client_id": client_id,
                "client_secret": client_secret,
            }
        ).encode()
        request = urllib.request.Request(self._url("/token"), data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, context=self.ssl_context(), timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result
