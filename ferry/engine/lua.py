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
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lupa import lua51

from ferry.engine.status import Health, HealthStatus

T = TypeVar("T")

# Instructions a script may run per call (a tight infinite loop hits it in well under a second).
MAX_INSTRUCTIONS = 2_000_000
# Bytes a rule's Lua state may hold: the object it is shown (as Lua tables) and what it builds.
MAX_MEMORY = 64 * 1024 * 1024

_SANDBOX = """
local script, limit, chunk, with_time = ...
local compiled, err = loadstring(script, chunk)
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
-- action scripts stamp times (Argo CD's restart uses os.date); nothing else of os
if with_time then safe.os = {time = os.time, date = os.date} end
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


class _SandboxedScript:
    """One script compiled into its own Lua state (``_SANDBOX``), called under a lock."""

    def __init__(self, script: str, chunk: str, what: str, *, with_time: bool) -> None:
        self._lock = threading.Lock()  # a LuaRuntime is not thread-safe
        self._what = what
        # types-lupa does not declare these keyword arguments (lupa documents them).
        self._runtime = lua51.LuaRuntime(  # type: ignore[call-arg]
            register_eval=False, register_builtins=False, max_memory=MAX_MEMORY
        )
        try:
            self._call: Any = self._runtime.execute(_SANDBOX, script, MAX_INSTRUCTIONS, chunk, with_time)
        except lua51.LuaError as err:
            raise LuaError(f"{what} does not compile: {_first_line(err)}") from err

    def _to_lua(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return self._runtime.table_from({k: self._to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return self._runtime.table_from([self._to_lua(v) for v in value])
        return value

    def _evaluate(self, obj: Mapping[str, Any], read: Callable[[Any], T]) -> T:
        """``read`` of the script's result, taken while the Lua state is still held."""
        with self._lock:
            return read(self._call(self._to_lua(obj)))


class LuaHealthRule(_SandboxedScript):
    """One compiled rule; call it with an object to get its Health (Unknown when the script fails)."""

    def __init__(self, script: str) -> None:
        super().__init__(script, "health.lua", "health script", with_time=False)

    def __call__(self, obj: Mapping[str, Any]) -> Health:
        def read(result: Any) -> tuple[Any, Any]:
            return (result["status"], result["message"]) if result is not None else (None, None)

        try:
            status, message = self._evaluate(obj, read)
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


# Nesting and size a script's result may have when it is turned back into JSON-like values.
MAX_RESULT_DEPTH = 64
MAX_RESULT_ITEMS = 100_000


class LuaScriptError(ValueError):
    """A script failed, ran out of its budget or returned something unusable; the message says which."""


class LuaScript(_SandboxedScript):
    """One compiled script of Argo CD's Lua customizations other than health (resource actions):
    called with an object, it returns what the script returned as plain dicts, lists and scalars.
    The same sandbox and budgets as health rules, plus ``os.time`` and ``os.date``."""

    def __init__(self, script: str, chunk: str) -> None:
        super().__init__(script, chunk, chunk, with_time=True)

    def __call__(self, obj: Mapping[str, Any]) -> Any:
        try:
            return self._evaluate(obj, lambda result: _from_lua(result, 0, [0]))
        except lua51.LuaMemoryError:
            raise LuaScriptError(
                f"{self._what} failed: not enough memory (limit {MAX_MEMORY >> 20} MiB)"
            ) from None
        except lua51.LuaError as err:
            raise LuaScriptError(f"{self._what} failed: {_first_line(err)}") from None


def _from_lua(value: Any, depth: int, counter: list[int]) -> Any:
    """A Lua value as JSON-like Python: a table whose keys are 1..n is a list, any other a dict
    (an empty table is an empty dict, as gopher-lua's JSON conversion makes it)."""
    if depth > MAX_RESULT_DEPTH:
        raise LuaScriptError(f"script result nests deeper than {MAX_RESULT_DEPTH} levels")
    if lua51.lua_type(value) != "table":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    items = list(value.items())
    counter[0] += len(items)
    if counter[0] > MAX_RESULT_ITEMS:
        raise LuaScriptError(f"script result holds more than {MAX_RESULT_ITEMS} values")
    keys = [k for k, _ in items]
    if keys and all(isinstance(k, int) for k in keys) and sorted(keys) == list(range(1, len(keys) + 1)):
        return [_from_lua(v, depth + 1, counter) for _, v in sorted(items, key=lambda kv: kv[0])]
    return {str(k): _from_lua(v, depth + 1, counter) for k, v in items}
