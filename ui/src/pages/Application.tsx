import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { api, ApiError, watchApplications, type StreamState } from "../api";
import { Dialog, ErrorMessage } from "../components/Dialog";
import { DiffView } from "../components/DiffView";
import { EventsView } from "../components/EventsView";
import { Link } from "../components/Link";
import { PodLogs } from "../components/PodLogs";
import { ResourceGraph } from "../components/ResourceGraph";
import { ResourceTree } from "../components/ResourceTree";
import { HealthStatus, PhaseStatus, SyncStatus } from "../components/Status";
import { manifestYaml, resourceDiff } from "../lib/diff";
import { containersOf, hasLogs } from "../lib/logs";
import { operationRows, progressOf, PRUNE_POLICIES, SYNC_OPTIONS, syncable, syncRequest } from "../lib/operation";
import { pluginSummary } from "../lib/plugin";
import { ago, shortRevision } from "../lib/status";
import { buildTree, groupKind, resourceKey, type TreeNode } from "../lib/tree";
import { navigate } from "../router";
import type { Application, ApplicationTree, ResourceDiff, RevisionHistory, RevisionMetadata } from "../types";
import { destinationText, StreamIndicator } from "./Applications";

function useApplication(name: string) {
  const [app, setApp] = useState<Application | null>(null);
  const [state, setState] = useState<StreamState>("connecting");
  const [error, setError] = useState<ApiError>();
  useEffect(
    () =>
      watchApplications(
        {
          onSnapshot: (list) => setApp(list.items?.[0] ?? null),
          onEvent: (event) => {
            if (event.type === "DELETED") setApp(null);
            else setApp(event.application);
          },
          onState: (s, err) => {
            setState(s);
            setError(err);
          },
        },
        name,
      ),
    [name],
  );
  return { app, state, error };
}

/** The last (or running) operation: what was asked, its phase, and each resource's result as it comes. */
function OperationSection({ app }: { app: Application }) {
  const op = app.status?.operationState;
  const rows = useMemo(() => operationRows(app, op), [app, op]);
  if (!op) return null;
  const sync = op.operation?.sync;
  const running = op.phase === "Running" || op.phase === "Terminating";
  const progress = progressOf(rows);
  const asked = [
    sync?.dryRun ? "dry run" : "",
    sync?.prune ? "prune" : "",
    sync?.resources?.length ? `${sync.resources.length} selected resource${sync.resources.length === 1 ? "" : "s"}` : "",
    ...(sync?.syncOptions ?? []),
  ].filter(Boolean);
  return (
    <section class="operation" aria-labelledby="operation-title" data-phase={op.phase}>
      <h2 id="operation-title">{running ? "Sync in progress" : "Last operation"}</h2>
      <p class="op-line" aria-live="polite">
        <PhaseStatus phase={op.phase} />
        <span data-testid="operation-message">{op.message}</span>
      </p>
      {running && progress.total > 0 && (
        <p class="op-progress">
          <progress max={progress.total} value={progress.done} aria-label="Resources done" />
          <span data-testid="operation-progress">
            {progress.done} of {progress.total} resources done
          </span>
        </p>
      )}
      <p class="muted">
        {op.operation?.initiatedBy?.automated ? "Automated sync" : `Sync by ${op.operation?.initiatedBy?.username || "unknown"}`}
        {sync?.dryRun ? " (dry run)" : ""}
        {sync?.prune ? " with prune" : ""}
        {op.syncResult?.revision ? ` to ${shortRevision(op.syncResult.revision)}` : ""}
        {op.startedAt ? `, started ${ago(op.startedAt)}` : ""}
        {op.finishedAt ? `, finished ${ago(op.finishedAt)}` : ""}
      </p>
      {asked.length > 0 && (
        <p class="muted" data-testid="operation-asked">
          Asked: {asked.join(", ")}
        </p>
      )}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Result per resource</caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Namespace</th>
                <th scope="col">Name</th>
                <th scope="col">Phase</th>
                <th scope="col">Result</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const r = row.result;
                return (
                  <tr key={row.key + (r?.hookType ?? "")} data-result={row.pending ? "Pending" : r?.hookPhase || r?.status}>
                    <td>{groupKind(row)}</td>
                    <td>{row.namespace}</td>
                    <td>{row.name}</td>
                    <td>{r ? (r.hookType ? `${r.syncPhase} hook` : r.syncPhase) : ""}</td>
                    <td>{row.pending ? <span class="muted">Pending</span> : r?.hookPhase || r?.status}</td>
                    <td class="wrap">{r?.message}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

type ResourceView = "graph" | "list";
const VIEW_KEY = "ferry.resourceView";

/** The resource view last chosen (kept in the browser): the graph unless the list was picked. */
function storedView(): ResourceView {
  try {
    return localStorage.getItem(VIEW_KEY) === "list" ? "list" : "graph";
  } catch {
    return "graph";
  }
}

function findNode(roots: TreeNode[], key: string | undefined): TreeNode | undefined {
  if (!key) return undefined;
  for (const n of roots) {
    if (n.key === key) return n;
    const found = findNode(n.children, key);
    if (found) return found;
  }
  return undefined;
}

export function ApplicationPage({ name, resource }: { name: string; resource?: string }) {
  const { app, state, error } = useApplication(name);
  const [tree, setTree] = useState<ApplicationTree>();
  const [managed, setManaged] = useState<ResourceDiff[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [dialog, setDialog] = useState<"sync" | "history" | "delete" | null>(null);
  const [notice, setNotice] = useState<string>("");
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState("");
  const [view, setView] = useState<ResourceView>(storedView());
  const chooseView = (next: ResourceView) => {
    setView(next);
    try {
      localStorage.setItem(VIEW_KEY, next);
    } catch {
      // storage may be off: the choice lasts until the page is left
    }
  };

  const version = app?.metadata.resourceVersion;
  // The tree and the diffs follow the application: reload them when its status changes.
  useEffect(() => {
    if (!app) return;
    let cancelled = false;
    const timer = setTimeout(async () => {
      try {
        const [t, m] = await Promise.all([api.resourceTree(name), api.managedResources(name)]);
        if (cancelled) return;
        setTree(t);
        setManaged(m.items ?? []);
        setLoadError(null);
      } catch (err) {
        if (!cancelled) setLoadError(err);
      }
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [name, version]);

  // The compared commit's message and author (Git sources; a Helm chart has none: nothing shown).
  const comparedRevision = app?.status?.sync?.revision ?? "";
  const [commit, setCommit] = useState<RevisionMetadata | null>(null);
  useEffect(() => {
    setCommit(null);
    if (!comparedRevision || app?.spec.source?.chart) return;
    let cancelled = false;
    api
      .revisionMetadata(name, comparedRevision)
      .then((m) => !cancelled && setCommit(m))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [name, comparedRevision]);

  const roots = useMemo(() => buildTree(app?.status?.resources, tree), [app?.status?.resources, tree]);
  const selected = findNode(roots, resource);
  const select = (node: TreeNode) =>
    navigate(`/applications/${encodeURIComponent(name)}?resource=${encodeURIComponent(node.key)}`, true);

  const act = async (label: string, action: () => Promise<unknown>, done: string) => {
    setBusy(label);
    setActionError(null);
    setNotice("");
    try {
      await action();
      setNotice(done);
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy("");
    }
  };

  if (!app) {
    return (
      <div class="page">
        <p>
          <Link to="/applications">← Applications</Link>
        </p>
        <h1>{name}</h1>
        {error ? <ErrorMessage error={error} /> : state === "live" ? <p>This application no longer exists.</p> : <p aria-busy="true">Loading…</p>}
      </div>
    );
  }

  const status = app.status ?? {};
  const src = app.spec.source ?? {};
  const plugin = pluginSummary(src.plugin);
  const op = status.operationState;
  const running = op?.phase === "Running" || op?.phase === "Terminating";
  const automated = Boolean(app.spec.syncPolicy?.automated && app.spec.syncPolicy.automated.enabled !== false);

  return (
    <div class="page app-page">
      <p class="crumbs">
        <Link to="/applications">← Applications</Link>
      </p>
      <div class="page-head">
        <h1>{name}</h1>
        <SyncStatus status={status.sync?.status} />
        <HealthStatus status={status.health?.status} />
        <StreamIndicator state={state} error={error} />
      </div>
      <div class="toolbar" role="toolbar" aria-label="Application actions">
        <button type="button" class="button primary" onClick={() => setDialog("sync")} disabled={running}>
          Sync
        </button>
        <button
          type="button"
          class="button"
          disabled={Boolean(busy)}
          onClick={() => act("refresh", () => api.getApp(name, "normal"), "Refresh requested: comparing with Git.")}
        >
          {busy === "refresh" ? "Refreshing…" : "Refresh"}
        </button>
        <button
          type="button"
          class="button"
          disabled={Boolean(busy)}
          onClick={() => act("hard", () => api.getApp(name, "hard"), "Hard refresh requested: rendering again without caches.")}
        >
          {busy === "hard" ? "Refreshing…" : "Hard refresh"}
        </button>
        <button type="button" class="button" onClick={() => setDialog("history")}>
          History and rollback
        </button>
        {running && (
          <button type="button" class="button" onClick={() => act("terminate", () => api.terminate(name), "Termination requested.")}>
            Terminate sync
          </button>
        )}
        <button type="button" class="button danger" onClick={() => setDialog("delete")}>
          Delete
        </button>
      </div>
      <div aria-live="polite" class="notices">
        {notice && <p class="notice">{notice}</p>}
      </div>
      <ErrorMessage error={actionError} />

      <section class="summary" aria-labelledby="summary-title">
        <h2 id="summary-title">Summary</h2>
        <dl class="facts">
          <dt>Project</dt>
          <dd>{app.spec.project || "default"}</dd>
          <dt>Repository</dt>
          <dd class="mono wrap">{src.repoURL}</dd>
          <dt>Path</dt>
          <dd class="mono">{src.path || src.chart || "."}</dd>
          <dt>Target revision</dt>
          <dd>{src.targetRevision || "HEAD"}</dd>
          {plugin && (
            <>
              <dt>Plugin</dt>
              <dd data-testid="plugin">
                <span class="mono">{plugin.name}</span>
                {[...plugin.env.map((e) => `env ${e}`), ...plugin.parameters.map((p) => `parameter ${p}`)].map((line) => (
                  <div class="mono muted" key={line}>
                    {line}
                  </div>
                ))}
              </dd>
            </>
          )}
          <dt>Compared to</dt>
          <dd class="mono" title={status.sync?.revision} data-testid="sync-revision">
            {shortRevision(status.sync?.revision) || "—"}
          </dd>
          {commit?.message && (
            <>
              <dt>Commit</dt>
              <dd data-testid="commit">
                <span class="commit-message">{commit.message.split("\n")[0]}</span>
                <span class="muted">
                  {commit.author ? ` — ${commit.author}` : ""}
                  {commit.date ? <>, <time dateTime={commit.date}>{ago(commit.date)}</time></> : ""}
                </span>
              </dd>
            </>
          )}
          <dt>Destination</dt>
          <dd>{destinationText(app)}</dd>
          <dt>Sync policy</dt>
          <dd>
            {automated
              ? `Automated${app.spec.syncPolicy?.automated?.prune ? ", prune" : ""}${app.spec.syncPolicy?.automated?.selfHeal ? ", self-heal" : ""}`
              : "Manual"}
          </dd>
          <dt>Last compared</dt>
          <dd>{status.reconciledAt ? <time dateTime={status.reconciledAt}>{ago(status.reconciledAt)}</time> : "—"}</dd>
        </dl>
        {status.health?.message && <p class="muted">{status.health.message}</p>}
        {(status.conditions?.length ?? 0) > 0 && (
          <>
            <h3>Conditions</h3>
            <ul class="conditions">
              {status.conditions?.map((c, i) => (
                <li key={i} class={c.type.endsWith("Error") ? "tone-bad" : "tone-warn"}>
                  <strong>{c.type}</strong>: {c.message}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>

      <section class="resources" aria-labelledby="resources-title">
        <h2 id="resources-title">Resources</h2>
        <ErrorMessage error={loadError} />
        <div class="view-switch" role="group" aria-label="Resource view">
          <button type="button" class="button" aria-pressed={view === "graph"} onClick={() => chooseView("graph")}>
            Graph
          </button>
          <button type="button" class="button" aria-pressed={view === "list"} onClick={() => chooseView("list")}>
            List
          </button>
        </div>
        <div class={`split${view === "graph" ? " graph-mode" : ""}`}>
          <div class="tree-pane">
            {view === "graph" ? (
              <ResourceGraph
                app={name}
                appSync={status.sync?.status}
                appHealth={status.health?.status}
                roots={roots}
                selected={selected?.key}
                onSelect={select}
                onSelectApp={() => navigate(`/applications/${encodeURIComponent(name)}`, true)}
                label={`Resource graph of ${name}`}
              />
            ) : (
              <ResourceTree roots={roots} selected={selected?.key} onSelect={select} label={`Resources of ${name}`} />
            )}
          </div>
          <div class="detail-pane">
            {selected ? (
              <ResourceDetails app={name} node={selected} managed={managed} />
            ) : (
              <p class="muted">Select a resource to see its diff with Git, its live manifest, its events and, for pods and what runs them, its logs.</p>
            )}
          </div>
        </div>
      </section>

      {op && <OperationSection app={app} />}

      <section class="app-events" aria-labelledby="app-events-title">
        <h2 id="app-events-title">Events</h2>
        <EventsView app={name} stamp={version} label={`Events of ${name}`} />
      </section>

      {dialog === "sync" && <SyncDialog app={app} onClose={() => setDialog(null)} onDone={setNotice} />}
      {dialog === "history" && <HistoryDialog app={app} automated={automated} onClose={() => setDialog(null)} onDone={setNotice} />}
      {dialog === "delete" && <DeleteDialog app={app} onClose={() => setDialog(null)} />}
    </div>
  );
}

type DetailTab = "diff" | "live" | "desired" | "events" | "logs";

function tabsFor(node: TreeNode): { id: DetailTab; label: string }[] {
  return [
    ...(node.managed ? [{ id: "diff" as const, label: "Diff" }] : []),
    { id: "live" as const, label: "Live manifest" },
    ...(node.managed ? [{ id: "desired" as const, label: "Desired manifest" }] : []),
    ...(node.missing ? [] : [{ id: "events" as const, label: "Events" }]),
    ...(hasLogs(node) ? [{ id: "logs" as const, label: "Logs" }] : []),
  ];
}

function defaultTab(node: TreeNode): DetailTab {
  if (node.managed) return "diff";
  return node.kind === "Pod" && !node.group ? "logs" : "live";
}

function ResourceDetails({ app, node, managed }: { app: string; node: TreeNode; managed: ResourceDiff[] }) {
  const [tab, setTab] = useState<DetailTab>(defaultTab(node));
  const [live, setLive] = useState<string | null>(null);
  const [liveObject, setLiveObject] = useState<unknown>(null);
  const [liveError, setLiveError] = useState<unknown>(null);
  const diffItem = managed.find((d) => resourceKey(d) === node.key);
  const view = useMemo(() => (diffItem ? resourceDiff(diffItem) : null), [diffItem]);
  const liveVersion = useRef("");
  // Reload the live object when it changed: a new resourceVersion in the tree or in the diff.
  const stamp = `${node.key}|${node.resourceVersion}|${diffItem?.resourceVersion ?? ""}|${node.missing}`;
  const tabs = tabsFor(node);
  // null while the live object loads: the logs wait for it to know the containers (a pod with
  // several needs one named); [] when it cannot be read (the server picks the default).
  const containers = useMemo(() => (liveObject !== null ? containersOf(liveObject) : liveError ? [] : null), [liveObject, liveError]);

  useEffect(() => {
    // Another resource: its default tab (a Pod's logs), unless the tab shown applies to it too.
    setTab((current) => (current !== "diff" && tabsFor(node).some((t) => t.id === current) ? current : defaultTab(node)));
  }, [node.key]);
  useEffect(() => {
    let cancelled = false;
    if (node.missing) {
      setLive("");
      setLiveObject(null);
      return;
    }
    if (liveVersion.current !== node.key) {
      setLive(null);
      setLiveObject(null);
      setLiveError(null);
    }
    liveVersion.current = node.key;
    api
      .liveResource(app, node)
      .then((r) => {
        if (!cancelled) {
          setLive(manifestYaml(r.manifest));
          setLiveObject(r.manifest ? JSON.parse(r.manifest) : null);
          setLiveError(null);
        }
      })
      .catch((err) => {
        if (cancelled) return;
        // The API server may not read some kinds (Secrets elsewhere): fall back to the diff's copy.
        if (diffItem?.liveState) {
          setLive(manifestYaml(diffItem.liveState));
          setLiveObject(JSON.parse(diffItem.liveState));
        } else setLiveError(err);
      });
    return () => {
      cancelled = true;
    };
  }, [app, stamp]);

  const title = `${groupKind(node)} ${node.namespace ? `${node.namespace}/` : ""}${node.name}`;
  const shown = tabs.some((t) => t.id === tab) ? tab : tabs[0].id;
  return (
    <section class="details" aria-labelledby="details-title">
      <h3 id="details-title">{title}</h3>
      <p class="node-status">
        {node.managed && <SyncStatus status={node.sync} />}
        {node.health?.status && <HealthStatus status={node.health.status} />}
        {node.health?.message && <span class="muted">{node.health.message}</span>}
      </p>
      {node.info.length > 0 && (
        <dl class="facts small">
          {node.info.map((i) => (
            <>
              <dt>{i.name}</dt>
              <dd>{i.value}</dd>
            </>
          ))}
        </dl>
      )}
      <div class="segmented" role="group" aria-label="Show">
        {tabs.map((t) => (
          <button key={t.id} type="button" class="button" aria-pressed={shown === t.id} onClick={() => setTab(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      {shown === "diff" &&
        (view ? <DiffView view={view} title={title} /> : <p class="muted">Loading the diff…</p>)}
      {shown === "live" &&
        (liveError ? (
          <ErrorMessage error={liveError} />
        ) : live === null ? (
          <p class="muted">Loading…</p>
        ) : live === "" ? (
          <p class="muted">This resource does not exist in the cluster yet.</p>
        ) : (
          <pre class="manifest" data-testid="live-manifest" tabIndex={0} aria-label={`Live manifest of ${title}`}>
            {live}
          </pre>
        ))}
      {shown === "desired" &&
        (view ? (
          view.desired ? (
            <pre class="manifest" tabIndex={0} aria-label={`Desired manifest of ${title}`}>
              {view.desired}
            </pre>
          ) : (
            <p class="muted">Not in Git: a sync with prune deletes it.</p>
          )
        ) : (
          <p class="muted">Loading…</p>
        ))}
      {shown === "events" && (
        <EventsView
          app={app}
          resource={{ name: node.name, namespace: node.namespace || undefined, uid: node.uid || undefined }}
          stamp={node.resourceVersion}
          label={`Events of ${title}`}
        />
      )}
      {shown === "logs" && <PodLogs app={app} node={node} containers={containers} />}
    </section>
  );
}

function SyncDialog({ app, onClose, onDone }: { app: Application; onClose: () => void; onDone: (text: string) => void }) {
  const resources = useMemo(() => syncable(app), [app.metadata.name]);
  const appOptions = app.spec.syncPolicy?.syncOptions ?? [];
  const [prune, setPrune] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [revision, setRevision] = useState("");
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set(resources.map(resourceKey)));
  const [options, setOptions] = useState<ReadonlySet<string>>(() => new Set(appOptions));
  const [prunePropagation, setPrunePropagation] = useState<(typeof PRUNE_POLICIES)[number]>("foreground");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const name = app.metadata.name;
  const revisions = [...new Set([...(app.status?.history ?? [])].reverse().map((h) => h.revision ?? "").filter(Boolean))];
  const toggleIn = (set: ReadonlySet<string>, value: string) => {
    const next = new Set(set);
    if (next.has(value)) next.delete(value);
    else next.add(value);
    return next;
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.sync(name, syncRequest(app, { revision, prune, dryRun, selected, options, prunePropagation }));
      const some = selected.size < resources.length ? ` of ${selected.size} resource${selected.size === 1 ? "" : "s"}` : "";
      onDone(`${dryRun ? "Dry-run sync" : "Sync"}${some} requested: progress below.`);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog id="sync" title={`Sync ${name}`} onClose={onClose}>
      <form onSubmit={submit} class="form sync-form">
        <label>
          Revision
          <input
            name="revision"
            list="sync-revisions"
            value={revision}
            placeholder={app.spec.source?.targetRevision || "HEAD"}
            aria-describedby="sync-revision-hint"
            onInput={(e) => setRevision(e.currentTarget.value)}
            autoComplete="off"
          />
        </label>
        <datalist id="sync-revisions">
          {revisions.map((r) => (
            <option key={r} value={r} />
          ))}
        </datalist>
        <p id="sync-revision-hint" class="muted hint">
          A branch, tag or commit; empty: the target revision ({app.spec.source?.targetRevision || "HEAD"}). Deployed revisions are suggested.
        </p>
        <label class="check">
          <input type="checkbox" name="prune" checked={prune} onChange={(e) => setPrune(e.currentTarget.checked)} />
          Prune: delete resources that are no longer in Git
        </label>
        <label class="check">
          <input type="checkbox" name="dryRun" checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
          Dry run: check everything, change nothing
        </label>
        <fieldset>
          <legend>Sync options</legend>
          {SYNC_OPTIONS.map(({ option, label }) => {
            const fixed = appOptions.includes(option);
            return (
              <label key={option} class="check">
                <input
                  type="checkbox"
                  checked={fixed || options.has(option)}
                  disabled={fixed}
                  onChange={() => setOptions(toggleIn(options, option))}
                />
                <span>
                  {label} <span class="muted mono">{option}</span>
                  {fixed && <span class="muted"> (set by the application)</span>}
                </span>
              </label>
            );
          })}
          <label>
            Prune propagation
            <select value={prunePropagation} onChange={(e) => setPrunePropagation(e.currentTarget.value as (typeof PRUNE_POLICIES)[number])}>
              {PRUNE_POLICIES.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        </fieldset>
        <fieldset class="sync-resources">
          <legend>
            Resources ({selected.size} of {resources.length} selected)
          </legend>
          <div class="sync-resource-actions">
            <button type="button" class="button" onClick={() => setSelected(new Set(resources.map(resourceKey)))}>
              All
            </button>
            <button type="button" class="button" onClick={() => setSelected(new Set())}>
              None
            </button>
            <button
              type="button"
              class="button"
              onClick={() => setSelected(new Set(resources.filter((r) => r.status === "OutOfSync").map(resourceKey)))}
            >
              Out of sync only
            </button>
          </div>
          <ul class="sync-resource-list">
            {resources.map((r) => {
              const key = resourceKey(r);
              return (
                <li key={key}>
                  <label class="check">
                    <input type="checkbox" checked={selected.has(key)} onChange={() => setSelected(toggleIn(selected, key))} />
                    <span>
                      {groupKind(r)} {r.namespace ? `${r.namespace}/` : ""}
                      {r.name}
                    </span>
                    <SyncStatus status={r.status} />
                    {r.requiresPruning && <span class="tag">prune</span>}
                  </label>
                </li>
              );
            })}
          </ul>
        </fieldset>
        <ErrorMessage error={error} />
        <div class="dialog-actions">
          <button type="submit" class="button primary" disabled={busy || (resources.length > 0 && selected.size === 0)}>
            {busy ? "Syncing…" : "Synchronize"}
          </button>
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function historyId(entry: RevisionHistory): number {
  return Number(entry.id ?? 0);
}

function HistoryDialog({
  app,
  automated,
  onClose,
  onDone,
}: {
  app: Application;
  automated: boolean;
  onClose: () => void;
  onDone: (text: string) => void;
}) {
  const [error, setError] = useState<unknown>(null);
  const [confirm, setConfirm] = useState<number | null>(null);
  const [prune, setPrune] = useState(false);
  const [busy, setBusy] = useState(false);
  const name = app.metadata.name;
  const history = [...(app.status?.history ?? [])].reverse();
  const current = app.status?.sync?.revision;
  const rollback = async (id: number) => {
    setBusy(true);
    setError(null);
    try {
      await api.rollback(name, id, prune);
      onDone(`Rollback to deployment ${id} requested.`);
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog id="history" title={`History of ${name}`} onClose={onClose}>
      {automated && <p class="notice">Auto-sync is on: ferry refuses a rollback until it is turned off.</p>}
      {history.length === 0 ? (
        <p>No deployments yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Deployments, newest first</caption>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Revision</th>
                <th scope="col">Deployed</th>
                <th scope="col">By</th>
                <th scope="col">
                  <span class="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {history.map((h) => {
                const id = historyId(h);
                return (
                  <tr key={id} data-history-id={id}>
                    <td>{id}</td>
                    <td class="mono" title={h.revision}>
                      {shortRevision(h.revision)}
                      {h.revision === current && <span class="tag">current</span>}
                    </td>
                    <td>{h.deployedAt ? <time dateTime={h.deployedAt}>{ago(h.deployedAt)}</time> : ""}</td>
                    <td>{h.initiatedBy?.automated ? "auto-sync" : h.initiatedBy?.username || ""}</td>
                    <td>
                      {confirm === id ? (
                        <span class="confirm">
                          <label class="check">
                            <input type="checkbox" checked={prune} onChange={(e) => setPrune(e.currentTarget.checked)} />
                            Prune
                          </label>
                          <button type="button" class="button danger" disabled={busy} onClick={() => rollback(id)}>
                            Confirm rollback to {id}
                          </button>
                        </span>
                      ) : (
                        <button type="button" class="button" onClick={() => setConfirm(id)} aria-label={`Rollback to deployment ${id}`}>
                          Rollback
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ErrorMessage error={error} />
      <div class="dialog-actions">
        <button type="button" class="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

function DeleteDialog({ app, onClose }: { app: Application; onClose: () => void }) {
  const name = app.metadata.name;
  const [mode, setMode] = useState<"foreground" | "background" | "orphan">("foreground");
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.deleteApp(name, mode !== "orphan", mode === "background" ? "background" : "foreground");
      onClose();
      navigate("/applications");
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog id="delete" title={`Delete ${name}`} onClose={onClose}>
      <form onSubmit={submit} class="form">
        <fieldset>
          <legend>What happens to its resources in the cluster</legend>
          <label class="check">
            <input type="radio" name="cascade" checked={mode === "foreground"} onChange={() => setMode("foreground")} />
            Delete them too, then the application (foreground)
          </label>
          <label class="check">
            <input type="radio" name="cascade" checked={mode === "background"} onChange={() => setMode("background")} />
            Delete them too, in the background
          </label>
          <label class="check">
            <input type="radio" name="cascade" checked={mode === "orphan"} onChange={() => setMode("orphan")} />
            Keep them (non-cascading delete)
          </label>
        </fieldset>
        <label>
          Type the application's name, {name}, to confirm
          <input name="confirm" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoComplete="off" />
        </label>
        <ErrorMessage error={error} />
        <div class="dialog-actions">
          <button type="submit" class="button danger" disabled={busy || typed !== name}>
            Delete
          </button>
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
