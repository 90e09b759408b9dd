import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

import { api } from "../api";
import { Dialog, ErrorMessage } from "../components/Dialog";
import { Icon } from "../components/Status";
import { IN_CLUSTER, type AppProject, type Cluster, type Repository } from "../types";

function useLoad<T>(load: () => Promise<T>): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let cancelled = false;
    load()
      .then((d) => !cancelled && (setData(d), setError(null)))
      .catch((e) => !cancelled && setError(e));
    return () => {
      cancelled = true;
    };
  }, [tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

function Connection({ status, message }: { status?: string; message?: string }) {
  if (!status) return <span class="muted">—</span>;
  const ok = status === "Successful";
  return (
    <span class={`status tone-${ok ? "ok" : "bad"}`} title={message}>
      <Icon look={{ icon: ok ? "check" : "cross", tone: ok ? "ok" : "bad" }} />
      <span class="status-word">{status}</span>
    </span>
  );
}

/** "Remove …?" with the server's refusal shown in place (a project or cluster still in use). */
function RemoveDialog({ what, name, remove, onClose, onRemoved }: { what: string; name: string; remove: () => Promise<unknown>; onClose: () => void; onRemoved: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await remove();
      onRemoved();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog id="remove" title={`Remove ${what}`} onClose={onClose}>
      <p>
        Remove the {what} <strong class="mono wrap">{name}</strong>?
      </p>
      <ErrorMessage error={error} />
      <div class="dialog-actions">
        <button type="button" class="button danger" disabled={busy} onClick={confirm}>
          Remove
        </button>
        <button type="button" class="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

function RemoveButton({ what, name, onClick }: { what: string; name: string; onClick: () => void }) {
  return (
    <button type="button" class="button small" aria-label={`Remove ${what} ${name}`} onClick={onClick}>
      Remove
    </button>
  );
}

/**
 * An "Add …" form: its fields, an input handler per field, and a submit that sends them, shows the
 * server's refusal in place and calls onAdded once the server took them.
 */
function useAddForm<F extends Record<string, string | boolean>>(initial: F, send: (form: F) => Promise<unknown>, onAdded: () => void) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof F) => (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    setForm({ ...form, [key]: input.type === "checkbox" ? input.checked : input.value });
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await send(form);
      onAdded();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return { form, set, submit, error, busy };
}

/** The end of an "Add …" form: the server's refusal, if any, and the submit button. */
function FormEnd({ error, busy, label, busyLabel }: { error: unknown; busy: boolean; label: string; busyLabel: string }) {
  return (
    <>
      <ErrorMessage error={error} />
      <button type="submit" class="button primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </>
  );
}

/** One entry per line (or comma), trimmed, empty ones dropped. */
function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);
}

export function SettingsPage() {
  return (
    <div class="page settings-page">
      <h1>Settings</h1>
      <Repositories />
      <Clusters />
      <Projects />
    </div>
  );
}

/**
 * One settings panel: its list from the API, an "Add …" form that opens above it, one table row per
 * item with a Remove button (where the item may be removed) and the confirmation it opens.
 */
function Panel<T>(props: {
  id: string;
  title: string;
  what: string;
  addLabel: string;
  load: () => Promise<{ items?: T[] }>;
  Add: (p: { onAdded: () => void }) => JSX.Element;
  columns: string[];
  keyOf: (item: T) => string;
  /** The row's data attribute naming the item (data-repo="…"), for tests and styles. */
  rowAttribute: string;
  cells: (item: T) => ComponentChildren;
  removable?: (item: T) => boolean;
  remove: (key: string) => Promise<unknown>;
  testId?: string;
}) {
  const { id, what, Add, keyOf } = props;
  const list = useLoad(props.load);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const items = list.data?.items ?? [];
  return (
    <section aria-labelledby={`${id}-title`} class="panel">
      <div class="panel-head">
        <h2 id={`${id}-title`}>{props.title}</h2>
        <button type="button" class="button" aria-expanded={adding} aria-controls={`add-${id}`} onClick={() => setAdding(!adding)}>
          {adding ? "Cancel" : props.addLabel}
        </button>
      </div>
      {adding && (
        <Add
          onAdded={() => {
            setAdding(false);
            list.reload();
          }}
        />
      )}
      <ErrorMessage error={list.error} />
      {list.data && (
        <div class="table-wrap">
          <table class="table" data-testid={props.testId}>
            <caption class="visually-hidden">{props.title}</caption>
            <thead>
              <tr>
                {props.columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={keyOf(item)} {...{ [props.rowAttribute]: keyOf(item) }}>
                  {props.cells(item)}
                  <td>{(props.removable?.(item) ?? true) && <RemoveButton what={what} name={keyOf(item)} onClick={() => setRemoving(keyOf(item))} />}</td>
                </tr>
              ))}
              {items.length === 0 && (
                <tr>
                  <td colSpan={props.columns.length + 1} class="muted">
                    No {props.title.toLowerCase()}.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {removing !== null && (
        <RemoveDialog what={what} name={removing} remove={() => props.remove(removing)} onClose={() => setRemoving(null)} onRemoved={list.reload} />
      )}
    </section>
  );
}

function Repositories() {
  return (
    <Panel<Repository>
      id="repo"
      title="Repositories"
      what="repository"
      addLabel="Add repository"
      load={api.listRepos}
      Add={AddRepository}
      columns={["Type", "Name", "Repository", "Credentials", "Project", "Connection"]}
      keyOf={(r) => r.repo}
      rowAttribute="data-repo"
      testId="repositories"
      cells={(r) => (
        <>
          <td>{r.type || "git"}</td>
          <td>{r.name}</td>
          <td class="mono wrap">{r.repo}</td>
          <td>{r.hasCredentials ? "yes" : "no"}</td>
          <td>{r.project}</td>
          <td>
            <Connection {...(r.connectionState ?? {})} />
          </td>
        </>
      )}
      remove={api.deleteRepo}
    />
  );
}

function Clusters() {
  return (
    <Panel<Cluster>
      id="cluster"
      title="Clusters"
      what="cluster"
      addLabel="Add cluster"
      load={api.listClusters}
      Add={AddCluster}
      columns={["Name", "Server", "Version", "Applications", "Connection"]}
      keyOf={(c) => c.server}
      rowAttribute="data-cluster"
      cells={(c) => (
        <>
          <td>{c.name}</td>
          <td class="mono wrap">{c.server}</td>
          <td>{c.info?.serverVersion}</td>
          <td>{String(c.info?.applicationsCount ?? 0)}</td>
          <td>
            <Connection {...(c.info?.connectionState ?? {})} />
          </td>
        </>
      )}
      // the cluster ferry runs in is always registered
      removable={(c) => c.server !== IN_CLUSTER}
      remove={api.deleteCluster}
    />
  );
}

function Projects() {
  return (
    <Panel<AppProject>
      id="project"
      title="Projects"
      what="project"
      addLabel="Add project"
      load={api.listProjects}
      Add={AddProject}
      columns={["Name", "Description", "Source repositories", "Destinations"]}
      keyOf={(p) => p.metadata.name}
      rowAttribute="data-project"
      cells={(p) => (
        <>
          <td>{p.metadata.name}</td>
          <td>{p.spec?.description}</td>
          <td class="mono wrap">{(p.spec?.sourceRepos ?? []).join(", ")}</td>
          <td class="mono wrap">{(p.spec?.destinations ?? []).map((d) => `${d.name || d.server || "*"}/${d.namespace || "*"}`).join(", ")}</td>
        </>
      )}
      removable={(p) => p.metadata.name !== "default"}
      remove={api.deleteProject}
    />
  );
}

function AddRepository({ onAdded }: { onAdded: () => void }) {
  const { form, set, submit, error, busy } = useAddForm(
    { repo: "", type: "git", name: "", username: "", password: "", project: "", insecure: false },
    (form) => {
      const body: Repository & { username?: string; password?: string } = { repo: form.repo.trim(), type: form.type };
      if (form.name) body.name = form.name;
      if (form.project) body.project = form.project;
      if (form.username) body.username = form.username;
      if (form.password) body.password = form.password;
      if (form.insecure) body.insecure = true;
      return api.createRepo(body);
    },
    onAdded,
  );
  return (
    <form id="add-repo" class="form add-repo" onSubmit={submit} aria-label="Add repository">
      <p class="muted">ferry tests the connection before it stores the repository. Credentials are never shown again.</p>
      <div class="grid">
        <label>
          Repository URL
          <input name="repo" required value={form.repo} onInput={set("repo")} placeholder="https://git.example.com/team/apps.git" />
        </label>
        <label>
          Type
          <select name="type" value={form.type} onChange={set("type")}>
            <option value="git">git</option>
            <option value="helm">helm</option>
          </select>
        </label>
        <label>
          Name (optional)
          <input name="name" value={form.name} onInput={set("name")} />
        </label>
        <label>
          Project (optional)
          <input name="project" value={form.project} onInput={set("project")} />
        </label>
        <label>
          Username (optional)
          <input name="username" autoComplete="off" value={form.username} onInput={set("username")} />
        </label>
        <label>
          Password or token (optional)
          <input name="password" type="password" autoComplete="new-password" value={form.password} onInput={set("password")} />
        </label>
      </div>
      <label class="check">
        <input type="checkbox" name="insecure" checked={form.insecure} onChange={set("insecure")} />
        Skip server certificate verification
      </label>
      <FormEnd error={error} busy={busy} label="Connect and add" busyLabel="Connecting…" />
    </form>
  );
}

function AddCluster({ onAdded }: { onAdded: () => void }) {
  const { form, set, submit, error, busy } = useAddForm(
    { server: "", name: "", token: "", ca: "", namespaces: "", insecure: false },
    (form) => {
      const tls: { insecure?: boolean; caData?: string } = {};
      if (form.insecure) tls.insecure = true;
      // The API takes the CA as base64 of its PEM, as a kubeconfig's certificate-authority-data.
      if (form.ca.trim()) tls.caData = btoa(form.ca.trim() + "\n");
      return api.createCluster({
        server: form.server.trim(),
        ...(form.name.trim() ? { name: form.name.trim() } : {}),
        ...(lines(form.namespaces).length ? { namespaces: lines(form.namespaces) } : {}),
        config: { ...(form.token ? { bearerToken: form.token } : {}), tlsClientConfig: tls },
      });
    },
    onAdded,
  );
  return (
    <form id="add-cluster" class="form add-repo" onSubmit={submit} aria-label="Add cluster">
      <p class="muted">A destination cluster and the credentials ferry uses there (a service account's token). Credentials are never shown again.</p>
      <div class="grid">
        <label>
          Server URL
          <input name="server" required value={form.server} onInput={set("server")} placeholder="https://cluster.example.com:6443" />
        </label>
        <label>
          Name (optional)
          <input name="name" value={form.name} onInput={set("name")} />
        </label>
        <label>
          Bearer token
          <input name="token" type="password" autoComplete="new-password" value={form.token} onInput={set("token")} />
        </label>
        <label>
          Namespaces (optional, comma-separated; all when empty)
          <input name="namespaces" value={form.namespaces} onInput={set("namespaces")} />
        </label>
      </div>
      <label>
        CA certificate (PEM, optional)
        <textarea name="ca" rows={3} value={form.ca} onInput={set("ca")} class="mono" />
      </label>
      <label class="check">
        <input type="checkbox" name="insecure" checked={form.insecure} onChange={set("insecure")} />
        Skip server certificate verification
      </label>
      <FormEnd error={error} busy={busy} label="Add cluster" busyLabel="Adding…" />
    </form>
  );
}

function AddProject({ onAdded }: { onAdded: () => void }) {
  const { form, set, submit, error, busy } = useAddForm(
    { name: "", description: "", repos: "*", destinations: `${IN_CLUSTER} *` },
    (form) => {
      const destinations = form.destinations
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((parts) => parts[0])
        .map(([server, namespace]) => ({ server, namespace: namespace || "*" }));
      return api.createProject({
        metadata: { name: form.name.trim() },
        spec: { description: form.description.trim() || undefined, sourceRepos: lines(form.repos), destinations },
      });
    },
    onAdded,
  );
  return (
    <form id="add-project" class="form add-repo" onSubmit={submit} aria-label="Add project">
      <div class="grid">
        <label>
          Project name
          <input name="name" required value={form.name} onInput={set("name")} />
        </label>
        <label>
          Description (optional)
          <input name="description" value={form.description} onInput={set("description")} />
        </label>
      </div>
      <label>
        Source repositories (one per line; * for any)
        <textarea name="repos" rows={2} value={form.repos} onInput={set("repos")} class="mono" />
      </label>
      <label>
        Destinations (one per line: server URL, then a namespace pattern)
        <textarea name="destinations" rows={2} value={form.destinations} onInput={set("destinations")} class="mono" />
      </label>
      <FormEnd error={error} busy={busy} label="Add project" busyLabel="Adding…" />
    </form>
  );
}
