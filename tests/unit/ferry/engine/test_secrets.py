"""Secret masking as Argo CD's HideSecretData does it: "+" runs by distinct value (8, 12, ...),
stringData folded into data, the last-applied annotation masked alike, inputs untouched."""

from __future__ import annotations

import base64
import json
from typing import Any

from ferry.engine.secrets import hide_one, hide_secret_data


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **fields}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_one_secret_shows_no_value_and_is_not_changed_in_place() -> None:
    original = secret(data={"password": b64("hunter2"), "user": b64("admin")}, type="Opaque")
    shown = hide_one(original)
    assert shown["data"] == {"password": "++++++++", "user": "++++++++"}
    assert shown["type"] == "Opaque"
    assert original["data"]["password"] == b64("hunter2")


def test_string_data_is_folded_into_data_and_compared_with_the_live_value() -> None:
    desired = secret(stringData={"password": "hunter2", "new": "x"}, data={"kept": b64("k")})
    live = secret(data={"password": b64("hunter2"), "kept": b64("changed")})
    masked_desired, masked_live = hide_secret_data(desired, live)
    assert "stringData" not in masked_desired
    assert masked_desired["data"]["password"] == masked_live["data"]["password"] == "+" * 8  # equal
    assert masked_desired["data"]["kept"] == "+" * 8
    assert masked_live["data"]["kept"] == "+" * 12  # changed: a longer run, not the value
    assert masked_desired["data"]["new"] == "+" * 8
    assert "hunter2" not in json.dumps([masked_desired, masked_live])


def test_the_last_applied_annotation_is_masked_too() -> None:
    applied = json.dumps(secret(stringData={"password": "hunter2"}))
    live = secret(
        metadata={"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
        data={"password": b64("hunter3")},
    )
    [shown] = hide_secret_data(live)
    annotation = json.loads(
        shown["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert annotation["data"] == {"password": "+" * 12}  # differs from the live value
    assert shown["data"] == {"password": "+" * 8}
    broken = secret(
        metadata={"name": "s", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{x"}}
    )
    assert (
        hide_one(broken)["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        == "+" * 8
    )


def test_hostile_shapes_leak_nothing() -> None:
    for shown in (
        hide_one(secret(stringData="hunter2")),
        hide_one(secret(data="aHVudGVyMg==")),
        hide_one(secret(stringData={"a": "hunter2"}, data="x")),
        hide_one(secret(data={"a": None, "b": 5, "c": "aHVudGVyMg=="})),
    ):
        text = json.dumps(shown)
        assert "hunter2" not in text, text
        assert "aHVudGVyMg" not in text, text
    assert hide_one(secret(data={"a": None}))["data"] == {"a": "+" * 8}


def test_other_kinds_and_absent_objects_pass_through() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    custom = {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert hide_secret_data(configmap, None, custom) == [configmap, None, custom]
