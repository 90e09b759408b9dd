"""Resource actions (Argo CD's built-in restart, pause/resume, suspend/resume, create-job): which
a kind offers, when one is disabled, and what running it writes."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ferry.engine.actions import INSTANTIATE, RESTARTED_AT, ActionError, actions_for, run_action

NOW = datetime.datetime(2026, 12, 8, 1, 2, 3, tzinfo=datetime.UTC)


def obj(api_version: str, kind: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "team", "uid": "u-1"},
        "spec": spec,
    }


def offered(o: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(a.name, a.disabled) for a in actions_for(o)]


def test_each_kind_offers_argo_cds_actions() -> None:
    assert offered(obj("apps/v1", "Deployment")) == [("restart", False), ("pause", False), ("resume", True)]
    assert offered(obj("apps/v1", "Deployment", paused=True)) == [
        ("restart", False),
        ("pause", True),
        ("resume", False),
    ]
    assert offered(obj("apps/v1", "StatefulSet")) == [("restart", False)]
    assert offered(obj("apps/v1", "DaemonSet")) == [("restart", False)]
    assert offered(obj("batch/v1", "CronJob")) == [
        ("create-job", False),
        ("suspend", False),
        ("resume", True),
    ]
    assert offered(obj("v1", "ConfigMap")) == []
    assert offered(obj("example.com/v1", "Deployment")) == []  # another group's Deployment


def test_restart_stamps_the_pod_template() -> None:
    result = run_action(obj("apps/v1", "StatefulSet"), "restart", now=NOW, suffix="x")
    assert result.patch == {
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2026-12-08T01:02:03Z"}}}}
    }
    assert result.created is None


def test_pause_resume_and_suspend_resume_patch_one_field() -> None:
    assert run_action(obj("apps/v1", "Deployment"), "pause", now=NOW, suffix="x").patch == {
        "spec": {"paused": True}
    }
    paused = obj("apps/v1", "Deployment", paused=True)
    assert run_action(paused, "resume", now=NOW, suffix="x").patch == {"spec": {"paused": False}}
    assert run_action(obj("batch/v1", "CronJob"), "suspend", now=NOW, suffix="x").patch == {
        "spec": {"suspend": True}
    }
    suspended = obj("batch/v1", "CronJob", suspend=True)
    assert run_action(suspended, "resume", now=NOW, suffix="x").patch == {"spec": {"suspend": False}}


def test_create_job_makes_an_owned_job_from_the_template() -> None:
    cronjob = obj(
        "batch/v1",
        "CronJob",
        schedule="0 * * * *",
        jobTemplate={
            "metadata": {"labels": {"team": "web"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        },
    )
    job = run_action(cronjob, "create-job", now=NOW, suffix="a1b2c3").created
    assert job is not None
    assert job["metadata"]["name"] == "web-a1b2c3"
    assert job["metadata"]["namespace"] == "team"
    assert job["metadata"]["labels"] == {"team": "web"}
    assert job["metadata"]["annotations"] == {INSTANTIATE: "manual"}
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "web",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert job["spec"] == cronjob["spec"]["jobTemplate"]["spec"]


@pytest.mark.parametrize(
    ("target", "action", "why"),
    [
        (obj("apps/v1", "Deployment"), "resume", "not available on Deployment web now"),
        (
            obj("apps/v1", "Deployment"),
            "scale",
            "has no action 'scale' (its actions: restart, pause, resume)",
        ),
        (obj("v1", "ConfigMap"), "restart", "ConfigMap has no action 'restart' (its actions: none)"),
    ],
)
def test_refused_actions_say_why(target: dict[str, Any], action: str, why: str) -> None:
    with pytest.raises(ActionError, match=why.replace("(", r"\(").replace(")", r"\)")):
        run_action(target, action, now=NOW, suffix="x")
