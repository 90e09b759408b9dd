import { describe, expect, it } from "vitest";

import { eventSource, lastSeen, sortEvents } from "./events";

describe("events", () => {
  it("newest first, warnings first at the same time", () => {
    const sorted = sortEvents([
      { reason: "Old", lastTimestamp: "2024-01-01T00:00:00Z", type: "Normal" },
      { reason: "NewNormal", lastTimestamp: "2024-01-02T00:00:00Z", type: "Normal" },
      { reason: "NewWarning", lastTimestamp: "2024-01-02T00:00:00Z", type: "Warning" },
      { reason: "MicroTime", eventTime: "2024-01-01T12:00:00.000000Z", type: "Normal" },
    ]);
    expect(sorted.map((e) => e.reason)).toEqual(["NewWarning", "NewNormal", "MicroTime", "Old"]);
    expect(sortEvents(undefined)).toEqual([]);
  });
  it("when and from where", () => {
    expect(lastSeen({ firstTimestamp: "a" })).toBe("a");
    expect(lastSeen({})).toBe("");
    expect(eventSource({ source: { component: "kubelet" } })).toBe("kubelet");
    expect(eventSource({ reportingComponent: "scheduler" })).toBe("scheduler");
  });
});
