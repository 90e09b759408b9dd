import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

import { APP_NODE, GRAPH_SIZES, graphMove, layoutGraph } from "../lib/graph";
import { groupKind, type TreeNode } from "../lib/tree";
import { HealthStatus, SyncStatus } from "./Status";

/**
 * The resource tree as a graph: the Application, its resources, their children, with edges.
 * Each node is a button; one is in the tab order at a time, arrow keys move along the edges and
 * columns (Left: parent, Right: child, Up/Down: same column, Home/End), Enter or a click selects.
 */
export function ResourceGraph({
  app,
  appSync,
  appHealth,
  roots,
  selected,
  onSelect,
  onSelectApp,
  label,
}: {
  app: string;
  appSync?: string;
  appHealth?: string;
  roots: TreeNode[];
  selected: string | undefined;
  onSelect: (node: TreeNode) => void;
  onSelectApp: () => void;
  label: string;
}) {
  const layout = useMemo(() => layoutGraph(roots), [roots]);
  const [focus, setFocus] = useState(selected ?? APP_NODE);
  const focusKey = layout.byKey.has(focus) ? focus : APP_NODE;
  const refs = useRef(new Map<string, HTMLButtonElement>());
  const moved = useRef(false);
  const { nodeWidth, nodeHeight } = GRAPH_SIZES;

  useEffect(() => {
    if (selected && layout.byKey.has(selected)) setFocus(selected);
  }, [selected]);
  // Focus follows the arrow keys at once (before paint), not a frame later.
  useLayoutEffect(() => {
    if (!moved.current) return;
    moved.current = false;
    const el = refs.current.get(focusKey);
    el?.focus();
    el?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }, [focusKey]);

  const onKeyDown = (event: KeyboardEvent, key: string) => {
    const next = graphMove(layout, key, event.key);
    if (next === undefined) return;
    event.preventDefault();
    moved.current = true;
    setFocus(next);
  };

  return (
    <div class="graph-scroll" role="group" aria-label={label} aria-describedby="graph-keys">
      <p id="graph-keys" class="visually-hidden">
        Arrow keys move along the edges: left to the parent, right to a child, up and down within a column. Enter selects.
      </p>
      <div class="graph" style={{ width: `${layout.width}px`, height: `${layout.height}px` }} data-testid="resource-graph">
        <svg class="graph-edges" width={layout.width} height={layout.height} aria-hidden="true" focusable="false">
          {layout.edges.map((e) => (
            <path key={`${e.from}>${e.to}`} d={e.path} data-edge={`${e.from} > ${e.to}`} />
          ))}
        </svg>
        {layout.nodes.map((g) => {
          const n = g.node;
          const isSelected = n ? n.key === selected : !selected;
          return (
            <button
              key={g.key}
              type="button"
              ref={(el) => {
                if (el) refs.current.set(g.key, el);
                else refs.current.delete(g.key);
              }}
              class={`graph-node${isSelected ? " selected" : ""}${n ? "" : " graph-app"}${n?.missing ? " missing" : ""}`}
              style={{ left: `${g.x}px`, top: `${g.y}px`, width: `${nodeWidth}px`, height: `${nodeHeight}px` }}
              tabIndex={g.key === focusKey ? 0 : -1}
              aria-pressed={isSelected}
              data-resource={n ? n.key : undefined}
              data-graph-node={g.key}
              onClick={() => {
                setFocus(g.key);
                if (n) onSelect(n);
                else onSelectApp();
              }}
              onKeyDown={(e) => onKeyDown(e as unknown as KeyboardEvent, g.key)}
            >
              <span class="graph-kind">{n ? groupKind(n) : "Application"}</span>
              <span class="graph-name">{n ? n.name : app}</span>
              <span class="graph-status">
                {(n ? n.managed : true) && <SyncStatus status={n ? n.sync : appSync} />}
                {(n ? n.health?.status : appHealth) && <HealthStatus status={n ? n.health?.status : appHealth} />}
                {n?.requiresPruning && <span class="tag">prune</span>}
                {n?.hook && <span class="tag">hook</span>}
              </span>
            </button>
          );
        })}
      </div>
    </div>
  );
}
