// How an app's config management plugin reads in its summary: the plugin (or discovery), then its
// environment and parameters as NAME=VALUE lines, as `ferry app create --plugin-env` writes them.

import type { ApplicationSourcePlugin, ApplicationSourcePluginParameter } from "../types";

export interface PluginSummary {
  name: string;
  env: string[];
  parameters: string[];
}

function parameterValue(param: ApplicationSourcePluginParameter): string {
  if (param.string !== undefined) return param.string;
  if (param.array) return `[${param.array.join(", ")}]`;
  if (param.map) {
    const entries = Object.entries(param.map).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${k}: ${v}`).join(", ")}}`;
  }
  return "";
}

export function pluginSummary(plugin: ApplicationSourcePlugin | undefined): PluginSummary | null {
  if (!plugin) return null;
  return {
    name: plugin.name || "discovered (the first plugin whose discover rule matches)",
    env: (plugin.env ?? []).map((e) => `${e.name ?? ""}=${e.value ?? ""}`),
    parameters: (plugin.parameters ?? []).map((p) => `${p.name ?? ""}=${parameterValue(p)}`),
  };
}
