import { useEffect, useState } from "preact/hooks";

import { api } from "../api";
import { eventSource, lastSeen, sortEvents } from "../lib/events";
import { ago } from "../lib/status";
import type { KubeEvent } from "../types";
import { ErrorMessage } from "./Dialog";

/** How often the events shown are read again (the API has no event stream). */
const EVENTS_POLL_MS = 10_000;

/**
 * Kubernetes Events of the application (`resource` undefined) or of one of its resources, from
 * ListResourceEvents; read again every few seconds and when `stamp` changes (the resource moved).
 */
export function EventsView({
  app,
  resource,
  stamp,
  label,
}: {
  app: string;
  resource?: { name: string; namespace?: string; uid?: string };
  stamp?: string;
  label: string;
}) {
  const [events, setEvents] = useState<KubeEvent[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const key = resource ? `${resource.namespace ?? ""}/${resource.name}/${resource.uid ?? ""}` : "";

  useEffect(() => {
    setEvents(null);
  }, [app, key]);
  useEffect(() => {
    let cancelled = false;
    const load = () =>
      api
        .events(app, resource)
        .then((list) => {
          if (cancelled) return;
          setEvents(sortEvents(list.items));
          setError(null);
        })
        .catch((err: unknown) => {
          if (!cancelled) setError(err);
        });
    void load();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, EVENTS_POLL_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [app, key, stamp]);

  if (error && !events) return <ErrorMessage error={error} />;
  if (!events) return <p class="muted">Loading events…</p>;
  if (!events.length) return <p class="muted" data-testid="events-none">No events.</p>;
  return (
    <div class="table-wrap" data-testid="events">
      <table class="table events-table">
        <caption class="visually-hidden">{label}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Reason</th>
            <th scope="col">Message</th>
            <th scope="col">Count</th>
            <th scope="col">Last seen</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => {
            const when = lastSeen(e);
            return (
              <tr key={e.metadata?.uid ?? i} class={e.type === "Warning" ? "event-warning" : undefined}>
                <td>{e.type === "Warning" ? <strong class="tone-warn">Warning</strong> : e.type || "Normal"}</td>
                <td>{e.reason}</td>
                <td class="wrap">
                  {e.message}
                  {e.involvedObject?.fieldPath && <span class="muted"> ({e.involvedObject.fieldPath})</span>}
                </td>
                <td>{e.count ?? 1}</td>
                <td>{when ? <time dateTime={when}>{ago(when)}</time> : ""}</td>
                <td>{eventSource(e)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ErrorMessage error={error} />
    </div>
  );
}
