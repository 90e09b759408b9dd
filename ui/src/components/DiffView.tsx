import { foldContext, type DiffLine, type ResourceDiffView } from "../lib/diff";

const SIGN: Record<DiffLine["op"], string> = { same: " ", add: "+", del: "-" };
const WORD: Record<DiffLine["op"], string> = { same: "", add: "added", del: "removed" };

/** A unified diff (live → desired) with line numbers and +/- signs, unchanged runs folded. */
export function DiffView({ view, title }: { view: ResourceDiffView; title: string }) {
  if (!view.changed) {
    return (
      <p class="diff-none" data-testid="diff-none">
        No difference: the live object matches Git.
      </p>
    );
  }
  const rows = foldContext(view.lines, 3);
  return (
    <div class="diff-wrap">
      <p class="diff-summary">
        <span class="diff-add-count">+{view.added}</span> <span class="diff-del-count">−{view.removed}</span> lines (live → desired)
      </p>
      <table class="diff" data-testid="diff">
        <caption class="visually-hidden">
          {title}: {view.added} lines added and {view.removed} lines removed by a sync
        </caption>
        <thead class="visually-hidden">
          <tr>
            <th scope="col">Live line</th>
            <th scope="col">Desired line</th>
            <th scope="col">Change</th>
            <th scope="col">Text</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) =>
            row.op === "skip" ? (
              <tr key={`s${i}`} class="diff-skip">
                <td colSpan={4}>… {row.count} unchanged lines</td>
              </tr>
            ) : (
              <tr key={i} class={`diff-${row.op}`}>
                <td class="ln">{row.oldLine || ""}</td>
                <td class="ln">{row.newLine || ""}</td>
                <td class="sign">
                  <span aria-hidden="true">{SIGN[row.op]}</span>
                  {WORD[row.op] && <span class="visually-hidden">{WORD[row.op]}</span>}
                </td>
                <td class="text">{row.text}</td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}
