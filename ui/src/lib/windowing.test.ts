import { describe, expect, it } from "vitest";

import { scrollToRow, windowRange } from "./windowing";

describe("windowRange", () => {
  it("at the top: the visible rows and the overscan below", () => {
    expect(windowRange({ count: 1000, rowHeight: 40, scrollTop: 0, viewportHeight: 400, overscan: 5 })).toEqual({
      start: 0,
      end: 16, // 10 visible + 1 partly visible + 5 overscan
      before: 0,
      after: (1000 - 16) * 40,
    });
  });
  it("in the middle: overscan on both sides, spacers add up to the whole height", () => {
    const r = windowRange({ count: 1000, rowHeight: 40, scrollTop: 20_010, viewportHeight: 400, overscan: 5 });
    expect(r.start).toBe(495); // row 500 is the first in view
    expect(r.end).toBe(516);
    expect(r.before + (r.end - r.start) * 40 + r.after).toBe(1000 * 40);
  });
  it("at the end, and scrolled past it (the list shrank under a filter)", () => {
    expect(windowRange({ count: 1000, rowHeight: 40, scrollTop: 39_600, viewportHeight: 400, overscan: 5 })).toMatchObject({ end: 1000, after: 0 });
    const past = windowRange({ count: 20, rowHeight: 40, scrollTop: 39_600, viewportHeight: 400, overscan: 5 });
    expect(past).toEqual({ start: 14, end: 20, before: 14 * 40, after: 0 });
  });
  it("small and empty lists", () => {
    expect(windowRange({ count: 3, rowHeight: 40, scrollTop: 0, viewportHeight: 400 })).toEqual({ start: 0, end: 3, before: 0, after: 0 });
    expect(windowRange({ count: 0, rowHeight: 40, scrollTop: 0, viewportHeight: 400 })).toEqual({ start: 0, end: 0, before: 0, after: 0 });
    expect(windowRange({ count: 10, rowHeight: 0, scrollTop: 0, viewportHeight: 400 })).toEqual({ start: 0, end: 0, before: 0, after: 0 });
  });
  it("an unmeasured viewport still renders a first screenful", () => {
    expect(windowRange({ count: 100, rowHeight: 40, scrollTop: -10, viewportHeight: 0, overscan: 10 })).toMatchObject({ start: 0, end: 11 });
  });
});

describe("scrollToRow", () => {
  it("scrolls just enough to show the row", () => {
    expect(scrollToRow(0, 40, 400, 400)).toBe(0);
    expect(scrollToRow(20, 40, 0, 400)).toBe(21 * 40 - 400);
    expect(scrollToRow(5, 40, 0, 400)).toBe(0);
  });
});
