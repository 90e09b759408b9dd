// Filters of the applications list: project, labels, sync status, health status and free text,
// kept in the page's query string so a filtered view can be bookmarked and shared. Projects and
// labels (a Kubernetes label selector) are applied by the server, in List and Watch alike, so the
// browser only receives those apps; the others are matched here.

import { IN_CLUSTER, type Application } from "../types";

export interface AppFilters {
  search: string;
  /** A label selector ("team=web,tier!=db"), evaluated by the server. */
  labels: string;
  projects: string[];
  /** Destination clusters, by name ("in-cluster" for the local one) or server URL. */
  clusters: string[];
  sync: string[];
  health: string[];
}

export const EMPTY_FILTERS: AppFilters = { search: "", labels: "", projects: [], clusters: [], sync: [], health: [] };

/** What the server filters: the query of List and Watch. */
export interface ServerQuery {
  projects: string[];
  selector: string;
}

export function serverQuery(filters: AppFilters): ServerQuery {
  return { projects: [...filters.projects].sort(), selector: filters.labels.trim() };
}

/** "projects=a&projects=b&selector=..." for /api/v1/applications and its stream. */
export function serverQueryString(query: ServerQuery): string {
  const params = new URLSearchParams();
  for (const p of query.projects) params.append("projects", p);
  if (query.selector) params.set("selector", query.selector);
  return params.toString();
}

export const SYNC_STATUSES = ["Synced", "OutOfSync", "Unknown"];
export const HEALTH_STATUSES = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

export function projectOf(app: Application): string {
  return app.spec.project || "default";
}

/** The destination cluster as people name it: its name, "in-cluster", or its server URL. */
export function clusterOf(app: Application): string {
  const d = app.spec.destination ?? {};
  return d.name || (d.server === IN_CLUSTER ? "in-cluster" : d.server) || "";
}

export function syncOf(app: Application): string {
  return app.status?.sync?.status || "Unknown";
}

export function healthOf(app: Application): string {
  return app.status?.health?.status || "Unknown";
}

/** The text a search term is matched against: name, repository, path, revision, destination, labels. */
function haystack(app: Application): string {
  const src = app.spec.source ?? {};
  const dest = app.spec.destination ?? {};
  const labels = Object.entries(app.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return [
    app.metadata.name,
    projectOf(app),
    src.repoURL,
    src.path,
    src.chart,
    src.targetRevision,
    dest.server,
    dest.name,
    dest.namespace,
    ...labels,
  ]
    .filter(Boolean)
    .join("\n")
    .toLowerCase();
}

/** Every whitespace-separated search term must occur; within a facet any selected value matches. */
export function matches(app: Application, filters: AppFilters): boolean {
  if (filters.projects.length && !filters.projects.includes(projectOf(app))) return false;
  if (filters.clusters.length && !filters.clusters.includes(clusterOf(app))) return false;
  if (filters.sync.length && !filters.sync.includes(syncOf(app))) return false;
  if (filters.health.length && !filters.health.includes(healthOf(app))) return false;
  const terms = filters.search.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length) {
    const text = haystack(app);
    if (!terms.every((t) => text.includes(t))) return false;
  }
  return true;
}

export function filterApps(apps: Application[], filters: AppFilters): Application[] {
  return apps.filter((a) => matches(a, filters)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export function isEmpty(filters: AppFilters): boolean {
  return (
    !filters.search.trim() &&
    !filters.labels.trim() &&
    !filters.projects.length &&
    !filters.clusters.length &&
    !filters.sync.length &&
    !filters.health.length
  );
}

/**
 * Counts per value of each facet over the apps received (with the known statuses listed even at
 * 0). `knownProjects` (from the project list) are listed too: without a count when the server
 * filtered by project, as their apps were not received.
 */
export function facetCounts(
  apps: Application[],
  knownProjects: string[] = [],
  projectFiltered = false,
): {
  projects: Map<string, number | undefined>;
  clusters: Map<string, number>;
  sync: Map<string, number>;
  health: Map<string, number>;
} {
  const count = (known: string[], values: string[]) => {
    const m = new Map<string, number>(known.map((k) => [k, 0]));
    for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
    return m;
  };
  const projects: Map<string, number | undefined> = count([], apps.map(projectOf));
  for (const p of knownProjects) if (!projects.has(p)) projects.set(p, projectFiltered ? undefined : 0);
  return {
    projects: new Map([...projects].sort(([a], [b]) => a.localeCompare(b))),
    clusters: new Map([...count([], apps.map(clusterOf).filter(Boolean))].sort(([a], [b]) => a.localeCompare(b))),
    sync: count(SYNC_STATUSES, apps.map(syncOf)),
    health: count(HEALTH_STATUSES, apps.map(healthOf)),
  };
}

export function parseFilters(query: string | URLSearchParams): AppFilters {
  const params = typeof query === "string" ? new URLSearchParams(query) : query;
  const list = (name: string) =>
    params
      .getAll(name)
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter(Boolean);
  return {
    search: params.get("search") ?? "",
    labels: params.get("labels") ?? "",
    projects: list("project"),
    clusters: list("cluster"),
    sync: list("sync"),
    health: list("health"),
  };
}

/** "?search=web&project=default&sync=OutOfSync" — "" when nothing is filtered. */
export function filtersToQuery(filters: AppFilters): string {
  const params = new URLSearchParams();
  if (filters.search.trim()) params.set("search", filters.search.trim());
  if (filters.labels.trim()) params.set("labels", filters.labels.trim());
  for (const p of filters.projects) params.append("project", p);
  for (const c of filters.clusters) params.append("cluster", c);
  for (const s of filters.sync) params.append("sync", s);
  for (const h of filters.health) params.append("health", h);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function toggle(values: string[], value: string): string[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}
