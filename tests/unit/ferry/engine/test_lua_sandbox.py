"""The Lua sandbox of custom health rules against hostile scripts (finding 21 of the security
review): ``pcall`` cannot catch the end of the instruction budget, and memory bombs end in
"not enough memory" instead of taking the process's memory. Ordinary scripts, pcall included,
work as in Argo CD."""

from __future__ import annotations

import resource

import pytest

from ferry.engine.lua import MAX_MEMORY, LuaHealthRule
from ferry.engine.status import Health, HealthStatus

U, H = HealthStatus.UNKNOWN, HealthStatus.HEALTHY
BUDGET = Health(U, "health script failed: instruction budget exceeded")


@pytest.mark.parametrize(
    "script",
    [
        "while true do pcall(function() while true do end end) end",
        "while true do pcall(pcall, function() while true do end end) end",
        "local function f() pcall(f); pcall(f) end; while true do pcall(f) end",
        'while true do local ok = pcall(error, "x") end',
        'local ok = pcall(function() while true do end end); return {status = "Healthy"}',
    ],
)
def test_pcall_cannot_outlive_the_instruction_budget(script: str) -> None:
    rule = LuaHealthRule(script)
    assert rule({}) == BUDGET
    assert rule({}) == BUDGET  # and the next call gets a fresh budget, not a broken runtime


@pytest.mark.parametrize(
    "script",
    [
        'local s = string.rep("x", 2^30); return {status = "Healthy", message = #s}',
        'local s = ("x"):rep(2^29); return {status = "Healthy"}',
        'local s = "x"; for i = 1, 40 do s = s .. s end; return {status = "Healthy"}',
        "local t = {}; for i = 1, 1e9 do t[i] = {i, i, i} end",
        'local ok = pcall(string.rep, "x", 2^30); local s = "x"; for i = 1, 40 do s = s .. s end',
        'local s = table.concat({string.rep("x", 2^20)}, "", 1, 1); return {status = s:rep(2^12)}',
    ],
)
def test_memory_bombs_end_in_not_enough_memory(script: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    health = LuaHealthRule(script)({})
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert health.status is U
    assert "not enough memory" in health.message or health == BUDGET, health
    assert grown < 4 * MAX_MEMORY, f"the process grew by {grown >> 20} MiB"


def test_scripts_that_use_pcall_and_strings_as_argo_cd_rules_do_still_work() -> None:
    script = """
local hs = {status = "Progressing", message = "waiting"}
local ok, value = pcall(function() return obj.status.ready end)
if ok and value then
  hs.status = "Healthy"
  hs.message = string.format("%s of %d ready", string.rep("*", 3), #obj.status.conditions)
end
local failed, why = pcall(error, "boom")
if failed or why ~= "boom" then hs.status = "Degraded" end
local n = select("#", pcall(function() return 1, nil, nil end))
if n ~= 4 then hs.status = "Degraded"; hs.message = "pcall lost results: " .. n end
return hs
"""
    rule = LuaHealthRule(script)
    assert rule({"status": {"ready": True, "conditions": [{}, {}]}}) == Health(H, "*** of 2 ready")
    assert rule({}) == Health(HealthStatus.PROGRESSING, "waiting")


def test_a_large_object_fits_in_the_memory_budget() -> None:
    data = {f"key-{i}": "v" * 1000 for i in range(2000)}  # a 2 MB ConfigMap
    rule = LuaHealthRule(
        "local n = 0; for k, v in pairs(obj.data) do n = n + #v end;"
        ' return {status = "Healthy", message = tostring(n)}'
    )
    assert rule({"data": data}) == Health(H, "2000000")
