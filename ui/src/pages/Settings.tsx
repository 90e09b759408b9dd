import { useEffect, useState } from "preact/hooks";

import { api } from "../api";
import { ErrorMessage } from "../components/Dialog";
import { Icon } from "../components/Status";
import type { AppProject, Cluster, Repository } from "../types";

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

function Repositories() {
  const repos = useLoad(() => api.listRepos());
  const [adding, setAdding] = useState(false);
  return (
    <section aria-labelledby="repos-title" class="panel">
      <div class="panel-head">
        <h2 id="repos-title">Repositories</h2>
        <button type="button" class="button" aria-expanded={adding} aria-controls="add-repo" onClick={() => setAdding(!adding)}>
          {adding ? "Cancel" : "Add repository"}
        </button>
      </div>
      {adding && (
        <AddRepository
          onAdded={() => {
            setAdding(false);
            repos.reload();
          }}
        />
      )}
      <ErrorMessage error={repos.error} />
      {repos.data && (
        <div class="table-wrap">
          <table class="table" data-testid="repositories">
            <caption class="visually-hidden">Repositories</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Name</th>
                <th scope="col">Repository</th>
                <th scope="col">Credentials</th>
                <th scope="col">Project</th>
                <th scope="col">Connection</th>
              </tr>
            </thead>
            <tbody>
              {(repos.data.items ?? []).map((r) => (
                <tr key={r.repo} data-repo={r.repo}>
                  <td>{r.type || "git"}</td>
                  <td>{r.name}</td>
                  <td class="mono wrap">{r.repo}</td>
                  <td>{r.hasCredentials ? "yes" : "no"}</td>
                  <td>{r.project}</td>
                  <td>
                    <Connection {...(r.connectionState ?? {})} />
                  </td>
                </tr>
              ))}
              {(repos.data.items ?? []).length === 0 && (
                <tr>
                  <td colSpan={6} class="muted">
                    No repositories.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function AddRepository({ onAdded }: { onAdded: () => void }) {
  const [form, setForm] = useState({ repo: "", type: "git", name: "", username: "", password: "", project: "", insecure: false });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    setForm({ ...form, [key]: input.type === "checkbox" ? input.checked : input.value });
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Repository & { username?: string; password?: string } = { repo: form.repo.trim(), type: form.type };
      if (form.name) body.name = form.name;
      if (form.project) body.project = form.project;
      if (form.username) body.username = form.username;
      if (form.password) body.password = form.password;
      if (form.insecure) body.insecure = true;
      await api.createRepo(body);
      onAdded();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
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
      <ErrorMessage error={error} />
      <button type="submit" class="button primary" disabled={busy}>
        {busy ? "Connecting…" : "Connect and add"}
      </button>
    </form>
  );
}

function Clusters() {
  const clusters = useLoad(() => api.listClusters());
  return (
    <section aria-labelledby="clusters-title" class="panel">
      <h2 id="clusters-title">Clusters</h2>
      <ErrorMessage error={clusters.error} />
      {clusters.data && (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Clusters</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Server</th>
                <th scope="col">Version</th>
                <th scope="col">Applications</th>
                <th scope="col">Connection</th>
              </tr>
            </thead>
            <tbody>
              {(clusters.data.items ?? []).map((c: Cluster) => (
                <tr key={c.server}>
                  <td>{c.name}</td>
                  <td class="mono wrap">{c.server}</td>
                  <td>{c.info?.serverVersion}</td>
                  <td>{String(c.info?.applicationsCount ?? 0)}</td>
                  <td>
                    <Connection {...(c.info?.connectionState ?? {})} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Projects() {
  const projects = useLoad(() => api.listProjects());
  return (
    <section aria-labelledby="projects-title" class="panel">
      <h2 id="projects-title">Projects</h2>
      <ErrorMessage error={projects.error} />
      {projects.data && (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Projects</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Source repositories</th>
                <th scope="col">Destinations</th>
              </tr>
            </thead>
            <tbody>
              {(projects.data.items ?? []).map((p: AppProject) => (
                <tr key={p.metadata.name}>
                  <td>{p.metadata.name}</td>
                  <td>{p.spec?.description}</td>
                  <td class="mono wrap">{(p.spec?.sourceRepos ?? []).join(", ")}</td>
                  <td class="mono wrap">
                    {(p.spec?.destinations ?? []).map((d) => `${d.name || d.server || "*"}/${d.namespace || "*"}`).join(", ")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
