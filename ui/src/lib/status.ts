// How a sync or health status looks: an icon shape and a colour class, always next to the word
// (colour is never the only signal).

export type IconShape =
  | "check"
  | "arrow-up"
  | "heart"
  | "heart-broken"
  | "spinner"
  | "pause"
  | "ghost"
  | "question"
  | "cross"
  | "warning";

export interface StatusLook {
  icon: IconShape;
  tone: "ok" | "warn" | "bad" | "busy" | "muted";
}

export function syncLook(status: string | undefined): StatusLook {
  switch (status) {
    case "Synced":
      return { icon: "check", tone: "ok" };
    case "OutOfSync":
      return { icon: "arrow-up", tone: "warn" };
    default:
      return { icon: "question", tone: "muted" };
  }
}

export function healthLook(status: string | undefined): StatusLook {
  switch (status) {
    case "Healthy":
      return { icon: "heart", tone: "ok" };
    case "Progressing":
      return { icon: "spinner", tone: "busy" };
    case "Degraded":
      return { icon: "heart-broken", tone: "bad" };
    case "Suspended":
      return { icon: "pause", tone: "muted" };
    case "Missing":
      return { icon: "ghost", tone: "warn" };
    default:
      return { icon: "question", tone: "muted" };
  }
}

export function phaseLook(phase: string | undefined): StatusLook {
  switch (phase) {
    case "Succeeded":
      return { icon: "check", tone: "ok" };
    case "Running":
    case "Terminating":
      return { icon: "spinner", tone: "busy" };
    case "Failed":
    case "Error":
      return { icon: "cross", tone: "bad" };
    default:
      return { icon: "question", tone: "muted" };
  }
}

/** The first 7 characters of a commit SHA; anything else (a branch, a chart version) as it is. */
export function shortRevision(revision: string | undefined): string {
  if (!revision) return "";
  return /^[0-9a-f]{40}$/i.test(revision) ? revision.slice(0, 7) : revision;
}

/** "3 minutes ago" style, from an RFC 3339 time; "" when absent. */
export function ago(time: string | undefined, now: number = Date.now()): string {
  if (!time) return "";
  const t = Date.parse(time);
  if (Number.isNaN(t)) return time;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}
