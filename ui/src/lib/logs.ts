// Pod logs on the application page: which resources have logs (a Pod, or anything owning Pods:
// Deployment → ReplicaSet → Pod, Job → Pod), the REST request that streams them (PodLogs), the
// containers one can choose from the live object, and a bounded buffer of received lines.

import { withQuery } from "../api";
import type { TreeNode } from "./tree";

export interface LogOptions {
  container: string;
  /** Lines from the end to start with; 0: the whole log. */
  tail: number;
  follow: boolean;
  previous?: boolean;
}

export interface LogLine {
  /** Increasing number, a stable key for rendering. */
  seq: number;
  content: string;
  timeStamp: string;
  podName: string;
}

/** At most this many lines are kept in the page; older ones are dropped first. */
export const MAX_LOG_LINES = 5000;

export const TAIL_CHOICES = [100, 500, 1000, 0];

/** The Pods under a node (the node itself when it is one), in tree order. */
export function podsUnder(node: TreeNode): TreeNode[] {
  if (node.kind === "Pod" && !node.group) return [node];
  return node.children.flatMap(podsUnder);
}

/** Whether a node has logs to show: a live Pod, or a resource with Pods below it. */
export function hasLogs(node: TreeNode): boolean {
  if (node.missing) return false;
  return podsUnder(node).length > 0;
}

/**
 * The request that streams the logs: /pods/{pod}/logs for a Pod, else /logs naming the resource
 * (the server finds its Pods in the application's tree, and refuses resources that are not the
 * application's).
 */
export function logsPath(app: string, node: TreeNode, options: LogOptions): string {
  const common = {
    namespace: node.namespace || undefined,
    container: options.container || undefined,
    tailLines: options.tail > 0 ? options.tail : undefined,
    follow: options.follow || undefined,
    previous: options.previous || undefined,
  };
  const base = `/api/v1/applications/${encodeURIComponent(app)}`;
  if (node.kind === "Pod" && !node.group) return withQuery(`${base}/pods/${encodeURIComponent(node.name)}/logs`, common);
  return withQuery(`${base}/logs`, { ...common, kind: node.kind, group: node.group || undefined, resourceName: node.name });
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
}

function podSpec(live: Obj): Obj {
  const spec = obj(live.spec);
  switch (live.kind) {
    case "Pod":
      return spec;
    case "CronJob":
      return obj(obj(obj(obj(spec.jobTemplate).spec).template).spec);
    default:
      return obj(obj(spec.template).spec);
  }
}

/** Container names of a live Pod or workload (its pod template): init containers last. */
export function containersOf(live: unknown): string[] {
  const spec = podSpec(obj(live));
  const names = (list: unknown) =>
    (Array.isArray(list) ? list : []).map((c) => String(obj(c).name ?? "")).filter(Boolean);
  return [...names(spec.containers), ...names(spec.initContainers)];
}

/** The buffer with new lines appended, keeping the newest `max`. */
export function appendLines(lines: LogLine[], incoming: LogLine[], max = MAX_LOG_LINES): LogLine[] {
  if (!incoming.length) return lines;
  const all = lines.concat(incoming);
  return all.length > max ? all.slice(all.length - max) : all;
}

/** One line as shown: the pod's name first when several pods are shown, the time when asked. */
export function formatLine(line: LogLine, options: { pods: boolean; timestamps: boolean }): string {
  const parts: string[] = [];
  if (options.pods && line.podName) parts.push(line.podName);
  if (options.timestamps && line.timeStamp) parts.push(line.timeStamp);
  parts.push(line.content);
  return parts.join(" ");
}
