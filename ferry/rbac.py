"""Argo CD compatible RBAC: policy CSV lines ``p, subject, resource, action, object, effect`` and
``g, user-or-group, role``; built-in ``role:admin`` and ``role:readonly``; ``policy.default``.

Policies are compiled into rows (``Rule``, role edges), never joined as CSV text: ferry-rbac-cm's
``policy.csv`` is parsed by the csv module, and an AppProject's roles become rows field by field
(``project_policy``), so no role name, group or policy a project admin writes can add a line.
Project role names, groups and policies are validated when written (``role_problems``); a stored
project's entries that are not valid (edited by hand) are skipped one by one, never the rest.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

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


@dataclass(frozen=True)
class Policy:
    """Compiled policy rows of one source (ferry-rbac-cm, the built-ins, one AppProject)."""

    rules: tuple[Rule, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()


def compile_csv(text: str, *, source: str = "policy.csv") -> Policy:
    """ferry-rbac-cm's ``policy.csv`` as rows; PolicyError names the line that is wrong."""
    rules, edges = parse_csv(text, source=source)
    return Policy(tuple(rules), tuple(edges))


BUILTIN = compile_csv(BUILTIN_POLICY, source="built-in policy")


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
    def combine(
        configured: Policy | None, *, default_role: str = "", projects: Iterable[Policy] = ()
    ) -> Enforcer:
        """The built-ins, ferry-rbac-cm's policy and the projects' roles. ``configured`` None (no
        usable ferry-rbac-cm): only the built-ins — ``admin`` may do everything, everyone else
        nothing, whatever the projects say (a broken policy fails closed)."""
        if configured is None:
            return Enforcer(list(BUILTIN.rules), list(BUILTIN.edges))
        parts = [BUILTIN, configured, *projects]
        return Enforcer(
            [r for part in parts for r in part.rules], [e for part in parts for e in part.edges], default_role
        )

    @staticmethod
    def from_config(
        policy_csv: str, *, default_role: str = "", projects: Iterable[Mapping[str, Any]] = ()
    ) -> Enforcer:
        """ferry-rbac-cm's ``policy.csv`` and ``policy.default`` with these AppProjects' roles."""
        return Enforcer.combine(
            compile_csv(policy_csv),
            default_role=default_role,
            projects=[project_policy(p)[0] for p in projects],
        )

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

    def may_act_somewhere(self, subjects: Sequence[str], resource: str, action: str) -> bool:
        """Whether some rule could allow the action on some object: the cheap check before a
        request is read further (false means ``enforce`` is false for every object)."""
        candidates = [self.default_role, *subjects] if self.default_role else list(subjects)
        return any(
            rule.allow and glob_match(resource, rule.resource) and glob_match(action, rule.action)
            for subject in candidates
            for role in self.roles_of(subject)
            for rule in self._by_subject.get(role, ())
        )

    def enforce(self, subjects: Sequence[str], resource: str, action: str, obj: str) -> bool:
        """Whether a caller with these subjects (user, groups, project role) may do it."""
        if self.default_role and self.allowed(self.default_role, resource, action, obj):
            return True
        return any(self.allowed(s, resource, action, obj) for s in subjects)


# What a project role may be granted: actions on its own project's applications and their logs.
PROJECT_ROLE_RESOURCES = ("applications", "logs")
# Argo CD's actions a project role may use (validActions and validActionPatterns).
_ROLE_ACTIONS = frozenset({"get", "create", "update", "delete", "sync", "override", "rollback", "*"})
_ROLE_ACTION_PATTERN = re.compile(r"^(action|update|delete)/.*$")
# Argo CD's role name rule, with a length limit.
_ROLE_NAME = re.compile(r"[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?")  # fullmatch: "$" allows a "\n"
MAX_ROLE_NAME = 64
MAX_GROUP = 256
MAX_POLICY = 1024
# Never in a group: the CSV separators and quotes, comment and line breaks (and other controls).
_GROUP_FORBIDDEN = frozenset(',"#\n\r\t')


def _controls(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def role_name_error(name: str) -> str | None:
    if not name:
        return "a role needs a name"
    if len(name) > MAX_ROLE_NAME or not _ROLE_NAME.fullmatch(name):
        return (
            f"invalid role name {name!r}: use at most {MAX_ROLE_NAME} letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return None


def group_error(group: str) -> str | None:
    if not group.strip():
        return "a group must not be empty"
    if len(group) > MAX_GROUP:
        return f"group {group[:40]!r}... is longer than {MAX_GROUP} characters"
    if _GROUP_FORBIDDEN & set(group) or _controls(group):
        return f"group {group!r} must not contain ',', '\"', '#', line breaks or other control characters"
    if group != group.strip():
        return f"group {group!r} must not start or end with a space"
    return None


def project_rule(project: str, role: str, policy: str) -> Rule:
    """One policy of a project role as a row. Argo CD's rule: ``p, proj:<project>:<role>,
    applications|logs, <action>, <project>/<app>[, allow|deny]``; PolicyError says what is wrong."""
    subject = f"proj:{project}:{role}"
    shape = f"'p, {subject}, applications, <action>, {project}/<app>, allow|deny'"
    if len(policy) > MAX_POLICY:
        raise PolicyError(f"a policy is longer than {MAX_POLICY} characters")
    if _controls(policy) or '"' in policy:
        raise PolicyError(f"{policy!r} must be one line without quotes: {shape}")
    cells = [c.strip() for c in policy.split(",")]
    if len(cells) not in (5, 6) or cells[0] != "p":
        raise PolicyError(f"{policy!r} is not {shape}")
    _, granted_to, resource, action, obj, *effect = cells
    if granted_to != subject:
        raise PolicyError(f"{policy!r} must grant to {subject}, not {granted_to!r}")
    if resource not in PROJECT_ROLE_RESOURCES:
        raise PolicyError(
            f"{policy!r}: a project role may only be granted {' or '.join(PROJECT_ROLE_RESOURCES)}"
        )
    if action not in _ROLE_ACTIONS and not _ROLE_ACTION_PATTERN.match(action):
        raise PolicyError(f"{policy!r}: invalid action {action!r}")
    if not re.fullmatch(rf"{re.escape(project)}(/[*\w.-]+)?/[*\w.-]+", obj, re.ASCII):
        raise PolicyError(f"{policy!r}: the object must be in the project, {project}/<app>")
    if effect and effect[0] not in ("allow", "deny"):
        raise PolicyError(f"{policy!r}: the effect must be allow or deny")
    return Rule(subject, resource, action, obj, not effect or effect[0] == "allow")


def project_policy_error(project: str, role: str, policy: str) -> str | None:
    """Why a project role's policy is not acceptable (None when it is)."""
    try:
        project_rule(project, role, policy)
    except PolicyError as err:
        return str(err)
    return None


def _roles(project: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    roles = (project.get("spec") or {}).get("roles") or []
    return [r for r in roles if isinstance(r, Mapping)]


def role_problems(project: Mapping[str, Any]) -> list[str]:
    """What is wrong with an AppProject's roles (the API refuses the project with INVALID_ARGUMENT):
    role names, groups and policies, each saying where."""
    name = str((project.get("metadata") or {}).get("name", ""))
    problems: list[str] = []
    seen: set[str] = set()
    for index, role in enumerate(_roles(project)):
        where = f"project.spec.roles[{index}]"
        role_name = str(role.get("name") or "")
        problem = role_name_error(role_name)
        if problem:
            problems.append(f"{where}.name: {problem}")
            continue
        if role_name in seen:
            problems.append(f"{where}.name: role {role_name!r} already exists")
        seen.add(role_name)
        for number, policy in enumerate(role.get("policies") or []):
            problem = project_policy_error(name, role_name, str(policy))
            if problem:
                problems.append(f"{where}.policies[{number}]: {problem}")
        for number, group in enumerate(role.get("groups") or []):
            problem = group_error(str(group))
            if problem:
                problems.append(f"{where}.groups[{number}]: {problem}")
    return problems


def project_policy(project: Mapping[str, Any]) -> tuple[Policy, list[str]]:
    """An AppProject's roles as rows: each valid policy a rule of its role, each valid group an
    edge to it; with what was skipped (a project written around the API's checks)."""
    name = str((project.get("metadata") or {}).get("name", ""))
    rules: list[Rule] = []
    edges: list[tuple[str, str]] = []
    skipped: list[str] = []
    for role in _roles(project):
        role_name = str(role.get("name") or "")
        problem = role_name_error(role_name)
        if problem:
            skipped.append(problem)
            continue
        for policy in role.get("policies") or []:
            try:
                rules.append(project_rule(name, role_name, str(policy)))
            except PolicyError as err:
                skipped.append(str(err))
        for group in role.get("groups") or []:
            problem = group_error(str(group))
            if problem:
                skipped.append(problem)
            else:
                edges.append((str(group), f"proj:{name}:{role_name}"))
    return Policy(tuple(rules), tuple(edges)), skipped
