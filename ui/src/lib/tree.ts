// The resource tree of an application: the managed objects (from status.resources, so resources
// not created yet show up as Missing) joined with the live nodes of the ResourceTree (ReplicaSets,
// Pods, Jobs owned by them), linked parent -> children through parentRefs.

import type { ApplicationTree, HealthStatus, ResourceNode, ResourceRef, ResourceStatus } from "../types";

export interface TreeNode {
  key: string;
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  /** The live object's resourceVersion ("" when not in the cluster or not known). */
  resourceVersion: string;
  /** Synced / OutOfSync for managed resources; undefined for children (ReplicaSet, Pod). */
  sync?: string;
  health?: HealthStatus;
  managed: boolean;
  /** In Git but not in the cluster. */
  missing: boolean;
  requiresPruning: boolean;
  hook: boolean;
  info: { name: string; value: string }[];
  images: string[];
  children: TreeNode[];
}

export function resourceKey(ref: { group?: string; kind: string; namespace?: string; name: string }): string {
  return `${ref.group ?? ""}/${ref.kind}/${ref.namespace ?? ""}/${ref.name}`;
}

/** "apps/Deployment" or "ConfigMap". */
export function groupKind(ref: { group?: string; kind: string }): string {
  return ref.group ? `${ref.group}/${ref.kind}` : ref.kind;
}

function compareNodes(a: TreeNode, b: TreeNode): number {
  return (
    a.kind.localeCompare(b.kind) ||
    a.namespace.localeCompare(b.namespace) ||
    a.name.localeCompare(b.name) ||
    a.group.localeCompare(b.group)
  );
}

function fromLive(node: ResourceNode): TreeNode {
  return {
    key: resourceKey(node),
    group: node.group ?? "",
    version: node.version ?? "",
    kind: node.kind,
    namespace: node.namespace ?? "",
    name: node.name,
    uid: node.uid ?? "",
    resourceVersion: node.resourceVersion ?? "",
    health: node.health,
    managed: false,
    missing: false,
    requiresPruning: false,
    hook: false,
    info: node.info ?? [],
    images: node.images ?? [],
    children: [],
  };
}

/** Builds the forest: roots are the nodes without a (known) parent, children sorted by kind and name. */
export function buildTree(resources: ResourceStatus[] = [], tree: ApplicationTree | undefined = undefined): TreeNode[] {
  const byKey = new Map<string, TreeNode>();
  const byUid = new Map<string, TreeNode>();
  const parents = new Map<TreeNode, ResourceRef[]>();
  for (const live of tree?.nodes ?? []) {
    const node = fromLive(live);
    byKey.set(node.key, node);
    if (node.uid) byUid.set(node.uid, node);
    parents.set(node, live.parentRefs ?? []);
  }
  for (const res of resources) {
    const key = resourceKey(res);
    let node = byKey.get(key);
    if (!node) {
      node = fromLive({ ...res });
      // Known missing only once the live tree is there to compare with.
      node.missing = tree !== undefined && !res.requiresPruning;
      byKey.set(key, node);
      parents.set(node, []);
    }
    node.managed = true;
    node.sync = res.status;
    node.requiresPruning = Boolean(res.requiresPruning);
    node.hook = Boolean(res.hook);
    if (!node.version && res.version) node.version = res.version;
    // The app's view of a managed resource's health wins (ignore-healthcheck, Missing).
    if (res.health) node.health = res.health;
    else if (node.missing) node.health = { status: "Missing" };
  }
  const roots: TreeNode[] = [];
  for (const [node, refs] of parents) {
    let parent: TreeNode | undefined;
    for (const ref of refs) {
      parent = (ref.uid && byUid.get(ref.uid)) || byKey.get(resourceKey(ref));
      if (parent && parent !== node) break;
      parent = undefined;
    }
    // Managed resources are always roots: their owner, if any, is not the app's to show.
    if (parent && !node.managed && !createsCycle(parent, node, parents, byUid, byKey)) parent.children.push(node);
    else roots.push(node);
  }
  const sortAll = (nodes: TreeNode[]) => {
    nodes.sort(compareNodes);
    for (const n of nodes) sortAll(n.children);
  };
  sortAll(roots);
  return roots;
}

function createsCycle(
  parent: TreeNode,
  child: TreeNode,
  parents: Map<TreeNode, ResourceRef[]>,
  byUid: Map<string, TreeNode>,
  byKey: Map<string, TreeNode>,
): boolean {
  const seen = new Set<TreeNode>([child]);
  let current: TreeNode | undefined = parent;
  while (current) {
    if (seen.has(current)) return true;
    seen.add(current);
    const ref: ResourceRef | undefined = (parents.get(current) ?? [])[0];
    current = ref ? (ref.uid && byUid.get(ref.uid)) || byKey.get(resourceKey(ref)) : undefined;
  }
  return false;
}

export interface TreeRow {
  node: TreeNode;
  level: number; // 1-based, as aria-level
  expanded: boolean;
  hasChildren: boolean;
  posInSet: number; // 1-based position among siblings
  setSize: number;
  parentIndex: number; // index of the parent row, -1 for roots
}

/** The visible rows of the forest, depth first; children of collapsed nodes are hidden. */
export function flattenTree(roots: TreeNode[], collapsed: ReadonlySet<string> = new Set()): TreeRow[] {
  const rows: TreeRow[] = [];
  const walk = (nodes: TreeNode[], level: number, parentIndex: number) => {
    nodes.forEach((node, i) => {
      const hasChildren = node.children.length > 0;
      const expanded = hasChildren && !collapsed.has(node.key);
      const index = rows.length;
      rows.push({ node, level, expanded, hasChildren, posInSet: i + 1, setSize: nodes.length, parentIndex });
      if (expanded) walk(node.children, level + 1, index);
    });
  };
  walk(roots, 1, -1);
  return rows;
}

export type TreeMove = { focus: number } | { toggle: string; expand: boolean } | null;

/** What a key press does in the tree (WAI-ARIA tree view pattern). */
export function treeKey(rows: TreeRow[], index: number, key: string): TreeMove {
  const row = rows[index];
  if (!row) return rows.length ? { focus: 0 } : null;
  switch (key) {
    case "ArrowDown":
      return index + 1 < rows.length ? { focus: index + 1 } : null;
    case "ArrowUp":
      return index > 0 ? { focus: index - 1 } : null;
    case "Home":
      return { focus: 0 };
    case "End":
      return { focus: rows.length - 1 };
    case "ArrowRight":
      if (!row.hasChildren) return null;
      return row.expanded ? { focus: index + 1 } : { toggle: row.node.key, expand: true };
    case "ArrowLeft":
      if (row.expanded) return { toggle: row.node.key, expand: false };
      return row.parentIndex >= 0 ? { focus: row.parentIndex } : null;
    default:
      return null;
  }
}

/** Counts of a forest, for the summary line: resources by sync status. */
export function countNodes(roots: TreeNode[]): number {
  return roots.reduce((n, r) => n + 1 + countNodes(r.children), 0);
}
