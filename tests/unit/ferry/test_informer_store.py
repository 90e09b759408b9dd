"""The informer's store when writers run ahead of its watch (ferry.kube.informer, read-your-writes):
events are fed in as the watch loop applies them, in the order an API server could send them
behind a write the writer already has the reply of. No API server: the store rules need none."""

from __future__ import annotations

from typing import Any, cast

from ferry.kube.client import KubeClient, ResourceInfo
from ferry.kube.informer import Informer

INFO = ResourceInfo("ferrycd.io", "v1alpha1", "Application", "applications", True, frozenset())


def app(version: int, *, uid: str = "u1", path: str = "web") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ferry", "name": "web", "uid": uid, "resourceVersion": str(version)},
        "spec": {"source": {"path": path}},
    }


def informer() -> tuple[Informer, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []

    def handler(kind: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        shown = new or old
        assert shown is not None
        seen.append((kind, shown["metadata"]["resourceVersion"]))

    # the client is never used: nothing here lists or watches
    return Informer(cast(KubeClient, None), INFO, namespace="ferry", handler=handler), seen


def stored(inf: Informer) -> str | None:
    found = inf.get("ferry", "web")
    return None if found is None else str(found["metadata"]["resourceVersion"])


def test_an_event_older_than_an_acknowledged_write_does_not_undo_it() -> None:
    inf, seen = informer()
    inf._put(app(10), "ADDED")
    inf.wrote(app(12, path="v2"))  # our update's reply; the controller's status write (11) is in flight
    assert stored(inf) == "12"
    inf._put(app(11), "MODIFIED")
    assert stored(inf) == "12"
    inf._put(app(12, path="v2"), "MODIFIED")
    inf._put(app(13, path="v2"), "MODIFIED")  # a later change by anyone shows as usual
    assert stored(inf) == "13"
    # the callback follows the stream: every event, in order, none for the write itself
    assert seen == [("ADDED", "10"), ("MODIFIED", "11"), ("MODIFIED", "12"), ("MODIFIED", "13")]


def test_a_reply_older_than_the_store_is_not_stored() -> None:
    inf, _ = informer()
    inf._put(app(20), "MODIFIED")  # the watch was faster than our await of the reply
    inf.wrote(app(19))
    assert stored(inf) == "20"


def test_an_acknowledged_deletion_hides_the_object_until_its_event() -> None:
    inf, seen = informer()
    inf._put(app(10), "ADDED")
    inf.deleted(app(10))
    assert stored(inf) is None
    inf._put(app(11), "MODIFIED")  # the finalizer patch before the delete, still in flight
    assert stored(inf) is None
    inf._remove(app(12))  # its DELETED event
    assert stored(inf) is None
    assert seen == [("ADDED", "10"), ("MODIFIED", "11"), ("DELETED", "10")]
    # the uid is forgotten with its event: a new object of that name is stored as ever
    inf._put(app(13, uid="u2"), "ADDED")
    assert stored(inf) == "13"


def test_a_recreation_survives_the_old_objects_late_deleted_event() -> None:
    inf, seen = informer()
    inf._put(app(10), "ADDED")
    inf.deleted(app(10))
    inf.wrote(app(14, uid="u2"))  # created again, by us, before the old one's DELETED came
    inf._remove(app(12))
    assert stored(inf) == "14"
    inf._put(app(14, uid="u2"), "ADDED")
    assert seen == [("ADDED", "10"), ("DELETED", "10"), ("ADDED", "14")]


def test_a_deletion_acknowledged_after_its_event_leaves_nothing_behind() -> None:
    inf, _ = informer()
    inf._put(app(10), "ADDED")
    inf._remove(app(11))
    inf.deleted(app(10))  # the reply came after the event: nothing to hide, nothing to remember
    inf._put(app(12, uid="u2"), "ADDED")
    assert stored(inf) == "12"
    assert inf._deleted == {}
