// Filters of the applications list: project, sync status, health status and free text, kept in
// the page's query string so a filtered view can be bookmarked and shared.

import type { Application } from "../types";

export interface AppFilters {
  search: string;
  projects: string[];
  sync: string[];
  health: string[];
}

export const EMPTY_FILTERS: AppFilters = { search: "", projects: [], sync: [], health: [] };

export const SYNC_STATUSES = ["Synced", "OutOfSync", "Unknown"];
export const HEALTH_STATUSES = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

export function projectOf(app: Application): string {
  return app.spec.project || "default";
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
  return !filters.search.trim() && !filters.projects.length && !filters.sync.length && !filters.health.length;
}

/** Counts per value of each facet over all apps (with the known statuses listed even at 0). */
export function facetCounts(apps: Application[]): {
  projects: Map<string, number>;
  sync: Map<string, number>;
  health: Map<string, number>;
} {
  const count = (known: string[], values: string[]) => {
    const m = new Map<string, number>(known.map((k) => [k, 0]));
    for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
    return m;
  };
  const projects = count([], apps.map(projectOf));
  return {
    projects: new Map([...projects].sort(([a], [b]) => a.localeCompare(b))),
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
  return { search: params.get("search") ?? "", projects: list("project"), sync: list("sync"), health: list("health") };
}

/** "?search=web&project=default&sync=OutOfSync" — "" when nothing is filtered. */
export function filtersToQuery(filters: AppFilters): string {
  const params = new URLSearchParams();
  if (filters.search.trim()) params.set("search", filters.search.trim());
  for (const p of filters.projects) params.append("project", p);
  for (const s of filters.sync) params.append("sync", s);
  for (const h of filters.health) params.append("health", h);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function toggle(values: string[], value: string): string[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}
