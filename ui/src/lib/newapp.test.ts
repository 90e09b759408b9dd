import { describe, expect, it } from "vitest";

import { EMPTY_NEW_APP, IN_CLUSTER, newAppProblems, newApplication } from "./newapp";

const filled = { ...EMPTY_NEW_APP, name: " guestbook ", repoURL: " https://git.example.com/apps.git ", path: "guestbook/", namespace: "web" };

describe("newAppProblems", () => {
  it("asks for a name, a repository and a cluster", () => {
    expect(newAppProblems({ ...EMPTY_NEW_APP, server: "" })).toEqual({
      name: "A name is required.",
      repoURL: "A repository URL is required.",
      server: "A destination cluster is required.",
    });
    expect(newAppProblems(filled)).toEqual({});
  });
  it("refuses names the API server would refuse", () => {
    for (const name of ["Guestbook", "guest_book", "-web", "web-", "a".repeat(254)]) {
      expect(newAppProblems({ ...filled, name }).name).toMatch(/Lower-case/);
    }
    expect(newAppProblems({ ...filled, name: "web.team-1" }).name).toBeUndefined();
  });
  it("keeps the path inside the repository", () => {
    expect(newAppProblems({ ...filled, path: "/etc" }).path).toBeDefined();
    expect(newAppProblems({ ...filled, path: "apps/../../x" }).path).toBeDefined();
  });
});

describe("newApplication", () => {
  it("sends trimmed values, the repository root as '.', no sync policy for a manual app", () => {
    expect(newApplication({ ...filled, path: "" })).toEqual({
      metadata: { name: "guestbook" },
      spec: {
        project: "default",
        source: { repoURL: "https://git.example.com/apps.git", targetRevision: "HEAD", path: "." },
        destination: { server: IN_CLUSTER, namespace: "web" },
      },
    });
  });
  it("drops a trailing slash of the path", () => {
    expect(newApplication(filled).spec.source?.path).toBe("guestbook");
  });
  it("automated sync with prune and self-heal, and CreateNamespace", () => {
    const app = newApplication({ ...filled, automated: true, prune: true, selfHeal: false, createNamespace: true });
    expect(app.spec.syncPolicy).toEqual({ automated: { prune: true, selfHeal: false }, syncOptions: ["CreateNamespace=true"] });
  });
  it("prune and self-heal mean nothing without automated sync", () => {
    expect(newApplication({ ...filled, prune: true, selfHeal: true }).spec.syncPolicy).toBeUndefined();
  });
});
