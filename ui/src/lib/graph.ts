// The resource tree as a graph: the Application on the left, its managed resources in the next
// column, their children (ReplicaSets, Pods, ...) further right, with an edge from each parent to
// each child. A tidy layout for a forest: leaves take consecutive rows, a parent sits level with
// the middle of its children, so edges never cross.

import type { TreeNode } from "./tree";

export const APP_NODE = "__application__";

export interface GraphSizes {
  nodeWidth: number;
  nodeHeight: number;
  columnGap: number;
  rowGap: number;
}

export const GRAPH_SIZES: GraphSizes = { nodeWidth: 230, nodeHeight: 58, columnGap: 56, rowGap: 14 };

export interface GraphNode {
  key: string;
  /** undefined for the Application itself. */
  node?: TreeNode;
  depth: number;
  x: number;
  y: number;
  parent: string | null;
  children: string[];
}

export interface GraphEdge {
  from: string;
  to: string;
  /** An SVG path from the parent's right side to the child's left side. */
  path: string;
}

export interface GraphLayout {
  nodes: GraphNode[];
  byKey: Map<string, GraphNode>;
  edges: GraphEdge[];
  width: number;
  height: number;
}

export function layoutGraph(roots: TreeNode[], sizes: GraphSizes = GRAPH_SIZES): GraphLayout {
  const { nodeWidth, nodeHeight, columnGap, rowGap } = sizes;
  const nodes: GraphNode[] = [];
  const byKey = new Map<string, GraphNode>();
  let row = 0;
  let depthMax = 0;
  const place = (key: string, node: TreeNode | undefined, children: TreeNode[], depth: number, parent: string | null): GraphNode => {
    const entry: GraphNode = { key, node, depth, x: depth * (nodeWidth + columnGap), y: 0, parent, children: [] };
    nodes.push(entry);
    byKey.set(key, entry);
    depthMax = Math.max(depthMax, depth);
    if (!children.length) {
      entry.y = row++ * (nodeHeight + rowGap);
      return entry;
    }
    const placed = children.map((c) => place(c.key, c, c.children, depth + 1, key));
    entry.children = placed.map((c) => c.key);
    entry.y = (placed[0].y + placed[placed.length - 1].y) / 2;
    return entry;
  };
  place(APP_NODE, undefined, roots, 0, null);
  const edges: GraphEdge[] = [];
  for (const n of nodes) {
    if (n.parent === null) continue;
    const p = byKey.get(n.parent);
    if (!p) continue;
    const x1 = p.x + nodeWidth;
    const y1 = p.y + nodeHeight / 2;
    const x2 = n.x;
    const y2 = n.y + nodeHeight / 2;
    const mid = (x1 + x2) / 2;
    edges.push({ from: p.key, to: n.key, path: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
  }
  return {
    nodes,
    byKey,
    edges,
    width: (depthMax + 1) * nodeWidth + depthMax * columnGap,
    height: Math.max(1, row) * (nodeHeight + rowGap) - rowGap,
  };
}

/**
 * Where an arrow key goes from node `key`: Left to its parent, Right to its middle child,
 * Up/Down to the nearest node above/below in the same column, Home to the Application, End to
 * the last node. undefined: nowhere.
 */
export function graphMove(layout: GraphLayout, key: string, keyName: string): string | undefined {
  const here = layout.byKey.get(key);
  if (!here) return layout.nodes[0]?.key;
  switch (keyName) {
    case "ArrowLeft":
      return here.parent ?? undefined;
    case "ArrowRight":
      return here.children.length ? here.children[Math.floor((here.children.length - 1) / 2)] : undefined;
    case "ArrowUp":
    case "ArrowDown": {
      const down = keyName === "ArrowDown";
      let best: GraphNode | undefined;
      for (const n of layout.nodes) {
        if (n.depth !== here.depth || n === here) continue;
        if (down ? n.y <= here.y : n.y >= here.y) continue;
        if (!best || (down ? n.y < best.y : n.y > best.y)) best = n;
      }
      return best?.key;
    }
    case "Home":
      return layout.nodes[0]?.key;
    case "End":
      return layout.nodes[layout.nodes.length - 1]?.key;
    default:
      return undefined;
  }
}
