"""Argo CD compatible RBAC: policy CSV lines ``p, subject, resource, action, object, effect`` and
``g, user-or-group, role``; built-in ``role:admin`` and ``role:readonly``; ``policy.default``.

Semantics (Argo CD's Casbin model): a request is allowed for a subject when some policy of the
subject or of a role it has (transitively, through ``g`` lines) allows it and none denies it;
resources, actions and objects match as globs (``*`` also matches ``/``). A caller's subjects
are its user name, its groups and, for project tokens, ``proj:<project>:<role>``; the request is
allowed when the default role or any one subject allows it.

Fast by construction: policies are indexed by subject and their globs compiled once; a check is
a dictionary walk and a few regex matches (microseconds), so listing thousands of apps spends
milliseconds on policy.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

RESOURCES = (
    "applications",
    "projects",
    "repositories",
    "clusters",
    "accounts",
    "logs",
    "certificates",
    "gpgkeys",
    "exec",
)
ACTIONS = ("get", "create", "update", "delete", "sync", "rollback", "override", "action/*")

BUILTIN_POLICY = """
p, role:readonly, applications, get, */*, allow
p, role:readonly, projects, get, *, allow
p, role:readonly, repositories, get, *, allow
p, role:readonly, clusters, get, *, allow
p, role:readonly, accounts, get, *, allow
p, role:readonly, certificates, get, *, allow
p, role:readonly, gpgkeys, get, *, allow
p, role:readonly, logs, get, */*, allow
p, role:admin, *, *, *, allow
g, role:admin, role:readonly
g, admin, role:admin
"""


class PolicyError(ValueError):
    """A policy line ferry cannot use; the message names the line."""


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


def glob_match(value: str, pattern: str) -> bool:
    return pattern in ("*", value) or bool(_compile(pattern).match(value))


@dataclass(frozen=True)
class Rule:
    subject: str
    resource: str
    action: str
    obj: str
    allow: bool

    def matches(self, resource: str, action: str, obj: str) -> bool:
        return (
            glob_match(resource, self.resource)
            and glob_match(action, self.action)
            and glob_match(obj, self.obj)
        )


def parse_csv(text: str, *, source: str = "policy.csv") -> tuple[list[Rule], list[tuple[str, str]]]:
    """(p rules, g edges) of a policy CSV; blank lines and comments ignored."""
    rules: list[Rule] = []
    edges: list[tuple[str, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text), skipinitialspace=True), start=1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        kind = cells[0]
        if kind == "p":
            if len(cells) not in (5, 6):
                raise PolicyError(
                    f"{source}:{number}: a p line needs subject, resource, action, object[, effect]"
                )
            effect = cells[5].lower() if len(cells) == 6 else "allow"
            if effect not in ("allow", "deny"):
                raise PolicyError(f"{source}:{number}: effect must be allow or deny, not {cells[5]!r}")
            rules.append(Rule(cells[1], cells[2], cells[3], cells[4], effect == "allow"))
        elif kind == "g":
            if len(cells) != 3:
                raise PolicyError(f"{source}:{number}: a g line needs a user or group and a role")
            edges.append((cells[1], cells[2]))
        else:
            raise PolicyError(f"{source}:{number}: lines start with p or g, not {kind!r}")
    return rules, edges


@dataclass
class Enforcer:
    """Policies compiled for checking; build a new one when the policy changes."""

    rules: list[Rule] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    default_role: str = ""

    def __post_init__(self) -> None:
        self._by_subject: dict[str, list[Rule]] = {}
        for rule in self.rules:
            self._by_subject.setdefault(rule.subject, []).append(rule)
        self._parents: dict[str, set[str]] = {}
        for member, role in self.edges:
            self._parents.setdefault(member, set()).add(role)
        self._closure: dict[str, frozenset[str]] = {}

    @staticmethod
    def from_config(policy_csv: str, *, default_role: str = "", extra: Iterable[str] = ()) -> Enforcer:
        rules, edges = parse_csv(BUILTIN_POLICY, source="built-in policy")
        user_rules, user_edges = parse_csv(policy_csv)
        rules += user_rules
        edges += user_edges
        for index, text in enumerate(extra):
            more_rules, more_edges = parse_csv(text, source=f"project policy {index}")
            rules += more_rules
            edges += more_edges
        return Enforcer(rules, edges, default_role)

    def roles_of(self, subject: str) -> frozenset[str]:
        """The subject and every role it has, transitively."""
        cached = self._closure.get(subject)
        if cached is not None:
            return cached
        seen = {subject}
        pending = [subject]
        while pending:
            for parent in self._parents.get(pending.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    pending.append(parent)
        result = frozenset(seen)
        self._closure[subject] = result
        return result

    def allowed(self, subject: str, resource: str, action: str, obj: str) -> bool:
        """Casbin's allow-and-not-deny for one subject."""
        allow = False
        for role in self.roles_of(subject):
            for rule in self._by_subject.get(role, ()):
                if rule.matches(resource, action, obj):
                    if not rule.allow:
                        return False
                    allow = True
        return allow

    def enforce(self, subjects: Sequence[str], resource: str, action: str, obj: str) -> bool:
        """Whether a caller with these subjects (user, groups, project role) may do it."""
        if self.default_role and self.allowed(self.default_role, resource, action, obj):
            return True
        return any(self.allowed(s, resource, action, obj) for s in subjects)


# What a project role may be granted: actions on its own project's applications and their logs.
PROJECT_ROLE_RESOURCES = ("applications", "logs")


def project_policy_error(project: str, role: str, policy: str) -> str | None:
    """Why a project role's policy line is not acceptable (None when it is). Argo CD's rule:
    ``p, proj:<project>:<role>, applications|logs, <action>, <project>/<object>, allow|deny``."""
    cells = [c.strip() for c in policy.split(",")]
    subject = f"proj:{project}:{role}"
    if len(cells) not in (5, 6) or cells[0] != "p":
        return f"{policy!r} is not 'p, {subject}, applications, <action>, {project}/<app>, allow|deny'"
    if cells[1] != subject:
        return f"{policy!r} must grant to {subject}, not {cells[1]!r}"
    if cells[2] not in PROJECT_ROLE_RESOURCES:
        return f"{policy!r}: a project role may only be granted {' or '.join(PROJECT_ROLE_RESOURCES)}"
    if not cells[4].startswith(f"{project}/"):
        return f"{policy!r}: the object must be in the project, {project}/<app>"
    if len(cells) == 6 and cells[5] not in ("allow", "deny"):
        return f"{policy!r}: the effect must be allow or deny"
    return None


def project_policies(project: dict[str, object]) -> str:
    """Policy lines of an AppProject's roles: their policies and ``g`` lines for their groups."""
    name = str((project.get("metadata") or {}).get("name", ""))  # type: ignore[attr-defined]
    lines: list[str] = []
    for role in (project.get("spec") or {}).get("roles") or []:  # type: ignore[attr-defined]
        subject = f"proj:{name}:{role.get('name', '')}"
        for policy in role.get("policies") or []:
            cells = [c.strip() for c in str(policy).split(",")]
            if len(cells) >= 5 and cells[0] == "p":
                cells[1] = subject  # a project role can only grant to itself
                # ... only on its own project's applications and logs (stored projects written
                # before the server validated them may hold anything: ignore the rest)
                if cells[2] not in PROJECT_ROLE_RESOURCES or not cells[4].startswith(f"{name}/"):
                    continue
                lines.append(", ".join(cells))
        lines += [f"g, {group}, {subject}" for group in role.get("groups") or []]
    return "\n".join(lines)
