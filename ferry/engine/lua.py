"""Custom health rules in Lua, Argo CD's format: the script sees ``obj`` and returns a table
``{status = "...", message = "..."}``.

Scripts run in Lua 5.1 (what Argo CD's gopher-lua implements) in an environment holding only
safe functions (string, table, math, pairs, ipairs, ...): no ``os``, ``io``, ``require``,
``load*``, ``dofile`` or ``debug``. Two budgets hold a hostile script:

- instructions (``MAX_INSTRUCTIONS`` per call) stop a runaway loop. Once spent, the budget
  stays spent: the script's ``pcall`` hands the error on instead of catching it, so a loop of
  ``pcall`` calls cannot outlive it;
- memory (``MAX_MEMORY`` per rule, Lua's own allocator) stops ``string.rep("x", 2^30)``, string
  doubling and table bombs with "not enough memory" before they take the process's memory.

Either ends the call with health Unknown and the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from lupa import lua51

from ferry.engine.status import Health, HealthStatus

# Instructions a script may run per call (a tight infinite loop hits it in well under a second).
MAX_INSTRUCTIONS = 2_000_000
# Bytes a rule's Lua state may hold: the object it is shown (as Lua tables) and what it builds.
MAX_MEMORY = 64 * 1024 * 1024

_SANDBOX = """
local script, limit = ...
local compiled, err = loadstring(script, "health.lua")
if compiled == nil then error(err, 0) end
local sethook, setfenv, setmetatable, pcall, error, unpack, select =
  debug.sethook, setfenv, setmetatable, pcall, error, unpack, select
local BUDGET = "instruction budget exceeded"
local spent = false
local function over_budget() spent = true; error(BUDGET, 0) end
-- the script's pcall: catches its errors, never the end of the budget
local function pack(...) return {n = select("#", ...), ...} end
local function guarded_pcall(f, ...)
  local results = pack(pcall(f, ...))
  if spent then error(BUDGET, 0) end
  return unpack(results, 1, results.n)
end
local safe = {
  string = string, table = table, math = math, pairs = pairs, ipairs = ipairs, next = next,
  type = type, tostring = tostring, tonumber = tonumber, select = select, unpack = unpack,
  error = error, pcall = guarded_pcall, assert = assert,
}
return function(obj)
  local env = setmetatable({obj = obj}, {__index = safe})
  setfenv(compiled, env)
  spent = false
  sethook(over_budget, "", limit)
  local ok, result = pcall(compiled)
  sethook()
  if spent then error(BUDGET, 0) end
  if not ok then error(result, 0) end
  return result
end
"""


def _first_line(err: Exception) -> str:
    return str(err).split("\nstack traceback:", 1)[0].strip()


class LuaError(ValueError):
    """The script does not compile."""


class LuaHealthRule:
    """One compiled rule; call it with an object to get its Health (Unknown when the script fails)."""

    def __init__(self, script: str) -> None:
        self._lock = threading.Lock()  # a LuaRuntime is not thread-safe
        # types-lupa does not declare these keyword arguments (lupa documents them).
        self._runtime = lua51.LuaRuntime(  # type: ignore[call-arg]
            register_eval=False, register_builtins=False, max_memory=MAX_MEMORY
        )
        try:
            self._call: Any = self._runtime.execute(_SANDBOX, script, MAX_INSTRUCTIONS)
        except lua51.LuaError as err:
            raise LuaError(f"health script does not compile: {_first_line(err)}") from err

    def _to_lua(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return self._runtime.table_from({k: self._to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return self._runtime.table_from([self._to_lua(v) for v in value])
        return value

    def __call__(self, obj: Mapping[str, Any]) -> Health:
        try:
            with self._lock:
                result = self._call(self._to_lua(obj))
                status = result["status"] if result is not None else None
                message = result["message"] if result is not None else None
        except lua51.LuaMemoryError:
            return Health(
                HealthStatus.UNKNOWN,
                f"health script failed: not enough memory (limit {MAX_MEMORY >> 20} MiB)",
            )
        except lua51.LuaError as err:  # a broken user script is a health verdict, not a crash
            return Health(HealthStatus.UNKNOWN, f"health script failed: {_first_line(err)}")
        try:
            return Health(HealthStatus(str(status)), str(message or ""))
        except ValueError:
            return Health(HealthStatus.UNKNOWN, f"health script returned unknown status {status!r}")
