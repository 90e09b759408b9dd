import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError, watchApplications, type StreamState } from "../api";
import { Link } from "../components/Link";
import { HealthStatus, SyncStatus } from "../components/Status";
import {
  facetCounts,
  filterApps,
  filtersToQuery,
  healthOf,
  isEmpty,
  parseFilters,
  projectOf,
  syncOf,
  toggle,
  type AppFilters,
} from "../lib/filters";
import { shortRevision } from "../lib/status";
import { applyWatchEvent, fromList } from "../lib/watch";
import { navigate } from "../router";
import type { Application } from "../types";

/** The live list of applications the caller may see: a snapshot, then the watch stream. */
export function useApplications(): { apps: ReadonlyMap<string, Application>; state: StreamState; error: ApiError | undefined; loaded: boolean } {
  const [apps, setApps] = useState<ReadonlyMap<string, Application>>(new Map());
  const [state, setState] = useState<StreamState>("connecting");
  const [error, setError] = useState<ApiError>();
  const [loaded, setLoaded] = useState(false);
  useEffect(
    () =>
      watchApplications({
        onSnapshot: (list) => {
          setApps(fromList(list.items));
          setLoaded(true);
        },
        onEvent: (event) => setApps((current) => applyWatchEvent(current, event)),
        onState: (s, err) => {
          setState(s);
          setError(err);
        },
      }),
    [],
  );
  return { apps, state, error, loaded };
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
  counts: Map<string, number>;
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
          <span class="count">
            {count}
            <span class="visually-hidden"> applications</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export function destinationText(app: Application): string {
  const d = app.spec.destination ?? {};
  const cluster = d.name || (d.server === "https://kubernetes.default.svc" ? "in-cluster" : d.server) || "";
  return d.namespace ? `${cluster}/${d.namespace}` : cluster;
}

export function ApplicationsPage({ search }: { search: string }) {
  const { apps, state, error, loaded } = useApplications();
  const filters = parseFilters(search);
  const all = useMemo(() => [...apps.values()], [apps]);
  const shown = useMemo(() => filterApps(all, filters), [all, search]);
  const counts = useMemo(() => facetCounts(all), [all]);
  const [text, setText] = useState(filters.search);

  const update = (next: AppFilters) => navigate(`/applications${filtersToQuery(next)}`, true);
  useEffect(() => {
    const timer = setTimeout(() => {
      if (text !== filters.search) update({ ...filters, search: text });
    }, 150);
    return () => clearTimeout(timer);
  }, [text]);

  return (
    <div class="page apps-page">
      <div class="page-head">
        <h1>Applications</h1>
        <StreamIndicator state={state} error={error} />
      </div>
      <div class="apps-layout">
        <aside class="filters" aria-label="Filters">
          <label class="search">
            <span>Search</span>
            <input type="search" placeholder="name, repository, namespace…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <Facet legend="Sync status" counts={counts.sync} selected={filters.sync} onChange={(sync) => update({ ...filters, sync })} />
          <Facet legend="Health status" counts={counts.health} selected={filters.health} onChange={(health) => update({ ...filters, health })} />
          <Facet
            legend="Project"
            counts={counts.projects}
            selected={filters.projects}
            onChange={(projects) => update({ ...filters, projects })}
          />
          {!isEmpty(filters) && (
            <button
              type="button"
              class="button"
              onClick={() => {
                setText("");
                update({ search: "", projects: [], sync: [], health: [] });
              }}
            >
              Clear filters
            </button>
          )}
        </aside>
        <section class="apps-list" aria-labelledby="apps-count">
          <p id="apps-count" class="muted" aria-live="polite">
            {loaded ? `${shown.length} of ${all.length} applications` : "Loading applications…"}
          </p>
          {loaded && all.length === 0 && <p>No applications yet. Create one with <code>ferry app create</code>.</p>}
          {shown.length > 0 && (
            <div class="table-wrap">
              <table class="table apps-table">
                <caption class="visually-hidden">Applications</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Project</th>
                    <th scope="col">Sync</th>
                    <th scope="col">Health</th>
                    <th scope="col">Repository</th>
                    <th scope="col">Revision</th>
                    <th scope="col">Destination</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((app) => (
                    <AppRow key={app.metadata.name} app={app} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>
    </div>
  );
}

function AppRow({ app }: { app: Application }) {
  const name = app.metadata.name;
  const src = app.spec.source ?? {};
  const synced = app.status?.sync?.revision;
  return (
    <tr data-app={name}>
      <th scope="row">
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
      <td class="wrap">
        <span class="mono">{src.repoURL}</span>
        {src.path && <span class="muted"> {src.path}</span>}
        {src.chart && <span class="muted"> chart {src.chart}</span>}
      </td>
      <td>
        <span>{src.targetRevision || "HEAD"}</span>
        {synced && (
          <span class="mono muted" title={synced}>
            {" "}
            ({shortRevision(synced)})
          </span>
        )}
      </td>
      <td>{destinationText(app)}</td>
    </tr>
  );
}
