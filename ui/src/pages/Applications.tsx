import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { api, ApiError, watchApplicationList, type StreamState } from "../api";
import { ErrorMessage } from "../components/Dialog";
import { Link } from "../components/Link";
import { NewApplicationDialog } from "../components/NewApplication";
import { HealthStatus, SyncStatus } from "../components/Status";
import {
  clusterOf,
  EMPTY_FILTERS,
  facetCounts,
  filterApps,
  filtersToQuery,
  healthOf,
  isEmpty,
  parseFilters,
  projectOf,
  serverQuery,
  serverQueryString,
  syncOf,
  toggle,
  type AppFilters,
} from "../lib/filters";
import { ago, shortRevision } from "../lib/status";
import { applyWatchEvents, fromList } from "../lib/watch";
import { windowRange } from "../lib/windowing";
import { navigate } from "../router";
import type { Application, WatchEvent } from "../types";

/**
 * The live list of applications the caller may see that match the server-side query (projects,
 * label selector): every page of the List, then the Watch. Events are applied in batches (a
 * burst of 1,000 reconciliations re-renders a few times, not 1,000).
 */
export function useApplications(query = ""): {
  apps: ReadonlyMap<string, Application>;
  state: StreamState;
  error: ApiError | undefined;
  loaded: boolean;
  progress: { loaded: number; remaining: number } | null;
} {
  const [apps, setApps] = useState<ReadonlyMap<string, Application>>(new Map());
  const [state, setState] = useState<StreamState>("connecting");
  const [error, setError] = useState<ApiError>();
  const [loaded, setLoaded] = useState(false);
  const [progress, setProgress] = useState<{ loaded: number; remaining: number } | null>(null);
  useEffect(() => {
    let pending: WatchEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setApps((current) => applyWatchEvents(current, batch));
    };
    setLoaded(false);
    const stop = watchApplicationList(query, {
      onSnapshot: (items) => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        pending = [];
        setApps(fromList(items));
        setLoaded(true);
        setProgress(null);
      },
      onEvents: (events) => {
        pending.push(...events);
        if (timer === undefined) timer = setTimeout(flush, 100);
      },
      onProgress: (n, remaining) => setProgress({ loaded: n, remaining }),
      onState: (s, err) => {
        setState(s);
        setError(err);
      },
    });
    return () => {
      stop();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [query]);
  return { apps, state, error, loaded, progress };
}

export function StreamIndicator({ state, error }: { state: StreamState; error?: ApiError }) {
  const text = state === "live" ? "Live" : state === "connecting" ? "Connecting…" : `Reconnecting${error ? `: ${error.message}` : "…"}`;
  return (
    <span class={`stream stream-${state}`} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function Facet({
  legend,
  counts,
  selected,
  onChange,
}: {
  legend: string;
  counts: Map<string, number | undefined>;
  selected: string[];
  onChange: (values: string[]) => void;
}) {
  return (
    <fieldset class="facet">
      <legend>{legend}</legend>
      {[...counts].map(([value, count]) => (
        <label key={value} class="check">
          <input type="checkbox" checked={selected.includes(value)} onChange={() => onChange(toggle(selected, value))} />
          <span>{value}</span>
          {count !== undefined && (
            <span class="count">
              {count}
              <span class="visually-hidden"> applications</span>
            </span>
          )}
        </label>
      ))}
    </fieldset>
  );
}

export function destinationText(app: Application): string {
  const d = app.spec.destination ?? {};
  const cluster = clusterOf(app);
  return d.namespace ? `${cluster}/${d.namespace}` : cluster;
}

/** When the app was last synced: its last operation's end, else its last deployment. */
function lastSync(app: Application): string {
  const op = app.status?.operationState;
  if (op?.finishedAt) return op.finishedAt;
  const history = app.status?.history ?? [];
  return history[history.length - 1]?.deployedAt ?? "";
}

/** Fixed height of a row of the applications table (px): the windowing needs it. */
const ROW_HEIGHT = 44;

export function ApplicationsPage({ search }: { search: string }) {
  const filters = parseFilters(search);
  const query = serverQueryString(serverQuery(filters));
  const { apps, state, error, loaded, progress } = useApplications(query);
  const [projectNames, setProjectNames] = useState<string[]>([]);
  const all = useMemo(() => [...apps.values()], [apps]);
  const shown = useMemo(() => filterApps(all, filters), [all, search]);
  const counts = useMemo(() => facetCounts(all, projectNames, filters.projects.length > 0), [all, projectNames, filters.projects.join(",")]);
  const [text, setText] = useState(filters.search);
  const [labels, setLabels] = useState(filters.labels);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    api
      .listProjects()
      .then((list) => setProjectNames((list.items ?? []).map((p) => p.metadata.name)))
      .catch(() => setProjectNames([]));
  }, []);
  const update = (next: AppFilters) => navigate(`/applications${filtersToQuery(next)}`, true);
  useEffect(() => {
    const timer = setTimeout(() => {
      if (text !== filters.search) update({ ...filters, search: text });
    }, 150);
    return () => clearTimeout(timer);
  }, [text]);
  const applyLabels = (event: Event) => {
    event.preventDefault();
    if (labels.trim() !== filters.labels) update({ ...filters, labels: labels.trim() });
  };

  return (
    <div class="page apps-page">
      <div class="page-head">
        <h1>Applications</h1>
        <StreamIndicator state={state} error={error} />
        <button type="button" class="button primary page-action" onClick={() => setCreating(true)}>
          New application
        </button>
      </div>
      {creating && <NewApplicationDialog onClose={() => setCreating(false)} />}
      <div class="apps-layout">
        <aside class="filters" aria-label="Filters">
          <label class="search">
            <span>Search</span>
            <input type="search" placeholder="name, repository, namespace…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <form class="labels-filter" onSubmit={applyLabels}>
            <label>
              <span>Labels</span>
              <input
                name="labels"
                placeholder="team=web,tier!=db"
                value={labels}
                aria-describedby="labels-hint"
                onInput={(e) => setLabels(e.currentTarget.value)}
                onBlur={applyLabels}
              />
            </label>
            <p id="labels-hint" class="muted hint">
              A label selector, applied by the server; Enter applies it.
            </p>
          </form>
          <Facet legend="Sync status" counts={counts.sync} selected={filters.sync} onChange={(sync) => update({ ...filters, sync })} />
          <Facet legend="Health status" counts={counts.health} selected={filters.health} onChange={(health) => update({ ...filters, health })} />
          <Facet
            legend="Project"
            counts={counts.projects}
            selected={filters.projects}
            onChange={(projects) => update({ ...filters, projects })}
          />
          <Facet legend="Cluster" counts={counts.clusters} selected={filters.clusters} onChange={(clusters) => update({ ...filters, clusters })} />
          {!isEmpty(filters) && (
            <button
              type="button"
              class="button"
              onClick={() => {
                setText("");
                setLabels("");
                update(EMPTY_FILTERS);
              }}
            >
              Clear filters
            </button>
          )}
        </aside>
        <section class="apps-list" aria-labelledby="apps-count">
          <p id="apps-count" class="muted" aria-live="polite">
            {loaded
              ? `${shown.length} of ${all.length} applications`
              : progress
                ? `Loading applications… ${progress.loaded} of ${progress.loaded + progress.remaining}`
                : "Loading applications…"}
          </p>
          {error?.status === 400 && <ErrorMessage error={error} />}
          {loaded && all.length === 0 && (
            <p>{isEmpty(filters) ? <>No applications yet. Create one with <code>ferry app create</code>.</> : "No application matches."}</p>
          )}
          {shown.length > 0 && <AppTable apps={shown} />}
        </section>
      </div>
    </div>
  );
}

/**
 * The table, windowed: only the rows in view (and a few around them) are rendered, spacer rows
 * stand for the rest, so 5,000 apps scroll as smoothly as 50. aria-rowcount / aria-rowindex tell
 * assistive technology the table's real size. The scroll area is focusable (arrow keys scroll it).
 */
function AppTable({ apps }: { apps: Application[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(800);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  // A shorter list (a filter) may end above the scroll position: the browser clamps scrollTop.
  useEffect(() => {
    const el = scroller.current;
    if (el && el.scrollTop !== scrollTop) setScrollTop(el.scrollTop);
  }, [apps.length]);
  const range = windowRange({ count: apps.length, rowHeight: ROW_HEIGHT, scrollTop, viewportHeight: viewport, overscan: 8 });
  const rows = apps.slice(range.start, range.end);
  return (
    <div
      class="table-wrap apps-scroll"
      ref={scroller}
      tabIndex={0}
      role="region"
      aria-label={`Applications table, ${apps.length} rows`}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <table class="table apps-table" aria-rowcount={apps.length + 1}>
        <caption class="visually-hidden">Applications</caption>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col">Name</th>
            <th scope="col">Project</th>
            <th scope="col">Sync</th>
            <th scope="col">Health</th>
            <th scope="col">Repository</th>
            <th scope="col">Revision</th>
            <th scope="col">Destination</th>
            <th scope="col">Last sync</th>
          </tr>
        </thead>
        <tbody>
          {range.before > 0 && (
            <tr class="spacer" aria-hidden="true" style={{ height: `${range.before}px` }}>
              <td colSpan={8} />
            </tr>
          )}
          {rows.map((app, i) => (
            <AppRow key={app.metadata.name} app={app} index={range.start + i} />
          ))}
          {range.after > 0 && (
            <tr class="spacer" aria-hidden="true" style={{ height: `${range.after}px` }}>
              <td colSpan={8} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function AppRow({ app, index }: { app: Application; index: number }) {
  const name = app.metadata.name;
  const src = app.spec.source ?? {};
  const synced = app.status?.sync?.revision;
  const syncedAt = lastSync(app);
  const repo = `${src.repoURL ?? ""}${src.path ? ` ${src.path}` : ""}${src.chart ? ` chart ${src.chart}` : ""}`;
  return (
    <tr data-app={name} aria-rowindex={index + 2}>
      <th scope="row" class="cell-name" title={name}>
        <Link to={`/applications/${encodeURIComponent(name)}`}>{name}</Link>
        {app.metadata.deletionTimestamp && <span class="tag">deleting</span>}
      </th>
      <td>{projectOf(app)}</td>
      <td>
        <SyncStatus status={syncOf(app)} />
      </td>
      <td>
        <HealthStatus status={healthOf(app)} />
      </td>
      <td class="cell-repo" title={repo}>
        <span class="mono">{src.repoURL}</span>
        {src.path && <span class="muted"> {src.path}</span>}
        {src.chart && <span class="muted"> chart {src.chart}</span>}
      </td>
      <td title={synced}>
        <span>{src.targetRevision || "HEAD"}</span>
        {synced && <span class="mono muted"> ({shortRevision(synced)})</span>}
      </td>
      <td title={destinationText(app)}>{destinationText(app)}</td>
      <td>{syncedAt ? <time dateTime={syncedAt} title={syncedAt}>{ago(syncedAt)}</time> : "—"}</td>
    </tr>
  );
}
