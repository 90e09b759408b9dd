// Kubernetes Events as the application page shows them: newest first, with the time they were
// last seen (lastTimestamp, else eventTime for events.k8s.io-style events, else firstTimestamp).

import type { KubeEvent } from "../types";

export function lastSeen(event: KubeEvent): string {
  return event.lastTimestamp || event.eventTime || event.firstTimestamp || event.metadata?.creationTimestamp || "";
}

/** Newest first; Warnings before Normal events seen at the same time. */
export function sortEvents(events: KubeEvent[] | undefined): KubeEvent[] {
  return [...(events ?? [])].sort((a, b) => {
    const byTime = lastSeen(b).localeCompare(lastSeen(a));
    if (byTime) return byTime;
    return (a.type === "Warning" ? 0 : 1) - (b.type === "Warning" ? 0 : 1);
  });
}

export function eventSource(event: KubeEvent): string {
  return event.source?.component || event.reportingComponent || "";
}
