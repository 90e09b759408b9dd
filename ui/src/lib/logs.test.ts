import { describe, expect, it } from "vitest";

import { appendLines, containersOf, formatLine, hasLogs, logsPath, podsUnder, type LogLine } from "./logs";
import { buildTree } from "./tree";
import type { ApplicationTree } from "../types";

const tree: ApplicationTree = {
  nodes: [
    { group: "apps", version: "v1", kind: "Deployment", namespace: "ns", name: "web", uid: "d1" },
    { group: "apps", version: "v1", kind: "ReplicaSet", namespace: "ns", name: "web-1", uid: "r1", parentRefs: [{ group: "apps", kind: "Deployment", namespace: "ns", name: "web", uid: "d1" }] },
    { version: "v1", kind: "Pod", namespace: "ns", name: "web-1-a", uid: "p1", parentRefs: [{ group: "apps", kind: "ReplicaSet", namespace: "ns", name: "web-1", uid: "r1" }] },
    { version: "v1", kind: "Pod", namespace: "ns", name: "web-1-b", uid: "p2", parentRefs: [{ group: "apps", kind: "ReplicaSet", namespace: "ns", name: "web-1", uid: "r1" }] },
    { version: "v1", kind: "ConfigMap", namespace: "ns", name: "cfg", uid: "c1" },
  ],
};
const roots = buildTree(
  [
    { group: "apps", kind: "Deployment", namespace: "ns", name: "web", status: "Synced" },
    { kind: "ConfigMap", namespace: "ns", name: "cfg", status: "Synced" },
    { kind: "Service", namespace: "ns", name: "gone", status: "OutOfSync" },
  ],
  tree,
);
const byName = (name: string) => {
  const walk = (nodes: typeof roots): (typeof roots)[number] | undefined => {
    for (const n of nodes) {
      if (n.name === name) return n;
      const found = walk(n.children);
      if (found) return found;
    }
    return undefined;
  };
  const found = walk(roots);
  if (!found) throw new Error(name);
  return found;
};

describe("which resources have logs", () => {
  it("a Pod, and anything with Pods below it", () => {
    expect(podsUnder(byName("web")).map((p) => p.name)).toEqual(["web-1-a", "web-1-b"]);
    expect(hasLogs(byName("web"))).toBe(true);
    expect(hasLogs(byName("web-1"))).toBe(true);
    expect(hasLogs(byName("web-1-a"))).toBe(true);
    expect(hasLogs(byName("cfg"))).toBe(false);
    expect(hasLogs(byName("gone"))).toBe(false);
  });
});

describe("logsPath", () => {
  it("a Pod's own endpoint with container, tail and follow", () => {
    expect(logsPath("my app", byName("web-1-a"), { container: "c", tail: 100, follow: true })).toBe(
      "/api/v1/applications/my%20app/pods/web-1-a/logs?namespace=ns&container=c&tailLines=100&follow=true",
    );
  });
  it("a workload's pods through the resource; tail 0 is the whole log, no follow is left out", () => {
    expect(logsPath("web", byName("web"), { container: "", tail: 0, follow: false })).toBe(
      "/api/v1/applications/web/logs?namespace=ns&kind=Deployment&group=apps&resourceName=web",
    );
  });
});

describe("containersOf", () => {
  it("reads a Pod, a Deployment's template and a CronJob's job template", () => {
    expect(containersOf({ kind: "Pod", spec: { containers: [{ name: "a" }, { name: "b" }], initContainers: [{ name: "init" }] } })).toEqual(["a", "b", "init"]);
    expect(containersOf({ kind: "Deployment", spec: { template: { spec: { containers: [{ name: "web" }] } } } })).toEqual(["web"]);
    expect(containersOf({ kind: "CronJob", spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: "job" }] } } } } } })).toEqual(["job"]);
    expect(containersOf(null)).toEqual([]);
    expect(containersOf({ kind: "Pod", spec: { containers: "nonsense" } })).toEqual([]);
  });
});

describe("the line buffer", () => {
  const line = (seq: number): LogLine => ({ seq, content: `line ${seq}`, timeStamp: "2024-01-01T00:00:00Z", podName: "p" });
  it("keeps the newest lines", () => {
    const start = [line(1), line(2)];
    expect(appendLines(start, [])).toBe(start);
    expect(appendLines(start, [line(3), line(4)], 3).map((l) => l.seq)).toEqual([2, 3, 4]);
  });
  it("formats with the pod's name and the time on request", () => {
    expect(formatLine(line(1), { pods: false, timestamps: false })).toBe("line 1");
    expect(formatLine(line(1), { pods: true, timestamps: true })).toBe("p 2024-01-01T00:00:00Z line 1");
  });
});
