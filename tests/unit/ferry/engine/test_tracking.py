"""Tracking ids and instance labels."""

from __future__ import annotations

import re

from ferry.engine.tracking import (
    INSTANCE_LABEL,
    TRACKING_ANNOTATION,
    ResourceKey,
    instance_label_value,
    owning_app,
    parse_tracking_id,
    tracking_id,
    with_tracking,
)

LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def test_tracking_id_round_trips() -> None:
    key = ResourceKey("apps", "Deployment", "shop", "web")
    assert tracking_id("guestbook", key) == "guestbook:apps/Deployment:shop/web"
    assert parse_tracking_id("guestbook:apps/Deployment:shop/web") == ("guestbook", key)
    assert parse_tracking_id("guestbook:/Namespace:/shop") == (
        "guestbook",
        ResourceKey("", "Namespace", "", "shop"),
    )
    assert parse_tracking_id("not-a-tracking-id") is None


def test_with_tracking_marks_a_copy() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    tracked = with_tracking(manifest, "app")
    assert "annotations" not in manifest["metadata"]
    assert tracked["metadata"]["annotations"][TRACKING_ANNOTATION] == "app:/ConfigMap:ns/c"
    assert tracked["metadata"]["labels"][INSTANCE_LABEL] == "app"
    assert owning_app(tracked) == "app"


def test_a_copied_object_is_not_owned() -> None:
    tracked = with_tracking({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "app")
    tracked["metadata"]["name"] = "copy-of-c"
    assert owning_app(tracked) is None


def test_long_app_names_are_hashed_into_valid_label_values() -> None:
    long_name = "a" * 80
    value = instance_label_value(long_name)
    assert len(value) <= 63
    assert LABEL_VALUE.match(value)
    assert value == instance_label_value(long_name)
    assert value != instance_label_value("a" * 81)
    assert instance_label_value("short") == "short"
