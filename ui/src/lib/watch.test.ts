import { describe, expect, it } from "vitest";

import { csrfToken, withQuery } from "../api";
import { parseRoute } from "../router";
import type { Application } from "../types";
import { ago, healthLook, shortRevision, syncLook } from "./status";
import { effectiveTheme, storedTheme } from "./theme";
import { applyWatchEvent, applyWatchEvents, fromList, reconnectDelay, splitNdjson } from "./watch";

const app = (name: string, rv: string, sync = "Synced"): Application => ({
  metadata: { name, resourceVersion: rv },
  spec: {},
  status: { sync: { status: sync } },
});

describe("applyWatchEvent", () => {
  const start = fromList([app("a", "10"), app("b", "11")]);

  it("adds, modifies and deletes", () => {
    const added = applyWatchEvent(start, { type: "ADDED", application: app("c", "12") });
    expect([...added.keys()]).toEqual(["a", "b", "c"]);
    const modified = applyWatchEvent(added, { type: "MODIFIED", application: app("a", "13", "OutOfSync") });
    expect(modified.get("a")?.status?.sync?.status).toBe("OutOfSync");
    const deleted = applyWatchEvent(modified, { type: "DELETED", application: app("b", "14") });
    expect([...deleted.keys()]).toEqual(["a", "c"]);
  });

  it("ignores stale events (older resourceVersion) and keeps the same map", () => {
    const newer = applyWatchEvent(start, { type: "MODIFIED", application: app("a", "20") });
    expect(applyWatchEvent(newer, { type: "MODIFIED", application: app("a", "15") })).toBe(newer);
    expect(applyWatchEvent(start, { type: "DELETED", application: app("zzz", "1") })).toBe(start);
    expect(applyWatchEvent(start, { type: "BOOKMARK" as "ADDED", application: app("a", "99") })).toBe(start);
  });

  it("does not mutate the previous map", () => {
    applyWatchEvent(start, { type: "ADDED", application: app("c", "12") });
    expect(start.size).toBe(2);
  });
});

describe("newline-delimited JSON", () => {
  it("keeps the unfinished line for the next chunk", () => {
    let state = splitNdjson("", '{"result": 1}\n{"res');
    expect(state.lines).toEqual(['{"result": 1}']);
    state = splitNdjson(state.rest, 'ult": 2}\n\n');
    expect(state.lines).toEqual(['{"result": 2}']);
    expect(state.rest).toBe("");
  });

  it("backs off 1 s, 2 s, 4 s ... up to 30 s", () => {
    expect([0, 1, 2, 10].map(reconnectDelay)).toEqual([1000, 2000, 4000, 30000]);
  });
});

describe("small helpers", () => {
  it("reads the CSRF cookie", () => {
    expect(csrfToken("a=1; ferry.csrf=abc%3D; b=2")).toBe("abc=");
    expect(csrfToken("a=1")).toBe("");
  });

  it("builds query strings without empty values", () => {
    expect(withQuery("/x", { a: "1", b: undefined, c: "", d: false })).toBe("/x?a=1&d=false");
    expect(withQuery("/x")).toBe("/x");
    expect(withQuery("/x?projects=a", { limit: 500 })).toBe("/x?projects=a&limit=500");
  });

  it("routes paths to pages", () => {
    expect(parseRoute("/")).toEqual({ page: "applications" });
    expect(parseRoute("/applications/")).toEqual({ page: "applications" });
    expect(parseRoute("/applications/my%20app", "?resource=%2FConfigMap%2Fns%2Fx")).toEqual({
      page: "application",
      name: "my app",
      resource: "/ConfigMap/ns/x",
    });
    expect(parseRoute("/settings")).toEqual({ page: "settings" });
    expect(parseRoute("/nope/x/y")).toEqual({ page: "notfound" });
  });

  it("maps statuses to icons and tones", () => {
    expect(syncLook("Synced")).toEqual({ icon: "check", tone: "ok" });
    expect(syncLook("OutOfSync").tone).toBe("warn");
    expect(healthLook("Degraded")).toEqual({ icon: "heart-broken", tone: "bad" });
    expect(healthLook("whatever").icon).toBe("question");
  });

  it("shortens commit SHAs only", () => {
    expect(shortRevision("0123456789abcdef0123456789abcdef01234567")).toBe("0123456");
    expect(shortRevision("main")).toBe("main");
    expect(shortRevision(undefined)).toBe("");
  });

  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:30Z", now)).toBe("30s ago");
    expect(ago("2026-01-01T11:00:00Z", now)).toBe("1h ago");
    expect(ago("2025-12-30T12:00:00Z", now)).toBe("2d ago");
    expect(ago(undefined, now)).toBe("");
  });

  it("follows the system theme unless one is chosen", () => {
    expect(effectiveTheme("system", true)).toBe("dark");
    expect(effectiveTheme("system", false)).toBe("light");
    expect(effectiveTheme("light", true)).toBe("light");
    expect(storedTheme({ getItem: () => "dark" })).toBe("dark");
    expect(storedTheme({ getItem: () => "purple" })).toBe("system");
    expect(storedTheme(undefined)).toBe("system");
  });
});

describe("applyWatchEvents", () => {
  const app = (name: string, rv: string): Application => ({ metadata: { name, resourceVersion: rv }, spec: {} });
  it("applies a batch in order with one copy, and keeps the map when nothing changed", () => {
    const start: ReadonlyMap<string, Application> = new Map([["a", app("a", "5")]]);
    const next = applyWatchEvents(start, [
      { type: "MODIFIED", application: app("a", "6") },
      { type: "ADDED", application: app("b", "7") },
      { type: "MODIFIED", application: app("a", "4") }, // stale
      { type: "DELETED", application: app("b", "8") },
      { type: "ADDED", application: app("c", "9") },
    ]);
    expect([...next.keys()]).toEqual(["a", "c"]);
    expect(next.get("a")?.metadata.resourceVersion).toBe("6");
    expect(start.size).toBe(1);
    expect(applyWatchEvents(start, [{ type: "MODIFIED", application: app("a", "1") }])).toBe(start);
    expect(applyWatchEvents(start, [])).toBe(start);
  });
});
