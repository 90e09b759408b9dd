"""The expr-lang evaluator on the conditions Argo CD's catalog and docs use, expr's semantics for
nil, optional chaining, numbers and time, and its refusal of anything outside the data."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.gotemplate.helpers import strings_helpers, time_helpers
from notifications.expr import ExprError, compile_expr, to_text

APP: dict[str, Any] = {
    "metadata": {
        "name": "guestbook",
        "annotations": {"example.com/version": "v2"},
        "deletionTimestamp": None,
    },
    "status": {
        "sync": {"status": "Synced", "revision": "abc"},
        "health": {"status": "Healthy", "lastTransitionTime": "2024-05-01T10:00:30Z"},
        "operationState": {
            "phase": "Succeeded",
            "startedAt": "2024-05-01T10:00:00Z",
            "finishedAt": "2024-05-01T10:00:20Z",
            "syncResult": {"revision": "abc", "resources": [{"kind": "Deployment", "status": "Synced"}]},
        },
        "conditions": [{"type": "Available", "status": "True"}],
    },
}
ENV = {"app": APP, "obj": APP, "time": time_helpers(), "strings": strings_helpers()}

DEPLOYED = (
    "app.status.operationState != nil and app.status.operationState.phase in ['Succeeded'] and "
    "app.status.health.status == 'Healthy' and (!time.Parse(app.status.health.lastTransitionTime).Add(1 * "
    "time.Minute).Before(time.Parse(app.status.operationState.finishedAt)) or "
    "time.Parse(app.status.health.lastTransitionTime).Before(time.Parse(app.status.operationState.startedAt)))"
)


def run(source: str, env: dict[str, Any] | None = None) -> Any:
    return compile_expr(source).run(ENV if env is None else env)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true", True),
        ("app.metadata.deletionTimestamp != nil", False),
        (DEPLOYED, True),
        (
            "app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']",
            False,
        ),
        ("app.status?.operationState.phase in ['Succeeded']", True),
        ("app.status.sync.status == 'Unknown'", False),
        ("app.status.health.status == 'Degraded' or app.status.sync.status == 'Synced'", True),
        ("app.status.operationState?.syncResult?.revision", "abc"),
        ('app.metadata.annotations["example.com/version"]', "v2"),
        ("any(obj.status.conditions, {.type == 'Available' && .status == 'True'})", True),
        ("all(app.status.operationState.syncResult.resources, {.status == 'Synced'})", True),
        ("count([1, 2, 3], {# > 1})", 2),
        ("filter([1, 2, 3], {# != 2})", [1, 3]),
        ("map([1, 2], {# * 10})", [10, 20]),
        ("time.Now().Sub(time.Parse(app.status?.operationState.startedAt)).Minutes() >= 5", True),
        (
            "time.Parse('2024-05-01T10:00:00Z').Add(90 * time.Second).Format(time.RFC3339)",
            "2024-05-01T10:01:30Z",
        ),
        ("strings.ToUpper(app.metadata.name)", "GUESTBOOK"),
        ("1 + 2 * 3", 7),
        ("2 ** 3 ** 2", 512.0),
        ("7 / 2", 3.5),
        ("7 % 3", 1),
        ("1 == 1.0", True),
        ("'1' == 1", False),
        ("nil == nil", True),
        ("'a' + 'b'", "ab"),
        (
            "'guestbook' startsWith 'guest' and 'guestbook' endsWith 'book' and 'guestbook' contains 'stb'",
            True,
        ),
        ("'guestbook' matches '^g.*k$'", True),
        ("'x' not in ['a', 'b']", True),
        ("not true", False),
        ("!(1 < 2)", False),
        ("1 < 2 ? 'yes' : 'no'", "yes"),
        ("app.nope ?? 'default'", "default"),
        ("app.status.missing?.deeper.still", None),
        ("'name' in app.metadata", True),
        ("len(app.status.conditions)", 1),
        ("[1, 2][-1]", 2),
        ("{a: 1, 'b': 2}.b", 2),
        ("1..3", [1, 2, 3]),
    ],
)
def test_evaluates_as_expr(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("app.nope.x", "cannot fetch x from <nil>"),
        ("'a' < 1", "invalid operation: < (mismatched types string and int64)"),
        ("1 and true", "mismatched types"),
        ("[1][5]", "index out of range: 5 (array length is 1)"),
        ("time.Parse('yesterday')", 'parsing time "yesterday"'),
        ("app.metadata.name()", "is not callable"),
        ("app.metadata.name.__class__", "cannot fetch __class__ from string"),
        ("app.__class__.__mro__", "cannot fetch __mro__ from <nil>"),
        ("__import__('os')", "is not callable"),
        ("1 +", "unexpected end of expression"),
        ("(1", "expected ')'"),
        ("1 $ 2", "unexpected token"),
    ],
)
def test_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError) as raised:
        run(source)
    assert message in str(raised.value)


def test_evaluation_is_bounded() -> None:
    with pytest.raises(ExprError, match="exceeds"):
        run("count(0..200000, {# > 0 and # > 1 and # > 2 and # > 3})")
    with pytest.raises(ExprError, match="nested too deeply"):
        compile_expr("(" * 500 + "1" + ")" * 500)


def test_once_per_text_is_go_formatting() -> None:
    assert to_text(run("app.status.operationState?.syncResult?.revision")) == "abc"
    assert to_text(run("app.status.nothing?.revision")) == "<nil>"
    assert to_text(run("1.0 * 3")) == "3"
