import { describe, expect, it } from "vitest";

import type { Application } from "../types";
import { facetCounts, filterApps, filtersToQuery, isEmpty, parseFilters, serverQuery, serverQueryString, toggle, EMPTY_FILTERS } from "./filters";

function app(name: string, project: string | undefined, sync: string | undefined, health: string | undefined, repo = "https://git.example.com/apps.git", ns = name): Application {
  return {
    metadata: { name, labels: { team: name.startsWith("web") ? "web" : "data" } },
    spec: { project, source: { repoURL: repo, path: name }, destination: { server: "https://kubernetes.default.svc", namespace: ns } },
    status: { sync: sync ? { status: sync } : undefined, health: health ? { status: health } : undefined },
  };
}

const apps = [
  app("web-front", "default", "Synced", "Healthy"),
  app("web-api", "web", "OutOfSync", "Degraded"),
  app("db", "data", "Synced", "Progressing", "https://git.example.com/db.git", "storage"),
  app("new", undefined, undefined, undefined),
];
const names = (list: Application[]) => list.map((a) => a.metadata.name);

describe("filterApps", () => {
  it("keeps everything without filters, sorted by name", () => {
    expect(names(filterApps(apps, EMPTY_FILTERS))).toEqual(["db", "new", "web-api", "web-front"]);
  });

  it("filters by project (an empty project is default), sync and health; values within a facet are alternatives", () => {
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, projects: ["default"] }))).toEqual(["new", "web-front"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, sync: ["OutOfSync", "Unknown"] }))).toEqual(["new", "web-api"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, health: ["Healthy", "Degraded"] }))).toEqual(["web-api", "web-front"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, sync: ["Synced"], health: ["Progressing"] }))).toEqual(["db"]);
  });

  it("filters by destination cluster: its name, in-cluster, or its server", () => {
    const remote: Application = { ...app("far", "default", "Synced", "Healthy"), spec: { destination: { server: "https://10.0.0.1:6443", namespace: "x" } } };
    const named: Application = { ...app("named", "default", "Synced", "Healthy"), spec: { destination: { name: "prod", namespace: "x" } } };
    const all = [...apps, remote, named];
    expect(names(filterApps(all, { ...EMPTY_FILTERS, clusters: ["https://10.0.0.1:6443", "prod"] }))).toEqual(["far", "named"]);
    expect(filterApps(all, { ...EMPTY_FILTERS, clusters: ["in-cluster"] })).toHaveLength(4);
    expect([...facetCounts(all).clusters]).toEqual([
      ["https://10.0.0.1:6443", 1],
      ["in-cluster", 4],
      ["prod", 1],
    ]);
  });

  it("searches name, repository, namespace and labels; every term must match, case-insensitive", () => {
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "WEB" }))).toEqual(["web-api", "web-front"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "db.git" }))).toEqual(["db"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "storage" }))).toEqual(["db"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "team=data" }))).toEqual(["db", "new"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "web api" }))).toEqual(["web-api"]);
    expect(names(filterApps(apps, { ...EMPTY_FILTERS, search: "nothing-like-this" }))).toEqual([]);
  });
});

describe("facets and the query string", () => {
  it("counts each facet, listing known statuses at zero", () => {
    const counts = facetCounts(apps);
    expect([...counts.projects]).toEqual([
      ["data", 1],
      ["default", 2],
      ["web", 1],
    ]);
    expect(counts.sync.get("Synced")).toBe(2);
    expect(counts.sync.get("Unknown")).toBe(1);
    expect(counts.health.get("Suspended")).toBe(0);
  });

  it("round-trips filters through the URL", () => {
    const filters = { search: "web", labels: "team=web,tier!=db", projects: ["default", "web"], clusters: ["in-cluster"], sync: ["OutOfSync"], health: [] };
    const query = filtersToQuery(filters);
    expect(query).toBe("?search=web&labels=team%3Dweb%2Ctier%21%3Ddb&project=default&project=web&cluster=in-cluster&sync=OutOfSync");
    expect(parseFilters(query)).toEqual(filters);
    expect(parseFilters("?health=Healthy,Degraded").health).toEqual(["Healthy", "Degraded"]);
    expect(filtersToQuery(EMPTY_FILTERS)).toBe("");
    expect(isEmpty(parseFilters(""))).toBe(true);
    expect(isEmpty(parseFilters("?sync=Synced"))).toBe(false);
    expect(isEmpty(parseFilters("?labels=team%3Dweb"))).toBe(false);
  });

  it("lists known projects: at zero, or without a count when the server filtered by project", () => {
    expect([...facetCounts(apps, ["ops"]).projects.entries()].find(([p]) => p === "ops")).toEqual(["ops", 0]);
    expect(facetCounts(apps, ["ops"], true).projects.get("ops")).toBeUndefined();
    expect(facetCounts(apps, ["web"], true).projects.get("web")).toBe(1);
  });

  it("projects and labels go to the server, in a stable order", () => {
    const query = serverQuery({ ...EMPTY_FILTERS, projects: ["web", "data"], labels: " team=web ", sync: ["Synced"] });
    expect(query).toEqual({ projects: ["data", "web"], selector: "team=web" });
    expect(serverQueryString(query)).toBe("projects=data&projects=web&selector=team%3Dweb");
    expect(serverQueryString(serverQuery(EMPTY_FILTERS))).toBe("");
  });

  it("toggles a value in a facet", () => {
    expect(toggle(["a"], "b")).toEqual(["a", "b"]);
    expect(toggle(["a", "b"], "a")).toEqual(["b"]);
  });
});
