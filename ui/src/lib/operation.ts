// The sync dialog's choices as a SyncRequest, and a running operation's progress: which of the
// resources it targets have a result yet (from status.operationState, kept current by the watch).

import { resourceKey } from "./tree";
import type { Application, OperationState, ResourceResult, ResourceStatus } from "../types";

/** Sync options ferry's controller honours, as the dialog offers them (Key=Value). */
export const SYNC_OPTIONS: { option: string; label: string }[] = [
  { option: "CreateNamespace=true", label: "Create the destination namespace if it is missing" },
  { option: "PruneLast=true", label: "Prune last, after everything else is applied and healthy" },
  { option: "Replace=true", label: "Replace instead of apply" },
  { option: "RespectIgnoreDifferences=true", label: "Respect ignored differences when applying" },
  { option: "SkipDryRunOnMissingResource=true", label: "Skip the dry run for kinds the cluster does not know yet" },
  { option: "FailOnSharedResource=true", label: "Fail if a resource belongs to another application" },
];

export const PRUNE_POLICIES = ["foreground", "background", "orphan"] as const;

export interface SyncChoice {
  revision: string;
  prune: boolean;
  dryRun: boolean;
  /** Keys (resourceKey) of the resources to sync; every resource when it holds them all. */
  selected: ReadonlySet<string>;
  options: ReadonlySet<string>;
  prunePropagation: (typeof PRUNE_POLICIES)[number];
}

export interface SyncResourceRef {
  group: string;
  kind: string;
  name: string;
  namespace: string;
}

export interface SyncRequestBody {
  prune: boolean;
  dryRun: boolean;
  revision?: string;
  resources?: SyncResourceRef[];
  syncOptions?: { items: string[] };
}

/** Resources the dialog lists: the app's managed resources that are not hooks. */
export function syncable(app: Application): ResourceStatus[] {
  return (app.status?.resources ?? []).filter((r) => !r.hook);
}

/** The body of POST /api/v1/applications/NAME/sync for the dialog's choices. */
export function syncRequest(app: Application, choice: SyncChoice): SyncRequestBody {
  const body: SyncRequestBody = { prune: choice.prune, dryRun: choice.dryRun };
  if (choice.revision.trim()) body.revision = choice.revision.trim();
  const all = syncable(app);
  const chosen = all.filter((r) => choice.selected.has(resourceKey(r)));
  if (chosen.length < all.length) {
    body.resources = chosen.map((r) => ({ group: r.group ?? "", kind: r.kind, name: r.name, namespace: r.namespace ?? "" }));
  }
  const items = SYNC_OPTIONS.map((o) => o.option).filter((o) => choice.options.has(o));
  if (choice.prunePropagation !== "foreground") items.push(`PrunePropagationPolicy=${choice.prunePropagation}`);
  if (items.length) body.syncOptions = { items };
  return body;
}

export interface ProgressRow {
  key: string;
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  /** No result yet: the operation has not reached it. */
  pending: boolean;
  result?: ResourceResult;
}

function selectedBy(refs: { group?: string; kind: string; name: string; namespace?: string }[], r: ResourceStatus): boolean {
  return refs.some(
    (s) => (s.group ?? "") === (r.group ?? "") && s.kind === r.kind && s.name === r.name && (!s.namespace || s.namespace === (r.namespace ?? "")),
  );
}

/**
 * The rows of the operation's result table: every result so far, then — while it runs — the
 * resources it targets (the selected ones, or every managed one; resources to prune only with
 * prune) that have no result yet, as pending.
 */
export function operationRows(app: Application, op: OperationState | undefined = app.status?.operationState): ProgressRow[] {
  if (!op) return [];
  const results = op.syncResult?.resources ?? [];
  const rows: ProgressRow[] = results.map((r) => ({ key: resourceKey(r), group: r.group, kind: r.kind, namespace: r.namespace, name: r.name, pending: false, result: r }));
  if (op.phase !== "Running") return rows;
  const seen = new Set(rows.map((r) => r.key));
  const sync = op.operation?.sync;
  const selection = sync?.resources;
  for (const r of syncable(app)) {
    const key = resourceKey(r);
    if (seen.has(key)) continue;
    if (selection?.length ? !selectedBy(selection, r) : r.requiresPruning && !sync?.prune) continue;
    rows.push({ key, group: r.group, kind: r.kind, namespace: r.namespace, name: r.name, pending: true });
  }
  return rows;
}

/** "3 of 5 resources done" while running; done counts rows with a final result. */
export function progressOf(rows: ProgressRow[]): { done: number; total: number } {
  const finished = (row: ProgressRow) => !row.pending && !(row.result?.hookPhase === "Running" || row.result?.hookPhase === "Pending");
  return { done: rows.filter(finished).length, total: rows.length };
}
