import { describe, expect, it } from "vitest";

import { APP_NODE, graphMove, layoutGraph, type GraphSizes } from "./graph";
import { buildTree } from "./tree";

const sizes: GraphSizes = { nodeWidth: 100, nodeHeight: 40, columnGap: 20, rowGap: 10 };
const roots = buildTree(
  [
    { kind: "ConfigMap", namespace: "ns", name: "cfg", status: "Synced" },
    { group: "apps", kind: "Deployment", namespace: "ns", name: "web", status: "Synced" },
  ],
  {
    nodes: [
      { kind: "ConfigMap", namespace: "ns", name: "cfg", uid: "c" },
      { group: "apps", kind: "Deployment", namespace: "ns", name: "web", uid: "d" },
      { group: "apps", kind: "ReplicaSet", namespace: "ns", name: "web-1", uid: "r", parentRefs: [{ group: "apps", kind: "Deployment", name: "web", namespace: "ns", uid: "d" }] },
      { kind: "Pod", namespace: "ns", name: "web-1-a", uid: "p1", parentRefs: [{ group: "apps", kind: "ReplicaSet", name: "web-1", namespace: "ns", uid: "r" }] },
      { kind: "Pod", namespace: "ns", name: "web-1-b", uid: "p2", parentRefs: [{ group: "apps", kind: "ReplicaSet", name: "web-1", namespace: "ns", uid: "r" }] },
    ],
  },
);
const layout = layoutGraph(roots, sizes);
const at = (name: string) => {
  const n = layout.nodes.find((g) => g.node?.name === name);
  if (!n) throw new Error(name);
  return n;
};

describe("layoutGraph", () => {
  it("columns by depth: Application, resources, their children", () => {
    expect(layout.nodes[0].key).toBe(APP_NODE);
    expect([at("cfg").x, at("web").x, at("web-1").x, at("web-1-a").x]).toEqual([120, 120, 240, 360]);
  });
  it("leaves on consecutive rows, parents level with the middle of their children", () => {
    expect([at("cfg").y, at("web-1-a").y, at("web-1-b").y]).toEqual([0, 50, 100]);
    expect(at("web-1").y).toBe(75);
    expect(at("web").y).toBe(75);
    expect(layout.nodes[0].y).toBe(37.5); // between cfg (0) and web (75)
    expect(layout.width).toBe(4 * 100 + 3 * 20);
    expect(layout.height).toBe(3 * 50 - 10);
  });
  it("one edge per child, right side to left side", () => {
    expect(layout.edges).toHaveLength(layout.nodes.length - 1);
    const edge = layout.edges.find((e) => e.to === at("web-1-b").key);
    expect(edge?.from).toBe(at("web-1").key);
    expect(edge?.path).toBe("M340,95 C350,95 350,120 360,120");
  });
  it("an empty app is the Application alone", () => {
    const empty = layoutGraph([], sizes);
    expect(empty.nodes).toHaveLength(1);
    expect(empty.edges).toHaveLength(0);
  });
});

describe("graphMove", () => {
  it("arrows follow edges and columns", () => {
    const web = at("web").key;
    expect(graphMove(layout, web, "ArrowLeft")).toBe(APP_NODE);
    expect(graphMove(layout, APP_NODE, "ArrowLeft")).toBeUndefined();
    expect(graphMove(layout, web, "ArrowRight")).toBe(at("web-1").key);
    expect(graphMove(layout, at("web-1").key, "ArrowRight")).toBe(at("web-1-a").key);
    expect(graphMove(layout, at("web-1-a").key, "ArrowDown")).toBe(at("web-1-b").key);
    expect(graphMove(layout, at("web-1-b").key, "ArrowDown")).toBeUndefined();
    expect(graphMove(layout, web, "ArrowUp")).toBe(at("cfg").key);
    expect(graphMove(layout, web, "Home")).toBe(APP_NODE);
    expect(graphMove(layout, web, "End")).toBe(layout.nodes[layout.nodes.length - 1].key);
    expect(graphMove(layout, "nope", "ArrowDown")).toBe(APP_NODE);
    expect(graphMove(layout, web, "x")).toBeUndefined();
  });
});
