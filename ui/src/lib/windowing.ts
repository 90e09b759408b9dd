// Windowed rendering of long lists (the applications table with 1,000+ rows): only the rows in
// view, plus a few above and below, are in the DOM; spacers of the right height stand for the
// others, so the scrollbar and the scroll position stay those of the whole list.

export interface WindowInput {
  /** Rows in the whole list. */
  count: number;
  /** Height of one row in px (rows have a fixed height). */
  rowHeight: number;
  /** How far the list is scrolled, in px from its first row. */
  scrollTop: number;
  /** Height of the visible part, in px. */
  viewportHeight: number;
  /** Extra rows rendered above and below the visible ones (smooth scrolling, keyboard focus). */
  overscan?: number;
}

export interface WindowRange {
  /** First rendered row (index). */
  start: number;
  /** One past the last rendered row. */
  end: number;
  /** Height of the spacer standing for the rows before `start`, in px. */
  before: number;
  /** Height of the spacer standing for the rows from `end` on, in px. */
  after: number;
}

export function windowRange({ count, rowHeight, scrollTop, viewportHeight, overscan = 10 }: WindowInput): WindowRange {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, before: 0, after: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, before: start * rowHeight, after: (count - end) * rowHeight };
}

/** The scrollTop that brings row `index` into view (unchanged when it already is). */
export function scrollToRow(index: number, rowHeight: number, scrollTop: number, viewportHeight: number): number {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewportHeight) return top + rowHeight - viewportHeight;
  return scrollTop;
}
