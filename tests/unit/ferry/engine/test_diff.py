"""Diff decisions: defaulting and other managers' fields are not drift; edits, removed labels
and removed env vars that ferry applied are drift; equivalent spellings are equal."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ferry.engine.diff import DiffOptions, diff, normalize, predict
from ferry.engine.ignore import IgnoreRule, IgnoreRuleError, rules_from_settings
from ferry.engine.status import SyncStatus


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "0"}],
                            "resources": {"limits": {"cpu": "1000m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def fields_v1_of(desired: dict[str, Any]) -> dict[str, Any]:
    """The fieldsV1 an apply of ``desired`` records (the parts these tests use)."""
    container = desired["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, Any] = {
        f'k:{{"name":"{e["name"]}"}}': {".": {}, "f:name": {}, "f:value": {}} for e in container["env"]
    }
    return {
        "f:metadata": {"f:labels": {f"f:{k}": {} for k in desired["metadata"]["labels"]}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"web"}': {
                            ".": {},
                            "f:name": {},
                            "f:image": {},
                            "f:env": env,
                            "f:resources": {},
                        }
                    }
                },
            },
        },
    }


def live_after_apply(desired: dict[str, Any]) -> dict[str, Any]:
    """What the API server stores: desired + defaults + server metadata + status + managedFields."""
    live = copy.deepcopy(desired)
    live["metadata"].update(
        uid="0f0e",
        resourceVersion="481",
        generation=1,
        creationTimestamp="2026-11-26T10:00:00Z",
        annotations={"deployment.kubernetes.io/revision": "1"},
        managedFields=[
            {
                "manager": "ferry-controller",
                "operation": "Apply",
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1_of(desired),
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}},
            },
        ],
    )
    spec = live["spec"]
    spec.update(progressDeadlineSeconds=600, revisionHistoryLimit=10, strategy={"type": "RollingUpdate"})
    pod = spec["template"]["spec"]
    pod.update(restartPolicy="Always", dnsPolicy="ClusterFirst", terminationGracePeriodSeconds=30)
    container = pod["containers"][0]
    container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    container["ports"][0]["protocol"] = "TCP"
    container["resources"]["limits"]["cpu"] = "1"  # the API server canonicalises 1000m
    live["status"] = {"replicas": 2, "availableReplicas": 2}
    return live


def test_applied_object_with_defaults_is_synced() -> None:
    desired = deployment()
    result = diff(desired, live_after_apply(desired))
    assert result.status is SyncStatus.SYNCED
    assert result.diff == ""


def test_changed_replica_count_is_drift() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    live["spec"]["replicas"] = 5
    result = diff(desired, live)
    assert result.status is SyncStatus.OUT_OF_SYNC
    assert result.changed_paths == (".spec.replicas",)
    assert "-  replicas: 5" in result.diff
    assert "+  replicas: 2" in result.diff


def test_label_removed_from_git_is_drift() -> None:
    applied = deployment()
    live = live_after_apply(applied)
    desired = deployment()
    del desired["metadata"]["labels"]["tier"]
    result = diff(desired, live)
    assert result.changed_paths == (".metadata.labels.tier",)


def test_env_var_removed_from_git_is_drift() -> None:
    applied = deployment()
    live = live_after_apply(applied)
    desired = deployment()
    desired["spec"]["template"]["spec"]["containers"][0]["env"].pop()
    result = diff(desired, live)
    assert result.modified
    assert result.changed_paths == (".spec.template.spec.containers[0].env",)


def test_fields_of_other_managers_are_not_drift() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    live["metadata"]["labels"]["injected-by"] = "admission"
    live["metadata"]["managedFields"].append(
        {
            "manager": "webhook",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:injected-by": {}}}},
        }
    )
    assert not diff(desired, live).modified


def test_field_ferry_owns_jointly_with_another_manager_is_kept() -> None:
    applied = deployment()
    live = live_after_apply(applied)
    live["metadata"]["managedFields"].append(
        {
            "manager": "kubectl",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}},
        }
    )
    desired = deployment()
    del desired["metadata"]["labels"]["tier"]
    assert not diff(desired, live).modified


def test_manual_edit_of_a_field_git_does_not_set_is_not_drift_without_ownership() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    assert not diff(desired, live).modified


def test_missing_and_extra_objects() -> None:
    desired = deployment()
    missing = diff(desired, None)
    assert missing.modified
    assert missing.normalized_live is None
    assert "+kind: Deployment" in missing.diff
    extra = diff(None, live_after_apply(desired))
    assert extra.modified
    assert extra.predicted_live is None
    assert diff(None, None).modified is False


def test_dry_run_result_is_the_prediction_when_given() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    dry_run = copy.deepcopy(live)
    dry_run["metadata"]["managedFields"] = []  # volatile metadata never counts
    assert not diff(desired, live, dry_run=dry_run).modified
    dry_run["spec"]["template"]["spec"]["dnsPolicy"] = "Default"  # what the server says would change
    assert diff(desired, live, dry_run=dry_run).changed_paths == (".spec.template.spec.dnsPolicy",)


@pytest.mark.parametrize(
    ("desired_value", "live_value"),
    [("1000m", "1"), ("0.5", "500m"), ("1Gi", "1073741824"), ("128Mi", "134217728"), ("2", 2)],
)
def test_quantities_compare_by_value(desired_value: object, live_value: object) -> None:
    desired = deployment()
    desired["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = desired_value
    live = live_after_apply(deployment())
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = live_value
    assert not diff(desired, live).modified


def test_numeric_port_as_string_is_equal() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": "80"}]},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "uid": "u"},
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "sessionAffinity": "None"},
    }
    assert not diff(desired, live).modified


def test_empty_and_absent_maps_and_lists_are_equal() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}, "data": {}}
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}}
    assert not diff(desired, live).modified


def test_secret_values_are_masked_but_changes_visible() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"pw": "bmV3", "same": "eA=="},
    }
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"pw": "b2xk", "same": "eA=="},
    }
    result = diff(desired, live)
    assert result.modified
    assert "bmV3" not in result.diff
    assert "b2xk" not in result.diff
    assert result.normalized_live is not None
    assert result.predicted_live is not None
    assert result.normalized_live["data"]["same"] == result.predicted_live["data"]["same"]
    assert result.normalized_live["data"]["pw"] != result.predicted_live["data"]["pw"]
    assert set(result.predicted_live["data"]["pw"]) == {"+"}


def test_ignore_differences_by_pointer_jq_and_manager() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    live["spec"]["replicas"] = 7
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:hotfix"
    assert diff(desired, live).modified
    rules = [
        IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
        IgnoreRule(
            group="apps",
            kind="Deployment",
            jq_path_expressions=('.spec.template.spec.containers[] | select(.name == "web") | .image',),
        ),
    ]
    assert not diff(desired, live, options=DiffOptions(ignore=rules)).modified
    other_kind = [IgnoreRule(group="", kind="ConfigMap", json_pointers=("/spec/replicas",))]
    assert diff(desired, live, options=DiffOptions(ignore=other_kind)).modified


def test_ignore_fields_owned_by_a_manager() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    live["spec"]["replicas"] = 9
    live["metadata"]["managedFields"].append(
        {"manager": "hpa-controller", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
    )
    rule = IgnoreRule(group="apps", kind="Deployment", managed_fields_managers=("hpa-controller",))
    assert not diff(desired, live, options=DiffOptions(ignore=[rule])).modified


def test_ignore_rules_from_settings() -> None:
    rules = rules_from_settings(
        {
            "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers:\n- /spec/replicas\n",
            "resource.customizations.ignoreDifferences.all": (
                "managedFieldsManagers:\n- kube-controller-manager\n"
            ),
        }
    )
    assert rules[0] == IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",))
    assert rules[1].group == "*"
    assert rules[1].matches({"apiVersion": "v1", "kind": "Pod"})


def test_bad_jq_expression_is_a_clear_error() -> None:
    with pytest.raises(IgnoreRuleError, match="does not compile"):
        IgnoreRule(kind="Pod", jq_path_expressions=(".spec[",))


def test_predict_keeps_live_order_of_keyed_lists() -> None:
    live = {"spec": {"containers": [{"name": "b", "image": "1"}, {"name": "a", "image": "1"}]}}
    desired = {"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "b", "image": "1"}]}}
    predicted = predict(desired, live)
    assert [c["name"] for c in predicted["spec"]["containers"]] == ["b", "a"]
    assert predicted["spec"]["containers"][1]["image"] == "2"


def test_normalize_drops_status_and_server_metadata() -> None:
    live = live_after_apply(deployment())
    norm = normalize(live)
    assert "status" not in norm
    assert set(norm["metadata"]) == {"name", "namespace", "labels", "annotations"}


def test_a_dry_run_of_another_resource_version_is_not_trusted() -> None:
    desired = deployment()
    live = live_after_apply(desired)
    stale = copy.deepcopy(live)
    stale["metadata"]["resourceVersion"] = "1"
    stale["spec"]["replicas"] = 9  # what an older dry run predicted; the engine predicts instead
    assert not diff(desired, live, dry_run=stale).modified


def test_a_map_under_a_merge_key_name_does_not_identify_list_items() -> None:
    # found by hypothesis: {"name": {...}} items were keyed by the map, which normalisation changes
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "labels": {}},
        "spec": {"name": [{"name": {"name": None, "image": False}}]},
    }
    assert not diff(obj, obj).modified
