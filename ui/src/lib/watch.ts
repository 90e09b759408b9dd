// Keeping a list of applications current from the watch stream (ADDED / MODIFIED / DELETED),
// and reading newline-delimited JSON streams as the REST gateway writes them.

import type { Application, WatchEvent } from "../types";

function version(app: Application): number | null {
  const rv = app.metadata.resourceVersion;
  if (!rv || !/^\d+$/.test(rv)) return null;
  return Number(rv);
}

/** Whether `incoming` is not older than `current` (resourceVersions compared as numbers when they are). */
export function isNewer(incoming: Application, current: Application | undefined): boolean {
  if (!current) return true;
  const a = version(incoming);
  const b = version(current);
  return a === null || b === null || a >= b;
}

/** The map after one event; the same map object when nothing changed (stale or unknown events). */
export function applyWatchEvent(apps: ReadonlyMap<string, Application>, event: WatchEvent): ReadonlyMap<string, Application> {
  const app = event.application;
  const name = app?.metadata?.name;
  if (!name) return apps;
  const current = apps.get(name);
  if (event.type === "DELETED") {
    if (!current) return apps;
    const next = new Map(apps);
    next.delete(name);
    return next;
  }
  if (event.type !== "ADDED" && event.type !== "MODIFIED") return apps;
  if (!isNewer(app, current)) return apps;
  const next = new Map(apps);
  next.set(name, app);
  return next;
}

/** The map after a batch of events, in order: one copy however many events (a burst of 1,000). */
export function applyWatchEvents(apps: ReadonlyMap<string, Application>, events: WatchEvent[]): ReadonlyMap<string, Application> {
  let next: Map<string, Application> | null = null;
  for (const event of events) {
    const app = event.application;
    const name = app?.metadata?.name;
    if (!name) continue;
    const current = (next ?? apps).get(name);
    if (event.type === "DELETED") {
      if (!current) continue;
      next ??= new Map(apps);
      next.delete(name);
    } else if ((event.type === "ADDED" || event.type === "MODIFIED") && isNewer(app, current)) {
      next ??= new Map(apps);
      next.set(name, app);
    }
  }
  return next ?? apps;
}

export function fromList(items: Application[] | undefined): ReadonlyMap<string, Application> {
  return new Map((items ?? []).map((a) => [a.metadata.name, a]));
}

/** Splits received text into complete lines; the unfinished rest waits for the next chunk. */
export function splitNdjson(buffer: string, chunk: string): { lines: string[]; rest: string } {
  const text = buffer + chunk;
  const parts = text.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.map((l) => l.trim()).filter(Boolean), rest };
}

/** Backoff before reconnect attempt n (0-based): 1 s, 2 s, 4 s ... at most 30 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt));
}
