"""Repository URLs: one parser for every decision about where a request goes.

``parse`` splits a repository URL with ``urllib.parse`` (the library ferry's Helm client sends
requests with, so the host ferry matches credentials against is the host the request reaches)
and refuses what has no meaning in a repository URL or could make two parsers disagree:

* a query or a fragment (``https://evil?@charts.corp/x``: the part after ``?``/``#`` is not the
  host, whatever a hand-made ``@`` split says),
* dot segments, empty segments and encoded ``/`` ``\\`` ``.`` in the path (curl and git remove
  dot segments before they send a request, so ``team-b/../team-a`` reaches ``team-a``),
* a host that is not a DNS name or an IP literal, a port that is not a number,
* git's ``<transport>::<address>`` remote-helper syntax (``ext::sh -c …`` runs a command).

``file://`` URLs and local paths parse (``kind`` tells them apart) so the repo server can refuse
them with a message of its own, or allow ``file://`` in development.

``identity``/``matches_prefix`` are what credential look-up and caches use: scheme, host and
effective port, and the path as segments (no ``.git``, no trailing slash); userinfo never counts.
Same-origin checks compare ``origin`` (scheme, host, effective port).

``normalize`` and ``canonical`` keep their earlier meaning for display, webhooks and repository
names; they never decide where credentials go.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from ferry.errors import InvalidArgument
from ferry.redact import strip_userinfo

DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}
NETWORK_SCHEMES = frozenset(DEFAULT_PORTS)
_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^@/:\s\[\]]+|\[[0-9A-Fa-f:.]+\]):(?P<path>(?!//)[^\s]*)$"
)
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")
_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


class BadRepoURL(InvalidArgument):
    """A repository URL ferry will not use (INVALID_ARGUMENT, naming why)."""


@dataclass(frozen=True)
class RepoURL:
    """A parsed repository URL. ``kind`` is ``network`` (http, https, ssh, git, and scp-like
    ``user@host:path``), ``file`` (``file://``) or ``local`` (a path on the repo server)."""

    raw: str
    kind: str
    scheme: str  # scp-like URLs are "ssh"; local paths "file"
    username: str
    password: str
    host: str  # lower case, no trailing dot; IPv6 without brackets
    port: int | None  # as written
    segments: tuple[str, ...]  # path segments, no empty ones
    scp: bool = False

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """(scheme, host, effective port): where a request goes, for same-origin checks."""
        return (self.scheme, self.host, self.effective_port)

    @property
    def repo_segments(self) -> tuple[str, ...]:
        """Path segments with a ``.git`` suffix on the last one removed."""
        if not self.segments:
            return ()
        return (*self.segments[:-1], self.segments[-1].removesuffix(".git"))

    def identity(self) -> str:
        """``scheme://host:port/path`` with no credentials, ``.git`` or trailing slash: the key of
        a repository's credentials, mirror and caches. ``git@h:o/r`` and ``ssh://git@h/o/r``
        are the same repository."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = self.effective_port
        authority = f"{host}:{port}" if port is not None else host
        return f"{self.scheme}://{authority}/" + "/".join(self.repo_segments)

    def matches_prefix(self, prefix: RepoURL) -> bool:
        """Whether a credential template for ``prefix`` covers this URL: same scheme, host and
        effective port, and ``prefix``'s path segments are the first segments of this path
        (``https://git.corp`` covers ``https://git.corp/x`` but not ``https://git.corp.evil/x``;
        ``https://h/org`` covers ``https://h/org/repo`` but not ``https://h/organization``)."""
        if self.origin != prefix.origin:
            return False
        mine, theirs = self.repo_segments, prefix.repo_segments
        return len(theirs) <= len(mine) and mine[: len(theirs)] == theirs

    def redacted(self) -> str:
        return strip_userinfo(self.raw)


def _refuse(url: str, why: str) -> BadRepoURL:
    return BadRepoURL(f"repository URL {strip_userinfo(url)!r} {why}")


def _host(url: str, host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _refuse(url, "has an invalid IPv6 host")
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise _refuse(url, f"has an invalid IPv6 host {host!r}") from None
        return inner.lower()
    host = host.lower().rstrip(".")
    if not _HOST_NAME.match(host):
        raise _refuse(url, f"has an invalid host {host!r}")
    return host


def _segments(url: str, path: str) -> tuple[str, ...]:
    parts = path.split("/")
    if parts and parts[0] == "":
        parts = parts[1:]
    if parts and parts[-1] == "":
        parts = parts[:-1]  # one trailing slash is cosmetic
    for part in parts:
        decoded = urllib.parse.unquote(part)
        if part == "":
            raise _refuse(url, "has an empty path segment ('//'): write the path without it")
        if decoded in (".", ".."):
            raise _refuse(url, "has a '.' or '..' path segment: write the path without dot segments")
        if "/" in decoded or "\\" in decoded:
            raise _refuse(url, f"has an encoded separator or escape in path segment {part!r}")
    return tuple(parts)


def parse(url: str) -> RepoURL:
    """The parsed URL, or BadRepoURL (an INVALID_ARGUMENT) saying what to fix."""
    raw = url
    url = url.strip()
    if not url:
        raise BadRepoURL("repository URL is required")
    if url.startswith("-"):
        raise _refuse(url, "is not a URL (it starts with '-')")
    if _REMOTE_HELPER.match(url):
        raise _refuse(url, "uses git's '<transport>::' remote-helper syntax, which ferry never allows")
    if _CONTROL.search(url):
        raise _refuse(url, "contains whitespace, a control character or a backslash")
    if "?" in url or "#" in url:
        raise _refuse(url, "has a query ('?') or fragment ('#'): a repository URL has neither")
    if "://" not in url:
        scp = _SCP_LIKE.match(url)
        if scp and not url.startswith(("/", ".", "~")):
            host = _host(url, scp.group("host"))
            return RepoURL(
                raw=raw,
                kind="network",
                scheme="ssh",
                username=scp.group("user") or "",
                password="",
                host=host,
                port=None,
                segments=_segments(url, scp.group("path")),
                scp=True,
            )
        return RepoURL(raw, "local", "file", "", "", "", None, _local_segments(url))
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _refuse(url, "names a host in a file:// URL")
        return RepoURL(raw, "file", "file", "", "", "", None, _local_segments(parts.path))
    if scheme not in NETWORK_SCHEMES:
        raise _refuse(url, f"has scheme {scheme!r}: use https://, http://, ssh://, git:// or git@host:path")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if "@" in userinfo:
        raise _refuse(url, "has more than one '@' before its host")
    username, _, password = userinfo.partition(":") if at else ("", "", "")
    host = hostport
    port: int | None = None
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise _refuse(url, f"has an invalid port {rest[1:]!r}")
            port = int(rest[1:])
    elif ":" in hostport:
        host, _, port_text = hostport.rpartition(":")
        if not port_text.isdigit():
            raise _refuse(url, f"has an invalid port {port_text!r}")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise _refuse(url, f"has an invalid port {port}")
    if not host:
        raise _refuse(url, "has no host")
    return RepoURL(
        raw=raw,
        kind="network",
        scheme=scheme,
        username=urllib.parse.unquote(username),
        password=urllib.parse.unquote(password),
        host=_host(url, host),
        port=port,
        segments=_segments(url, parts.path),
    )


def _local_segments(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def try_parse(url: str) -> RepoURL | None:
    try:
        return parse(url)
    except BadRepoURL:
        return None


def same_origin(a: str, b: str) -> bool:
    """Whether two http(s) URLs reach the same scheme, host and effective port."""
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    try:
        porta = pa.port or DEFAULT_PORTS.get(pa.scheme.lower())
        portb = pb.port or DEFAULT_PORTS.get(pb.scheme.lower())
    except ValueError:
        return False
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "").rstrip(".") == (pb.hostname or "").rstrip(".")
        and porta == portb
    )


def normalize(url: str) -> str:
    """Same URL, cosmetic differences removed (no credentials, no ``.git``, no trailing slash).
    For display and names only: credential look-up and caches use ``parse(url).identity()``."""
    return strip_userinfo(url.strip()).rstrip("/").removesuffix(".git")


def identity(url: str) -> str:
    """``parse(url).identity()``, or the normalized text when the URL does not parse (it is then
    refused wherever it would be used)."""
    parsed = try_parse(url)
    return parsed.identity() if parsed is not None else f"unparsed:{normalize(url)}"


def canonical(url: str) -> str:
    """``host[:port]/path`` in lower case: equal for https, http, ssh and scp-like forms."""
    url = url.strip()
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        host, path = scp.group("host"), scp.group("path")
    else:
        rest = strip_userinfo(url).split("://", 1)[-1]
        host, _, path = rest.partition("/")
        if url.startswith("ssh://"):
            host = host.split(":", 1)[0]  # an ssh port is not part of the repository's identity
    return f"{host.lower()}/{path.strip('/').removesuffix('.git').lower()}"
