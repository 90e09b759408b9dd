import type { ComponentChildren } from "preact";

import { healthLook, phaseLook, syncLook, type IconShape, type StatusLook } from "../lib/status";

const PATHS: Record<IconShape, ComponentChildren> = {
  check: (
    <>
      <circle cx="8" cy="8" r="7" />
      <path d="M4.5 8.2l2.3 2.3 4.7-5" class="stroke" />
    </>
  ),
  "arrow-up": (
    <>
      <circle cx="8" cy="8" r="7" />
      <path d="M8 12V4.5M4.8 7.5L8 4.3l3.2 3.2" class="stroke" />
    </>
  ),
  heart: <path d="M8 14.2S1.5 10.3 1.5 5.6A3.3 3.3 0 0 1 8 4.3a3.3 3.3 0 0 1 6.5 1.3c0 4.7-6.5 8.6-6.5 8.6z" />,
  "heart-broken": (
    <>
      <path d="M8 14.2S1.5 10.3 1.5 5.6A3.3 3.3 0 0 1 8 4.3a3.3 3.3 0 0 1 6.5 1.3c0 4.7-6.5 8.6-6.5 8.6z" />
      <path d="M8.6 3.8L7 7.2l2 1.6-1.2 3.4" class="stroke" />
    </>
  ),
  spinner: <path d="M8 1.5a6.5 6.5 0 1 1-6.5 6.5" class="stroke-only spin" />,
  pause: (
    <>
      <circle cx="8" cy="8" r="7" />
      <path d="M6.2 5v6M9.8 5v6" class="stroke" />
    </>
  ),
  ghost: <path d="M3 14V7a5 5 0 0 1 10 0v7l-1.7-1.3L9.7 14 8 12.7 6.3 14l-1.6-1.3z" />,
  question: (
    <>
      <circle cx="8" cy="8" r="7" />
      <path d="M6 6.2a2 2 0 1 1 2.8 1.8c-.6.3-.8.7-.8 1.3v.4M8 11.6v.2" class="stroke" />
    </>
  ),
  cross: (
    <>
      <circle cx="8" cy="8" r="7" />
      <path d="M5.5 5.5l5 5M10.5 5.5l-5 5" class="stroke" />
    </>
  ),
  warning: (
    <>
      <path d="M8 1.5l7 12.5H1z" />
      <path d="M8 6v4M8 11.8v.2" class="stroke" />
    </>
  ),
};

export function Icon({ look }: { look: StatusLook }) {
  return (
    <svg class={`icon tone-${look.tone}`} viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      {PATHS[look.icon]}
    </svg>
  );
}

/** Icon + word; `label` (e.g. "Sync") is read by screen readers before the word. */
function Badge({ look, word, label }: { look: StatusLook; word: string; label: string }) {
  return (
    <span class={`status tone-${look.tone}`} data-status={word}>
      <Icon look={look} />
      <span class="visually-hidden">{label}: </span>
      <span class="status-word">{word}</span>
    </span>
  );
}

export function SyncStatus({ status }: { status?: string }) {
  const word = status || "Unknown";
  return <Badge look={syncLook(word)} word={word} label="Sync" />;
}

export function HealthStatus({ status }: { status?: string }) {
  const word = status || "Unknown";
  return <Badge look={healthLook(word)} word={word} label="Health" />;
}

export function PhaseStatus({ phase }: { phase?: string }) {
  const word = phase || "Unknown";
  return <Badge look={phaseLook(word)} word={word} label="Operation" />;
}
