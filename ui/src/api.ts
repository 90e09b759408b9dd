// The REST/JSON API of ferry-server, same origin. The session is the HttpOnly cookie ferry.token
// set by POST /api/v1/session; requests that change state echo the ferry.csrf cookie in
// X-Ferry-CSRF (double-submit). Streams are newline-delimited JSON ({"result": ...} per line).

import type { SyncRequestBody } from "./lib/operation";
import { reconnectDelay, splitNdjson } from "./lib/watch";
import type {
  AppProject,
  Application,
  ApplicationList,
  ApplicationTree,
  Cluster,
  EventList,
  Repository,
  RevisionMetadata,
  ResourceDiff,
  ResourceRef,
  Settings,
  UserInfo,
  WatchEvent,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 0,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Listener = () => void;
const unauthenticatedListeners = new Set<Listener>();

/** Called when any request answers 401 (session expired or revoked): the app shows the login page. */
export function onUnauthenticated(listener: Listener): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

export function csrfToken(cookies: string = typeof document === "undefined" ? "" : document.cookie): string {
  for (const part of cookies.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "ferry.csrf") return decodeURIComponent(value.join("="));
  }
  return "";
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const text = params.toString();
  if (!text) return path;
  return `${path}${path.includes("?") ? "&" : "?"}${text}`;
}

function headers(method: string, body: unknown): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) h["X-Ferry-CSRF"] = csrfToken();
  return h;
}

async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let code = 0;
  try {
    const body = (await response.json()) as { message?: string; error?: string; code?: number };
    message = body.message || body.error || message;
    code = body.code ?? 0;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message, code);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: headers(method, body),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    const err = await errorOf(response);
    if (response.status === 401 && path !== "/api/v1/session") unauthenticatedListeners.forEach((l) => l());
    throw err;
  }
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

const enc = encodeURIComponent;

/** A cluster to register: credentials go in, and are never returned. */
export interface ClusterInput {
  server: string;
  name?: string;
  namespaces?: string[];
  config?: { bearerToken?: string; tlsClientConfig?: { insecure?: boolean; caData?: string } };
}

export const api = {
  login: (username: string, password: string) => request<{ token: string }>("POST", "/api/v1/session", { username, password }),
  logout: () => request<unknown>("DELETE", "/api/v1/session"),
  settings: () => request<Settings>("GET", "/api/v1/settings"),
  userInfo: () => request<UserInfo>("GET", "/api/v1/session/userinfo"),
  version: () => request<{ Version?: string; version?: string }>("GET", "/api/version"),

  /** One page of the list: `query` is serverQueryString's (projects, selector). */
  listApps: (query = "", page: { limit?: number; continue?: string } = {}, signal?: AbortSignal) =>
    request<ApplicationList>("GET", withQuery(`/api/v1/applications${query ? `?${query}` : ""}`, page), undefined, signal),
  getApp: (name: string, refresh?: "normal" | "hard") =>
    request<Application>("GET", withQuery(`/api/v1/applications/${enc(name)}`, { refresh })),
  resourceTree: (name: string) => request<ApplicationTree>("GET", `/api/v1/applications/${enc(name)}/resource-tree`),
  managedResources: (name: string) =>
    request<{ items?: ResourceDiff[] }>("GET", `/api/v1/applications/${enc(name)}/managed-resources`),
  liveResource: (name: string, ref: ResourceRef) =>
    request<{ manifest?: string }>(
      "GET",
      withQuery(`/api/v1/applications/${enc(name)}/resource`, {
        namespace: ref.namespace,
        resourceName: ref.name,
        version: ref.version,
        group: ref.group,
        kind: ref.kind,
      }),
    ),
  sync: (name: string, body: SyncRequestBody) => request<Application>("POST", `/api/v1/applications/${enc(name)}/sync`, body),
  rollback: (name: string, id: number, prune = false) =>
    request<Application>("POST", `/api/v1/applications/${enc(name)}/rollback`, { id, prune }),
  terminate: (name: string) => request<unknown>("DELETE", `/api/v1/applications/${enc(name)}/operation`),
  deleteApp: (name: string, cascade: boolean, propagationPolicy: "foreground" | "background" = "foreground") =>
    request<unknown>(
      "DELETE",
      withQuery(`/api/v1/applications/${enc(name)}`, {
        cascade,
        propagationPolicy: cascade ? propagationPolicy : undefined,
      }),
    ),

  createApp: (app: Application) => request<Application>("POST", "/api/v1/applications", app),
  listRepos: () => request<{ items?: Repository[] }>("GET", "/api/v1/repositories"),
  createRepo: (repo: Repository & { username?: string; password?: string }) =>
    request<Repository>("POST", "/api/v1/repositories", repo),
  deleteRepo: (url: string) => request<unknown>("DELETE", `/api/v1/repositories/${enc(url)}`),
  listClusters: () => request<{ items?: Cluster[] }>("GET", "/api/v1/clusters"),
  createCluster: (cluster: ClusterInput) => request<Cluster>("POST", "/api/v1/clusters", cluster),
  deleteCluster: (server: string) => request<unknown>("DELETE", `/api/v1/clusters/${enc(server)}`),
  listProjects: () => request<{ items?: AppProject[] }>("GET", "/api/v1/projects"),
  createProject: (project: AppProject) => request<AppProject>("POST", "/api/v1/projects", { project }),
  deleteProject: (name: string) => request<unknown>("DELETE", `/api/v1/projects/${enc(name)}`),

  /** Author, date and message of a commit of the application's repository. */
  revisionMetadata: (name: string, revision: string) =>
    request<RevisionMetadata>("GET", `/api/v1/applications/${enc(name)}/revisions/${enc(revision)}/metadata`),

  /** Events of the application itself, or of one of its resources (by name, namespace and uid). */
  events: (name: string, resource?: { name: string; namespace?: string; uid?: string }) =>
    request<EventList>(
      "GET",
      withQuery(`/api/v1/applications/${enc(name)}/events`, {
        resourceName: resource?.name,
        resourceNamespace: resource?.namespace,
        resourceUid: resource?.uid,
      }),
    ),
};

/**
 * Reads a server stream of the REST gateway (newline-delimited JSON, `{"result": ...}` per line,
 * a last `{"error": ...}` line when it fails after it started). `onOpen` runs once the server
 * answered (it sends its headers at once, even before a first item); resolves when the stream
 * ends, rejects with an ApiError (401 also tells the app the session is gone).
 */
export async function readStream<T>(
  path: string,
  onItem: (item: T) => void,
  { signal, onOpen }: { signal?: AbortSignal; onOpen?: () => void } = {},
): Promise<void> {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/x-ndjson" },
    signal,
  });
  if (!response.ok || !response.body) {
    const err = await errorOf(response);
    if (response.status === 401) unauthenticatedListeners.forEach((l) => l());
    throw err;
  }
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const split = splitNdjson(rest, value);
    rest = split.rest;
    for (const line of split.lines) {
      const parsed = JSON.parse(line) as { result?: T; error?: { message?: string; code?: number } };
      if (parsed.error) throw new ApiError(500, parsed.error.message ?? "stream error", parsed.error.code);
      if (parsed.result !== undefined) onItem(parsed.result);
    }
  }
}

export type StreamState = "connecting" | "live" | "reconnecting";

export interface WatchHandlers {
  /** Called before each (re)connection's events with a fresh list, so deletions missed while away are seen. */
  onSnapshot: (list: ApplicationList) => void;
  onEvent: (event: WatchEvent) => void;
  onState?: (state: StreamState, error?: ApiError) => void;
}

/**
 * Lists, then follows /api/v1/stream/applications; reconnects with backoff when the stream ends
 * or fails (the server restarts, a proxy times out). Returns a function that stops it.
 */
export function watchApplications(handlers: WatchHandlers, name?: string): () => void {
  const controller = new AbortController();
  let attempt = 0;
  const run = async () => {
    while (!controller.signal.aborted) {
      handlers.onState?.(attempt ? "reconnecting" : "connecting");
      try {
        if (name) {
          const app = await request<Application>("GET", `/api/v1/applications/${enc(name)}`, undefined, controller.signal);
          handlers.onSnapshot({ items: [app] });
        } else {
          handlers.onSnapshot(await api.listApps("", {}, controller.signal));
        }
        await readStream<WatchEvent>(withQuery("/api/v1/stream/applications", { name }), handlers.onEvent, {
          signal: controller.signal,
          onOpen: () => {
            handlers.onState?.("live");
            attempt = 0;
          },
        });
      } catch (err) {
        if (controller.signal.aborted) return;
        const apiErr = err instanceof ApiError ? err : new ApiError(0, String(err));
        if (apiErr.status === 401) {
          unauthenticatedListeners.forEach((l) => l());
          return;
        }
        if (apiErr.status === 404 || apiErr.status === 403) {
          handlers.onState?.("reconnecting", apiErr);
          return;
        }
        handlers.onState?.("reconnecting", apiErr);
      }
      await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt++)));
    }
  };
  void run();
  return () => controller.abort();
}

/** Apps per page when listing them all (the server's own default and at most 2,000). */
export const LIST_PAGE = 500;

export interface ListWatchHandlers {
  /** Every app matching the query, once per (re)connection, after all its pages arrived. */
  onSnapshot: (items: Application[]) => void;
  /** Events since the snapshot's resourceVersion, in order (those during the listing first). */
  onEvents: (events: WatchEvent[]) => void;
  /** Apps received so far and how many the server says remain, while the pages arrive. */
  onProgress?: (loaded: number, remaining: number) => void;
  onState?: (state: StreamState, error?: ApiError) => void;
}

/**
 * The applications matching `query` (serverQueryString: projects, selector — the server filters),
 * kept current: a one-item List gives a resourceVersion, the Watch resumes from it (so it does not
 * send every app again), then the List is read page by page (LIST_PAGE apps, `continue`); events
 * that arrive meanwhile are applied after the pages. Reconnects with backoff and starts over, so
 * apps deleted while away disappear. Returns a function that stops it.
 */
export function watchApplicationList(query: string, handlers: ListWatchHandlers): () => void {
  const controller = new AbortController();
  const signal = controller.signal;
  let attempt = 0;
  const run = async () => {
    while (!signal.aborted) {
      handlers.onState?.(attempt ? "reconnecting" : "connecting");
      try {
        const head = await api.listApps(query, { limit: 1 }, signal);
        const resourceVersion = head.metadata?.resourceVersion || undefined;
        let buffer: WatchEvent[] | null = [];
        let opened: () => void = () => undefined;
        const open = new Promise<void>((resolve) => (opened = resolve));
        const stream = readStream<WatchEvent>(
          withQuery(`/api/v1/stream/applications${query ? `?${query}` : ""}`, { resourceVersion }),
          (event) => (buffer ? buffer.push(event) : handlers.onEvents([event])),
          { signal, onOpen: () => opened() },
        );
        stream.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
        await Promise.race([open, stream]);
        const items: Application[] = [];
        let next = "";
        do {
          const page = await api.listApps(query, { limit: LIST_PAGE, continue: next || undefined }, signal);
          items.push(...(page.items ?? []));
          next = page.metadata?.continue ?? "";
          handlers.onProgress?.(items.length, Number(page.metadata?.remainingItemCount ?? 0));
        } while (next);
        handlers.onSnapshot(items);
        const missed = buffer;
        buffer = null;
        if (missed.length) handlers.onEvents(missed);
        handlers.onState?.("live");
        attempt = 0;
        await stream;
      } catch (err) {
        if (signal.aborted) return;
        const apiErr = err instanceof ApiError ? err : new ApiError(0, String(err));
        if (apiErr.status === 401) return;
        handlers.onState?.("reconnecting", apiErr);
        if (apiErr.status === 400) return; // a bad selector: retrying will not help
      }
      await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt++)));
    }
  };
  void run();
  return () => controller.abort();
}
