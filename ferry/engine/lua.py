"""Custom health rules in Lua, Argo CD's format: the script sees ``obj`` and returns a table
``{status = "...", message = "..."}``.

Scripts run in Lua 5.1 (what Argo CD's gopher-lua implements) in an environment holding only
safe functions (string, table, math, pairs, ipairs, ...): no ``os``, ``io``, ``require``,
``load*``, ``dofile`` or ``debug``; and an instruction budget stops a runaway loop.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from lupa import lua51

from ferry.engine.status import Health, HealthStatus

# Instructions a script may run per call (a tight infinite loop hits it in well under a second).
MAX_INSTRUCTIONS = 2_000_000

_SANDBOX = """
local script, limit = ...
local compiled, err = loadstring(script, "health.lua")
if compiled == nil then error(err, 0) end
local safe = {
  string = string, table = table, math = math, pairs = pairs, ipairs = ipairs, next = next,
  type = type, tostring = tostring, tonumber = tonumber, select = select, unpack = unpack,
  error = error, pcall = pcall, assert = assert,
}
local sethook, setfenv, setmetatable, pcall, error = debug.sethook, setfenv, setmetatable, pcall, error
return function(obj)
  local env = setmetatable({obj = obj}, {__index = safe})
  setfenv(compiled, env)
  sethook(function() error("instruction budget exceeded", 0) end, "", limit)
  local ok, result = pcall(compiled)
  sethook()
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
        self._runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)  # type: ignore[call-arg]
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
        except lua51.LuaError as err:  # a broken user script is a health verdict, not a crash
            return Health(HealthStatus.UNKNOWN, f"health script failed: {_first_line(err)}")
        try:
            return Health(HealthStatus(str(status)), str(message or ""))
        except ValueError:
            return Health(HealthStatus.UNKNOWN, f"health script returned unknown status {status!r}")
