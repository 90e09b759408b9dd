// The "New application" form: its fields and the Application the API is sent. The server checks
// everything again (names, project rules, that the repository and path exist); the browser only
// catches what it can say better before a round trip.

import { IN_CLUSTER, type Application } from "../types";

export { IN_CLUSTER };

export interface NewAppForm {
  name: string;
  project: string;
  repoURL: string;
  targetRevision: string;
  path: string;
  server: string;
  namespace: string;
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
}

export const EMPTY_NEW_APP: NewAppForm = {
  name: "",
  project: "default",
  repoURL: "",
  targetRevision: "HEAD",
  path: "",
  server: IN_CLUSTER,
  namespace: "",
  automated: false,
  prune: false,
  selfHeal: false,
  createNamespace: false,
};

/** Kubernetes object names (DNS-1123 subdomain), as the API server will require. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What is wrong with the form, field by field; empty when it can be sent. */
export function newAppProblems(form: NewAppForm): Partial<Record<keyof NewAppForm, string>> {
  const problems: Partial<Record<keyof NewAppForm, string>> = {};
  const name = form.name.trim();
  if (!name) problems.name = "A name is required.";
  else if (name.length > 253 || !NAME.test(name)) problems.name = "Lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.";
  if (!form.repoURL.trim()) problems.repoURL = "A repository URL is required.";
  if (!form.server.trim()) problems.server = "A destination cluster is required.";
  if (form.path.trim().startsWith("/") || form.path.split("/").includes("..")) problems.path = "A path inside the repository: no leading '/', no '..'.";
  return problems;
}

/** The Application to create: trimmed values, sync policy only when automated or an option is set. */
export function newApplication(form: NewAppForm): Application {
  const syncPolicy: NonNullable<Application["spec"]["syncPolicy"]> = {};
  if (form.automated) syncPolicy.automated = { prune: form.prune, selfHeal: form.selfHeal };
  if (form.createNamespace) syncPolicy.syncOptions = ["CreateNamespace=true"];
  return {
    metadata: { name: form.name.trim() },
    spec: {
      project: form.project || "default",
      source: { repoURL: form.repoURL.trim(), targetRevision: form.targetRevision.trim() || "HEAD", path: form.path.trim().replace(/\/+$/, "") || "." },
      destination: { server: form.server.trim(), namespace: form.namespace.trim() || undefined },
      ...(Object.keys(syncPolicy).length ? { syncPolicy } : {}),
    },
  };
}
