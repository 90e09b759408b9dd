import { describe, expect, it } from "vitest";

import { diffLines, foldContext, manifestYaml, resourceDiff } from "./diff";

const text = (lines: string[]) => lines.join("\n") + "\n";

describe("diffLines", () => {
  it("finds a changed line with line numbers on both sides", () => {
    const out = diffLines(text(["a", "b", "c"]), text(["a", "B", "c"]));
    expect(out.map((l) => `${l.op}:${l.text}:${l.oldLine}:${l.newLine}`)).toEqual([
      "same:a:1:1",
      "del:b:2:0",
      "add:B:0:2",
      "same:c:3:3",
    ]);
  });

  it("handles insertions, deletions and empty sides", () => {
    expect(diffLines("", text(["x", "y"])).map((l) => l.op)).toEqual(["add", "add"]);
    expect(diffLines(text(["x", "y"]), "").map((l) => l.op)).toEqual(["del", "del"]);
    expect(diffLines("", "")).toEqual([]);
    const out = diffLines(text(["a", "c"]), text(["a", "b", "c", "d"]));
    expect(out.map((l) => l.op + l.text)).toEqual(["samea", "addb", "samec", "addd"]);
    expect(out[2]).toMatchObject({ oldLine: 2, newLine: 3 });
  });

  it("is minimal: unchanged lines between changes stay unchanged", () => {
    const a = text(["k: 1", "x: 1", "y: 1", "z: 1"]);
    const b = text(["k: 2", "x: 1", "y: 1", "z: 2"]);
    const out = diffLines(a, b);
    expect(out.filter((l) => l.op === "same").map((l) => l.text)).toEqual(["x: 1", "y: 1"]);
    expect(out.filter((l) => l.op !== "same")).toHaveLength(4);
  });

  it("gives numbers to the common suffix after a change of length", () => {
    const out = diffLines(text(["a", "b", "z"]), text(["a", "z"]));
    expect(out[out.length - 1]).toMatchObject({ op: "same", text: "z", oldLine: 3, newLine: 2 });
  });
});

describe("foldContext", () => {
  it("keeps context around changes and folds long unchanged runs", () => {
    const a = text(Array.from({ length: 20 }, (_, i) => `l${i}`));
    const b = a.replace("l10\n", "L10\n");
    const rows = foldContext(diffLines(a, b), 2);
    expect(rows[0]).toEqual({ op: "skip", count: 8 });
    expect(rows.slice(1, 7).map((r) => ("text" in r ? r.text : "skip"))).toEqual(["l8", "l9", "l10", "L10", "l11", "l12"]);
    expect(rows[7]).toEqual({ op: "skip", count: 7 });
  });

  it("folds an unchanged text into one skip row", () => {
    const a = text(["a", "b"]);
    expect(foldContext(diffLines(a, a))).toEqual([{ op: "skip", count: 2 }]);
  });
});

describe("resource diffs", () => {
  it("renders JSON manifests as YAML, keeping key order", () => {
    expect(manifestYaml('{"kind":"ConfigMap","data":{"b":"1","a":"x: y"}}')).toBe('kind: ConfigMap\ndata:\n  b: "1"\n  a: "x: y"\n');
    expect(manifestYaml("")).toBe("");
    expect(manifestYaml("null")).toBe("");
    expect(manifestYaml("not json")).toBe("not json");
  });

  it("diffs normalized live against predicted live state", () => {
    const view = resourceDiff({
      kind: "ConfigMap",
      name: "second",
      normalizedLiveState: JSON.stringify({ kind: "ConfigMap", data: { version: "v1" } }),
      predictedLiveState: JSON.stringify({ kind: "ConfigMap", data: { version: "v2" } }),
    });
    expect(view.changed).toBe(true);
    expect([view.added, view.removed]).toEqual([1, 1]);
    expect(view.lines.find((l) => l.op === "del")?.text).toBe("  version: v1");
    expect(view.lines.find((l) => l.op === "add")?.text).toBe("  version: v2");
  });

  it("shows a missing object as all added and an extra one as all removed", () => {
    const obj = JSON.stringify({ kind: "ConfigMap", metadata: { name: "x" } });
    const missing = resourceDiff({ kind: "ConfigMap", name: "x", targetState: obj, liveState: "" });
    expect(missing.removed).toBe(0);
    expect(missing.added).toBe(3);
    const extra = resourceDiff({ kind: "ConfigMap", name: "x", liveState: obj, normalizedLiveState: obj });
    expect([extra.added, extra.removed]).toEqual([0, 3]);
    const same = resourceDiff({ kind: "ConfigMap", name: "x", normalizedLiveState: obj, predictedLiveState: obj });
    expect(same.changed).toBe(false);
  });
});
