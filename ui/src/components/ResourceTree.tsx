import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { flattenTree, groupKind, treeKey, type TreeNode } from "../lib/tree";
import { HealthStatus, SyncStatus } from "./Status";

/**
 * The application's resources as an ARIA tree: parents expand to their children (Deployment →
 * ReplicaSet → Pod). Arrow keys move and expand/collapse, Home/End jump, Enter/Space select;
 * one row is in the tab order at a time.
 */
export function ResourceTree({
  roots,
  selected,
  onSelect,
  label,
}: {
  roots: TreeNode[];
  selected: string | undefined;
  onSelect: (node: TreeNode) => void;
  label: string;
}) {
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(() => flattenTree(roots, collapsed), [roots, collapsed]);
  const selectedIndex = rows.findIndex((r) => r.node.key === selected);
  const [focus, setFocus] = useState(Math.max(0, selectedIndex));
  const focusIndex = Math.min(focus, rows.length - 1);
  const refs = useRef<(HTMLLIElement | null)[]>([]);
  const moved = useRef(false);

  useEffect(() => {
    if (moved.current) refs.current[focusIndex]?.focus();
    moved.current = false;
  }, [focusIndex, rows]);

  const setExpanded = (key: string, expand: boolean) => {
    const next = new Set(collapsed);
    if (expand) next.delete(key);
    else next.add(key);
    setCollapsed(next);
  };

  const onKeyDown = (event: KeyboardEvent, index: number) => {
    const row = rows[index];
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(row.node);
      return;
    }
    const move = treeKey(rows, index, event.key);
    if (!move) return;
    event.preventDefault();
    moved.current = true;
    if ("focus" in move) setFocus(move.focus);
    else setExpanded(move.toggle, move.expand);
  };

  if (!rows.length) return <p class="muted">No resources.</p>;
  return (
    <ul role="tree" aria-label={label} class="tree">
      {rows.map((row, index) => {
        const n = row.node;
        return (
          <li
            key={n.key}
            ref={(el) => {
              refs.current[index] = el;
            }}
            role="treeitem"
            aria-level={row.level}
            aria-posinset={row.posInSet}
            aria-setsize={row.setSize}
            aria-expanded={row.hasChildren ? row.expanded : undefined}
            aria-selected={n.key === selected}
            tabIndex={index === focusIndex ? 0 : -1}
            class={`tree-row${n.key === selected ? " selected" : ""}`}
            style={{ paddingInlineStart: `${(row.level - 1) * 1.25 + 0.25}rem` }}
            data-resource={n.key}
            onClick={() => {
              setFocus(index);
              onSelect(n);
            }}
            onKeyDown={(e) => onKeyDown(e as unknown as KeyboardEvent, index)}
          >
            <span
              class="twisty"
              aria-hidden="true"
              onClick={(e) => {
                if (!row.hasChildren) return;
                e.stopPropagation();
                setExpanded(n.key, !row.expanded);
              }}
            >
              {row.hasChildren ? (row.expanded ? "▾" : "▸") : ""}
            </span>
            <span class="kind">{groupKind(n)}</span>
            <span class="name">{n.name}</span>
            {n.namespace && <span class="ns muted">{n.namespace}</span>}
            <span class="node-status">
              {n.managed && <SyncStatus status={n.sync} />}
              {n.health?.status && <HealthStatus status={n.health.status} />}
              {n.requiresPruning && <span class="tag">prune</span>}
              {n.hook && <span class="tag">hook</span>}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
