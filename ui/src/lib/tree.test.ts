import { describe, expect, it } from "vitest";

import type { ApplicationTree, ResourceStatus } from "../types";
import { buildTree, countNodes, flattenTree, resourceKey, treeKey } from "./tree";

const resources: ResourceStatus[] = [
  { kind: "Service", version: "v1", namespace: "web", name: "web", status: "Synced", health: { status: "Healthy" } },
  { group: "apps", kind: "Deployment", version: "v1", namespace: "web", name: "web", status: "OutOfSync", health: { status: "Progressing" } },
  { kind: "ConfigMap", version: "v1", namespace: "web", name: "config", status: "OutOfSync" },
  { kind: "ConfigMap", version: "v1", namespace: "web", name: "old", status: "OutOfSync", requiresPruning: true },
];

const tree: ApplicationTree = {
  nodes: [
    { kind: "Pod", version: "v1", namespace: "web", name: "web-abc-1", uid: "p1", parentRefs: [{ group: "apps", kind: "ReplicaSet", namespace: "web", name: "web-abc", uid: "rs1" }], health: { status: "Healthy" } },
    { kind: "Pod", version: "v1", namespace: "web", name: "web-abc-0", uid: "p0", parentRefs: [{ group: "apps", kind: "ReplicaSet", namespace: "web", name: "web-abc", uid: "rs1" }] },
    { group: "apps", kind: "ReplicaSet", version: "v1", namespace: "web", name: "web-abc", uid: "rs1", parentRefs: [{ group: "apps", kind: "Deployment", namespace: "web", name: "web", uid: "d1" }] },
    { group: "apps", kind: "Deployment", version: "v1", namespace: "web", name: "web", uid: "d1", health: { status: "Healthy" } },
    { kind: "Service", version: "v1", namespace: "web", name: "web", uid: "s1", health: { status: "Healthy" } },
    { kind: "ConfigMap", version: "v1", namespace: "web", name: "old", uid: "c2" },
  ],
};

describe("buildTree", () => {
  it("links children to parents through parentRefs and sorts by kind and name", () => {
    const roots = buildTree(resources, tree);
    expect(roots.map((r) => `${r.kind}/${r.name}`)).toEqual(["ConfigMap/config", "ConfigMap/old", "Deployment/web", "Service/web"]);
    const deployment = roots[2];
    expect(deployment.children.map((c) => c.name)).toEqual(["web-abc"]);
    expect(deployment.children[0].children.map((c) => c.name)).toEqual(["web-abc-0", "web-abc-1"]);
    expect(countNodes(roots)).toBe(7);
  });

  it("gives managed resources their sync status and the app's health; children keep their own", () => {
    const roots = buildTree(resources, tree);
    const deployment = roots.find((r) => r.kind === "Deployment")!;
    expect(deployment.managed).toBe(true);
    expect(deployment.sync).toBe("OutOfSync");
    expect(deployment.health?.status).toBe("Progressing");
    const rs = deployment.children[0];
    expect(rs.managed).toBe(false);
    expect(rs.sync).toBeUndefined();
    expect(rs.children[1].health?.status).toBe("Healthy");
  });

  it("shows resources in Git but not in the cluster as Missing, extras as to prune", () => {
    const roots = buildTree(resources, tree);
    const config = roots.find((r) => r.name === "config")!;
    expect(config.missing).toBe(true);
    expect(config.health?.status).toBe("Missing");
    const old = roots.find((r) => r.name === "old")!;
    expect(old.missing).toBe(false);
    expect(old.requiresPruning).toBe(true);
  });

  it("does not call anything missing before the live tree has loaded", () => {
    const roots = buildTree(resources, undefined);
    expect(roots.some((r) => r.missing)).toBe(false);
    expect(roots).toHaveLength(4);
  });

  it("links by key when the parent ref has no uid, and survives unknown parents and cycles", () => {
    const roots = buildTree([], {
      nodes: [
        { kind: "Pod", name: "orphan", namespace: "a", parentRefs: [{ kind: "ReplicaSet", name: "gone", namespace: "a", uid: "x" }] },
        { group: "batch", kind: "Job", name: "job", namespace: "a", uid: "j" },
        { kind: "Pod", name: "job-pod", namespace: "a", parentRefs: [{ group: "batch", kind: "Job", name: "job", namespace: "a" }] },
        { kind: "A", name: "a", uid: "a", parentRefs: [{ kind: "B", name: "b", uid: "b" }] },
        { kind: "B", name: "b", uid: "b", parentRefs: [{ kind: "A", name: "a", uid: "a" }] },
      ],
    });
    const names = roots.map((r) => r.name);
    expect(names).toContain("orphan");
    expect(roots.find((r) => r.name === "job")!.children.map((c) => c.name)).toEqual(["job-pod"]);
    // one of the cycle is a root, the other its child: nothing lost, no infinite loop
    expect(countNodes(roots)).toBe(5);
  });

  it("keys resources by group, kind, namespace and name", () => {
    expect(resourceKey({ group: "apps", kind: "Deployment", namespace: "web", name: "web" })).toBe("apps/Deployment/web/web");
    expect(resourceKey({ kind: "Namespace", name: "web" })).toBe("/Namespace//web");
  });
});

describe("flattenTree and keyboard moves", () => {
  const roots = buildTree(resources, tree);

  it("lists visible rows depth first with ARIA levels, positions and parents", () => {
    const rows = flattenTree(roots);
    expect(rows.map((r) => `${r.level}:${r.node.name}`)).toEqual([
      "1:config",
      "1:old",
      "1:web",
      "2:web-abc",
      "3:web-abc-0",
      "3:web-abc-1",
      "1:web",
    ]);
    expect(rows[2]).toMatchObject({ hasChildren: true, expanded: true, posInSet: 3, setSize: 4, parentIndex: -1 });
    expect(rows[5]).toMatchObject({ posInSet: 2, setSize: 2, parentIndex: 3 });
  });

  it("hides the children of collapsed nodes", () => {
    const deployment = roots.find((r) => r.kind === "Deployment")!;
    const rows = flattenTree(roots, new Set([deployment.key]));
    expect(rows.map((r) => r.node.name)).toEqual(["config", "old", "web", "web"]);
    expect(rows[2].expanded).toBe(false);
  });

  it("moves with arrows, Home and End; Right expands then enters; Left collapses then goes to the parent", () => {
    const rows = flattenTree(roots);
    expect(treeKey(rows, 0, "ArrowDown")).toEqual({ focus: 1 });
    expect(treeKey(rows, 0, "ArrowUp")).toBeNull();
    expect(treeKey(rows, 6, "ArrowDown")).toBeNull();
    expect(treeKey(rows, 3, "Home")).toEqual({ focus: 0 });
    expect(treeKey(rows, 3, "End")).toEqual({ focus: 6 });
    expect(treeKey(rows, 2, "ArrowRight")).toEqual({ focus: 3 });
    expect(treeKey(rows, 2, "ArrowLeft")).toEqual({ toggle: rows[2].node.key, expand: false });
    expect(treeKey(rows, 4, "ArrowLeft")).toEqual({ focus: 3 });
    expect(treeKey(rows, 0, "ArrowRight")).toBeNull();
    const collapsed = flattenTree(roots, new Set([rows[2].node.key]));
    expect(treeKey(collapsed, 2, "ArrowRight")).toEqual({ toggle: rows[2].node.key, expand: true });
    expect(treeKey(rows, 0, "x")).toBeNull();
  });
});
