"""Runs corpus cases through the Go oracle (hack/gotemplate-oracle) and through ferry.gotemplate,
in the same shape, so a test can compare them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from ferry import gotemplate
from ferry.gotemplate.helpers import strings_helpers, time_helpers
from tests.unit.ferry.gotemplate.corpus import Case

Result = dict[str, str]


def run_oracle(binary: Path, cases: list[Case]) -> list[Result]:
    payload = {
        "cases": [
            {
                "template": case.template,
                "data": case.data,
                "options": list(case.options),
                "funcs": case.funcs,
                "name": case.name,
                "numbers": case.numbers,
            }
            for case in cases
        ]
    }
    env = {**os.environ, "TZ": "UTC"}
    proc = subprocess.run(
        [str(binary)],
        input=json.dumps(payload).encode(),
        capture_output=True,
        check=True,
        env=env,
        timeout=120,
    )
    results: list[Result] = json.loads(proc.stdout)["results"]
    return results


def render(case: Case) -> Result:
    data: Any = case.data
    if case.numbers == "float64":
        data = gotemplate.numbers_as_float(data)
    if case.funcs == "notifications" and isinstance(data, dict):
        data = {**data, "time": time_helpers(), "strings": strings_helpers()}
    template = gotemplate.Template(case.name, case.funcs, options=case.options)
    try:
        template.parse(case.template)
        return {"output": template.execute(data), "error": ""}
    except gotemplate.TemplateError as err:
        return {"output": "", "error": str(err)}


def comparable(result: Result) -> Result:
    """Go writes what it rendered before an error; ferry returns only the error."""
    if result["error"]:
        return {"output": "", "error": result["error"]}
    return result
