// Line diffs of manifests, rendered as YAML: the live object (normalized) against what ferry
// predicts it becomes after a sync, as `ferry app diff` shows them.

import { stringify } from "yaml";

import type { ResourceDiff } from "../types";

export type DiffOp = "same" | "add" | "del";

export interface DiffLine {
  op: DiffOp;
  text: string;
  /** 1-based line number in the old (live) text; 0 for added lines. */
  oldLine: number;
  /** 1-based line number in the new (desired) text; 0 for deleted lines. */
  newLine: number;
}

/** A JSON manifest (as the API sends them) as YAML; "" for an absent object. */
export function manifestYaml(json: string | undefined | null): string {
  if (!json || json === "null") return "";
  try {
    const value: unknown = JSON.parse(json);
    if (value === null) return "";
    return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
  } catch {
    return json;
  }
}

function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const MAX_CELLS = 4_000_000;

/** Longest-common-subsequence line diff; deletions come before additions within a change. */
export function diffLines(oldText: string, newText: string): DiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ op: "same", text: a[i], oldLine: i + 1, newLine: i + 1 });
  const n = endA - start;
  const m = endB - start;
  if (n * m > MAX_CELLS) {
    for (let i = start; i < endA; i++) out.push({ op: "del", text: a[i], oldLine: i + 1, newLine: 0 });
    for (let j = start; j < endB; j++) out.push({ op: "add", text: b[j], oldLine: 0, newLine: j + 1 });
  } else {
    // lcs[i][j]: length of the LCS of a[start+i..endA) and b[start+j..endB)
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = a[start + i] === b[start + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) {
        out.push({ op: "same", text: a[start + i], oldLine: start + i + 1, newLine: start + j + 1 });
        i++;
        j++;
      } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
        out.push({ op: "del", text: a[start + i], oldLine: start + i + 1, newLine: 0 });
        i++;
      } else {
        out.push({ op: "add", text: b[start + j], oldLine: 0, newLine: start + j + 1 });
        j++;
      }
    }
  }
  const shift = endB - endA;
  for (let i = endA; i < a.length; i++) out.push({ op: "same", text: a[i], oldLine: i + 1, newLine: i + shift + 1 });
  return out;
}

export type DiffRow = DiffLine | { op: "skip"; count: number };

/** Changed lines with `context` unchanged lines around them; longer unchanged runs fold into one "skip" row. */
export function foldContext(lines: DiffLine[], context = 3): DiffRow[] {
  const keep = new Array<boolean>(lines.length).fill(false);
  lines.forEach((line, i) => {
    if (line.op === "same") return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = true;
  });
  const rows: DiffRow[] = [];
  let skipped = 0;
  lines.forEach((line, i) => {
    if (keep[i]) {
      if (skipped) rows.push({ op: "skip", count: skipped });
      skipped = 0;
      rows.push(line);
    } else {
      skipped++;
    }
  });
  if (skipped) rows.push({ op: "skip", count: skipped });
  return rows;
}

export interface ResourceDiffView {
  /** Live (normalized) manifest as YAML; "" when the object does not exist. */
  live: string;
  /** Desired manifest (what the live object becomes) as YAML; "" when it is to be pruned. */
  desired: string;
  lines: DiffLine[];
  added: number;
  removed: number;
  changed: boolean;
}

/** The diff the UI shows for one managed resource. */
export function resourceDiff(item: ResourceDiff): ResourceDiffView {
  const live = manifestYaml(item.normalizedLiveState || item.liveState);
  const desired = manifestYaml(item.predictedLiveState || item.targetState);
  const lines = diffLines(live, desired);
  const added = lines.filter((l) => l.op === "add").length;
  const removed = lines.filter((l) => l.op === "del").length;
  return { live, desired, lines, added, removed, changed: added + removed > 0 };
}
