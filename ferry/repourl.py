"""Repository URLs compared the way people mean them: credentials, scheme, ``.git`` suffix,
trailing slash, host case and the ssh ``git@host:path`` form do not make two URLs different."""

from __future__ import annotations

import re

from ferry.redact import strip_userinfo

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//)[^\s]+)$")


def normalize(url: str) -> str:
    """Same URL, cosmetic differences removed (no credentials, no ``.git``, no trailing slash)."""
    return strip_userinfo(url.strip()).rstrip("/").removesuffix(".git")


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
