import { describe, expect, it } from "vitest";

import { pluginSummary } from "./plugin";

describe("pluginSummary", () => {
  it("is absent for apps without a plugin", () => {
    expect(pluginSummary(undefined)).toBeNull();
  });

  it("names the plugin and lists env and parameters as NAME=VALUE", () => {
    expect(
      pluginSummary({
        name: "cdk8s-v1.0",
        env: [{ name: "STAGE", value: "prod" }, { name: "EMPTY" }],
        parameters: [
          { name: "replicas", string: "3" },
          { name: "images", array: ["web:1", "worker:2"] },
          { name: "labels", map: { tier: "backend", team: "payments" } },
        ],
      }),
    ).toEqual({
      name: "cdk8s-v1.0",
      env: ["STAGE=prod", "EMPTY="],
      parameters: ["replicas=3", "images=[web:1, worker:2]", "labels={team: payments, tier: backend}"],
    });
  });

  it("says when discovery picks the plugin", () => {
    expect(pluginSummary({})?.name).toMatch(/^discovered/);
  });
});
