import { describe, expect, it } from "vitest";

import { operationRows, progressOf, syncRequest, type SyncChoice } from "./operation";
import { resourceKey } from "./tree";
import type { Application, ResourceStatus } from "../types";

const resources: ResourceStatus[] = [
  { kind: "ConfigMap", namespace: "ns", name: "cfg", status: "OutOfSync" },
  { group: "apps", kind: "Deployment", namespace: "ns", name: "web", status: "Synced" },
  { kind: "Service", namespace: "ns", name: "old", status: "OutOfSync", requiresPruning: true },
  { group: "batch", kind: "Job", namespace: "ns", name: "migrate", hook: true },
];
const app = (extra: Partial<Application["status"]> = {}): Application => ({
  metadata: { name: "web" },
  spec: {},
  status: { resources, ...extra },
});
const all = new Set(resources.filter((r) => !r.hook).map(resourceKey));
const choice = (over: Partial<SyncChoice> = {}): SyncChoice => ({
  revision: "",
  prune: false,
  dryRun: false,
  selected: all,
  options: new Set(),
  prunePropagation: "foreground",
  ...over,
});

describe("syncRequest", () => {
  it("everything selected: no resource list, nothing optional", () => {
    expect(syncRequest(app(), choice())).toEqual({ prune: false, dryRun: false });
  });
  it("a revision, some resources, options and a prune policy", () => {
    const body = syncRequest(
      app(),
      choice({
        revision: " v1.2 ",
        prune: true,
        dryRun: true,
        selected: new Set([resourceKey(resources[0])]),
        options: new Set(["PruneLast=true", "CreateNamespace=true"]),
        prunePropagation: "background",
      }),
    );
    expect(body).toEqual({
      prune: true,
      dryRun: true,
      revision: "v1.2",
      resources: [{ group: "", kind: "ConfigMap", name: "cfg", namespace: "ns" }],
      syncOptions: { items: ["CreateNamespace=true", "PruneLast=true", "PrunePropagationPolicy=background"] },
    });
  });
});

describe("operationRows", () => {
  it("while running: results, then what the sync targets as pending (prunes only with prune)", () => {
    const rows = operationRows(
      app({
        operationState: {
          phase: "Running",
          operation: { sync: {} },
          syncResult: { resources: [{ kind: "ConfigMap", namespace: "ns", name: "cfg", status: "Synced" }] },
        },
      }),
    );
    expect(rows.map((r) => [r.name, r.pending])).toEqual([
      ["cfg", false],
      ["web", true],
    ]);
    expect(progressOf(rows)).toEqual({ done: 1, total: 2 });
  });
  it("a selection limits the pending rows; a running hook is not done", () => {
    const rows = operationRows(
      app({
        operationState: {
          phase: "Running",
          operation: { sync: { prune: true, resources: [{ kind: "Service", name: "old" }] } },
          syncResult: { resources: [{ group: "batch", kind: "Job", namespace: "ns", name: "migrate", hookType: "PreSync", hookPhase: "Running" }] },
        },
      }),
    );
    expect(rows.map((r) => [r.name, r.pending])).toEqual([
      ["migrate", false],
      ["old", true],
    ]);
    expect(progressOf(rows)).toEqual({ done: 0, total: 2 });
  });
  it("finished: only the results", () => {
    const rows = operationRows(
      app({ operationState: { phase: "Succeeded", syncResult: { resources: [{ kind: "ConfigMap", namespace: "ns", name: "cfg", status: "Synced" }] } } }),
    );
    expect(rows.map((r) => r.name)).toEqual(["cfg"]);
    expect(operationRows(app())).toEqual([]);
  });
});
