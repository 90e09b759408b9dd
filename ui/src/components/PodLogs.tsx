import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, readStream } from "../api";
import { appendLines, formatLine, logsPath, podsUnder, TAIL_CHOICES, type LogLine } from "../lib/logs";
import { groupKind, type TreeNode } from "../lib/tree";
import type { LogEntry } from "../types";
import { ErrorMessage } from "./Dialog";

type LogState = "connecting" | "following" | "done" | "ended" | "error";

/**
 * The logs of a Pod, or of every Pod of a Deployment / ReplicaSet / Job / ..., streamed from the
 * REST PodLogs endpoint: follow (new lines as the pod writes them), container, tail, timestamps.
 * The view sticks to the bottom while following unless the reader scrolled up.
 */
export function PodLogs({ app, node, containers: known }: { app: string; node: TreeNode; containers: string[] | null }) {
  const containers = known ?? [];
  const [container, setContainer] = useState(containers[0] ?? "");
  const [tail, setTail] = useState(TAIL_CHOICES[0]);
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<LogState>("connecting");
  const [error, setError] = useState<unknown>(null);
  const [run, setRun] = useState(0);
  const view = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const pods = podsUnder(node);
  const several = pods.length > 1 || node.kind !== "Pod";

  // A container list that arrives (or changes) later picks its first container.
  useEffect(() => {
    if (!containers.includes(container)) setContainer(containers[0] ?? "");
  }, [containers.join("\n")]);
  const ready = known !== null && (containers.length === 0 || containers.includes(container));

  useEffect(() => {
    if (!ready) return;
    const controller = new AbortController();
    let seq = 0;
    let pending: LogLine[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setLines((current) => appendLines(current, batch));
    };
    setLines([]);
    setError(null);
    setState("connecting");
    stick.current = true;
    const path = logsPath(app, node, { container, tail, follow });
    readStream<LogEntry>(
      path,
      (entry) => {
        if (entry.last) return;
        pending.push({ seq: seq++, content: entry.content ?? "", timeStamp: entry.timeStamp ?? "", podName: entry.podName ?? "" });
        // Lines arrive in bursts: render at most every 50 ms.
        if (timer === undefined) timer = setTimeout(flush, 50);
      },
      { signal: controller.signal, onOpen: () => setState(follow ? "following" : "connecting") },
    )
      .then(() => {
        if (controller.signal.aborted) return;
        if (timer !== undefined) clearTimeout(timer);
        flush();
        setState(follow ? "ended" : "done");
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        if (timer !== undefined) clearTimeout(timer);
        flush();
        setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
        setState("error");
      });
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [app, node.key, container, tail, follow, run, ready]);

  useEffect(() => {
    const el = view.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines, timestamps]);

  const onScroll = () => {
    const el = view.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  const title = `${groupKind(node)} ${node.name}`;
  const status =
    state === "connecting"
      ? "Loading…"
      : state === "following"
        ? `Following${lines.length ? "" : ": no lines yet"}`
        : state === "done"
          ? `${lines.length} lines`
          : state === "ended"
            ? "The stream ended (the pod stopped or the server restarted)."
            : "";
  return (
    <section class="logs" aria-labelledby="logs-title">
      <h4 id="logs-title" class="visually-hidden">
        Logs of {title}
      </h4>
      <form class="logs-controls" onSubmit={(e) => e.preventDefault()} aria-label="Log options">
        <label>
          Container
          <select value={container} onChange={(e) => setContainer(e.currentTarget.value)} disabled={containers.length === 0}>
            {containers.length === 0 && <option value="">default</option>}
            {containers.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Lines
          <select value={String(tail)} onChange={(e) => setTail(Number(e.currentTarget.value))}>
            {TAIL_CHOICES.map((n) => (
              <option key={n} value={String(n)}>
                {n ? `last ${n}` : "all"}
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />
          Follow
        </label>
        <label class="check">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps(e.currentTarget.checked)} />
          Timestamps
        </label>
        <button type="button" class="button" onClick={() => setRun((n) => n + 1)}>
          Reload
        </button>
      </form>
      <p class="muted logs-status" data-testid="logs-status" data-state={state}>
        {several && `${pods.length} pod${pods.length === 1 ? "" : "s"}. `}
        {status}
      </p>
      <ErrorMessage error={error} />
      <pre
        ref={view}
        class="manifest log-view"
        data-testid="pod-logs"
        role="log"
        aria-label={`Logs of ${title}`}
        tabIndex={0}
        onScroll={onScroll}
      >
        {lines.map((l) => formatLine(l, { pods: several, timestamps })).join("\n")}
      </pre>
    </section>
  );
}
