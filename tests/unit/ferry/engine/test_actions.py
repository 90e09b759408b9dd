"""Resource actions (Argo CD's built-in restart, pause/resume, suspend/resume, create-job): which
a kind offers, when one is disabled, and what running it writes."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ferry.engine.actions import (
    INSTANTIATE,
    RESTARTED_AT,
    ActionError,
    actions_for,
    custom_actions_from_settings,
    merge_patch,
    run_action,
)

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


# --- custom actions in Lua (ferry-cm resource.customizations.actions.<group>_<kind>) -------------

ARGO_CRONJOB_ACTIONS = """
discovery.lua: |
  actions = {}
  actions["suspend"] = {["disabled"] = true}
  actions["resume"] = {["disabled"] = true}
  local suspend = false
  if obj.spec.suspend ~= nil then
      suspend = obj.spec.suspend
  end
  if suspend then
      actions["resume"]["disabled"] = false
  else
      actions["suspend"]["disabled"] = false
  end
  return actions
definitions:
- name: suspend
  action.lua: |
    obj.spec.suspend = true
    return obj
- name: resume
  action.lua: |
    if obj.spec.suspend ~= nil and obj.spec.suspend then
        obj.spec.suspend = false
    end
    return obj
"""


def test_argo_cds_documented_cronjob_actions_run_unchanged() -> None:
    """The example of Argo CD's resource_actions page, as written there."""
    custom = custom_actions_from_settings(
        {"resource.customizations.actions.batch_CronJob": ARGO_CRONJOB_ACTIONS}
    )
    cronjob = obj("batch/v1", "CronJob", schedule="0 * * * *", args=[], replicas=3)
    assert [(a.name, a.disabled) for a in actions_for(cronjob, custom)] == [
        ("resume", True),
        ("suspend", False),
    ]
    result = run_action(cronjob, "suspend", now=NOW, suffix="x", custom=custom)
    assert result.patch == {"spec": {"suspend": True}}  # only what changed (the empty list is not)
    with pytest.raises(ActionError, match="not available"):
        run_action(cronjob, "resume", now=NOW, suffix="x", custom=custom)
    with pytest.raises(ActionError, match="no action 'create-job'"):  # custom actions replace built-ins
        run_action(cronjob, "create-job", now=NOW, suffix="x", custom=custom)


def test_new_style_operations_and_os_date() -> None:
    script = """
discovery.lua: |
  return {["stamp-and-copy"] = {}}
definitions:
- name: stamp-and-copy
  action.lua: |
    obj.metadata.annotations = {stamped = os.date("!%Y")}
    local copy = {apiVersion = "v1", kind = "ConfigMap", metadata = {name = obj.metadata.name .. "-copy"}}
    return {{operation = "patch", resource = obj}, {operation = "create", resource = copy}}
"""
    custom = custom_actions_from_settings({"resource.customizations.actions.example.com_Widget": script})
    widget = obj("example.com/v1", "Widget")
    result = run_action(widget, "stamp-and-copy", now=NOW, suffix="x", custom=custom)
    assert result.patch == {
        "metadata": {"annotations": {"stamped": str(datetime.datetime.now(datetime.UTC).year)}}
    }
    assert result.created == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-copy"}}


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ("discovery.lua: 'return {'", "does not compile"),
        ("definitions: []", "needs discovery.lua and definitions"),
        ("[unclosed", "not YAML"),
    ],
)
def test_bad_custom_actions_name_the_key(settings: str, why: str) -> None:
    with pytest.raises(
        ActionError, match=f"ferry-cm resource.customizations.actions.apps_Deployment: .*{why}"
    ):
        custom_actions_from_settings({"resource.customizations.actions.apps_Deployment": settings})


def test_a_hostile_action_script_is_stopped_by_its_budget() -> None:
    script = """
discovery.lua: |
  return {spin = {}}
definitions:
- name: spin
  action.lua: |
    while true do end
"""
    custom = custom_actions_from_settings({"resource.customizations.actions.apps_Deployment": script})
    with pytest.raises(ActionError, match="instruction budget exceeded"):
        run_action(obj("apps/v1", "Deployment"), "spin", now=NOW, suffix="x", custom=custom)


def test_merge_patch() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 4}, "e": [1]}) == {
        "b": {"c": 4, "d": None},
        "e": [1],
    }
