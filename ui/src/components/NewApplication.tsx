import { useEffect, useState } from "preact/hooks";

import { api } from "../api";
import { EMPTY_NEW_APP, newAppProblems, newApplication, type NewAppForm } from "../lib/newapp";
import { navigate } from "../router";
import { IN_CLUSTER, type Cluster } from "../types";
import { Dialog, ErrorMessage } from "./Dialog";

/** Choices the form offers: projects, registered repositories and clusters (best effort). */
function useChoices(): { projects: string[]; repos: string[]; clusters: Cluster[] } {
  const [projects, setProjects] = useState<string[]>(["default"]);
  const [repos, setRepos] = useState<string[]>([]);
  const [clusters, setClusters] = useState<Cluster[]>([{ server: IN_CLUSTER, name: "in-cluster" }]);
  useEffect(() => {
    api.listProjects().then((l) => setProjects((l.items ?? []).map((p) => p.metadata.name)), () => undefined);
    api.listRepos().then((l) => setRepos((l.items ?? []).map((r) => r.repo)), () => undefined);
    api.listClusters().then((l) => l.items?.length && setClusters(l.items), () => undefined);
  }, []);
  return { projects, repos, clusters };
}

/**
 * "New application": a Git directory (plain manifests, Kustomize, Helm or Jsonnet — the repo server
 * finds out) to a cluster and namespace, manual or automated sync. The server validates it against
 * the project and the repository before it stores it; its refusal is shown in place.
 */
export function NewApplicationDialog({ onClose }: { onClose: () => void }) {
  const { projects, repos, clusters } = useChoices();
  const [form, setForm] = useState<NewAppForm>(EMPTY_NEW_APP);
  const [tried, setTried] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problems = tried ? newAppProblems(form) : {};
  const set = (key: keyof NewAppForm) => (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    setForm({ ...form, [key]: input.type === "checkbox" ? input.checked : input.value });
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setTried(true);
    if (Object.keys(newAppProblems(form)).length) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.createApp(newApplication(form));
      onClose();
      navigate(`/applications/${encodeURIComponent(created.metadata.name)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const field = (key: keyof NewAppForm, label: string, extra: Record<string, unknown> = {}) => (
    <label>
      {label}
      <input
        name={key}
        value={form[key] as string}
        onInput={set(key)}
        aria-invalid={problems[key] ? true : undefined}
        aria-describedby={problems[key] ? `new-app-${key}-problem` : undefined}
        {...extra}
      />
      {problems[key] && (
        <span id={`new-app-${key}-problem`} class="field-problem">
          {problems[key]}
        </span>
      )}
    </label>
  );
  return (
    <Dialog id="new-app" title="New application" onClose={onClose}>
      <form class="form new-app-form" onSubmit={submit} noValidate>
        <div class="grid">
          {field("name", "Application name", { autoComplete: "off" })}
          <label>
            Project
            <select name="project" value={form.project} onChange={set("project")}>
              {projects.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset>
          <legend>Source</legend>
          {field("repoURL", "Repository URL", { list: "new-app-repos", placeholder: "https://git.example.com/team/apps.git" })}
          <datalist id="new-app-repos">
            {repos.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
          <div class="grid">
            {field("targetRevision", "Revision", { placeholder: "HEAD, a branch, tag or commit" })}
            {field("path", "Path in the repository", { placeholder: "apps/web" })}
          </div>
        </fieldset>
        <fieldset>
          <legend>Destination</legend>
          <div class="grid">
            <label>
              Cluster
              <select name="server" value={form.server} onChange={set("server")}>
                {clusters.map((c) => (
                  <option key={c.server} value={c.server}>
                    {c.name ? `${c.name} (${c.server})` : c.server}
                  </option>
                ))}
              </select>
            </label>
            {field("namespace", "Namespace")}
          </div>
        </fieldset>
        <fieldset>
          <legend>Sync policy</legend>
          <label class="check">
            <input type="checkbox" name="automated" checked={form.automated} onChange={set("automated")} />
            Automated sync (Git changes are applied without asking)
          </label>
          <label class="check">
            <input type="checkbox" name="prune" checked={form.prune} disabled={!form.automated} onChange={set("prune")} />
            Prune resources no longer in Git
          </label>
          <label class="check">
            <input type="checkbox" name="selfHeal" checked={form.selfHeal} disabled={!form.automated} onChange={set("selfHeal")} />
            Self-heal: undo changes made in the cluster
          </label>
          <label class="check">
            <input type="checkbox" name="createNamespace" checked={form.createNamespace} onChange={set("createNamespace")} />
            Create the namespace if it is missing
          </label>
        </fieldset>
        <ErrorMessage error={error} />
        <div class="dialog-actions">
          <button type="submit" class="button primary" disabled={busy}>
            {busy ? "Creating…" : "Create"}
          </button>
          <button type="button" class="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
