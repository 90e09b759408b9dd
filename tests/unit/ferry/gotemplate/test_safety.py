"""Templates are user input: they reach nothing but the data and the functions given, and every way
to make execution big or long ends in a clear error within a bounded time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ferry import gotemplate
from ferry.gotemplate import Limits

SMALL = Limits(max_output_bytes=10_000, max_steps=5_000, max_template_depth=20, max_value_bytes=10_000)


def run(text: str, data: Any = None, limits: Limits = SMALL) -> str:
    return gotemplate.render(text, {} if data is None else data, limits=limits)


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("{{ .__class__ }}", "<no value>"),
        ("{{ .items }}", "<no value>"),
        ("{{ .keys }}", "<no value>"),
        ('{{ index . "__class__" }}', "<no value>"),
        ("{{ .name.__class__ }}", "can't evaluate field __class__ in type interface {}"),
        ("{{ .name.upper }}", "can't evaluate field upper in type interface {}"),
        ("{{ .list.append }}", "can't evaluate field append in type interface {}"),
        ("{{ .list.__len__ }}", "can't evaluate field __len__ in type interface {}"),
        ("{{ (upper .name).__class__.__mro__ }}", "can't evaluate field __class__ in type string"),
    ],
)
def test_python_attributes_are_not_reachable(text: str, outcome: str) -> None:
    """dict/list/str methods and dunder attributes are not fields: a missing key (no value), or the
    error Go gives for a value without that field."""
    data = {"name": "x", "list": [1]}
    if outcome == "<no value>":
        assert gotemplate.render(text, data) == outcome
    else:
        with pytest.raises(gotemplate.ExecError) as raised:
            gotemplate.render(text, data)
        assert outcome in str(raised.value)


def test_methods_only_on_go_types() -> None:
    """Method calls reach only the Go methods declared for Go types (time.Time.Format ...)."""
    assert run('{{ (toDate "2006-01-02" "2024-05-01").Format "Jan 2" }}') == "May 1"
    with pytest.raises(gotemplate.ExecError, match=r"can't evaluate field isoformat in type time\.Time"):
        run('{{ (toDate "2006-01-02" "2024-05-01").isoformat }}')


def test_unknown_function_is_a_parse_error() -> None:
    for name in ("env", "expandenv", "getHostByName", "eval", "open", "__import__"):
        with pytest.raises(gotemplate.ParseError, match=f'function "{name}" not defined'):
            run("{{ " + name + ' "x" }}')


def test_output_is_bounded() -> None:
    with pytest.raises(gotemplate.LimitError, match="output exceeds 10000 bytes"):
        run("{{ range 100000 }}xxxxxxxxxx{{ end }}", limits=Limits(max_output_bytes=10_000))


def test_steps_are_bounded() -> None:
    started = time.monotonic()
    with pytest.raises(gotemplate.LimitError, match="execution exceeds 5000 steps"):
        run("{{ range 1000000000 }}{{ end }}")
    assert time.monotonic() - started < 5


def test_nested_ranges_are_bounded() -> None:
    with pytest.raises(gotemplate.LimitError):
        run("{{ range 1000 }}{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}{{ end }}")


def test_recursive_templates_are_bounded() -> None:
    with pytest.raises(gotemplate.ExecError, match=r"exceeded maximum template depth \(20\)"):
        run('{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}')


def test_string_growth_is_bounded() -> None:
    with pytest.raises(gotemplate.LimitError, match="returned more than 10000 bytes"):
        run('{{ $s := "xxxxxxxxxx" }}{{ range 20 }}{{ $s = printf "%s%s" $s $s }}{{ end }}{{ len $s }}')
    with pytest.raises(gotemplate.ExecError, match="repeat: result would exceed"):
        run('{{ repeat 100000000000 "x" }}')
    with pytest.raises(gotemplate.ExecError, match="untilStep: result would exceed"):
        run("{{ until 100000000000 }}")


def test_deep_nesting_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(gotemplate.ParseError, match="max expression depth exceeded"):
        run("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    with pytest.raises(gotemplate.ParseError, match="max expression depth exceeded"):
        run("{{ if 1 }}" * 5000 + "{{ end }}" * 5000)


def test_regular_expressions_run_in_linear_time() -> None:
    """RE2 (as Go's regexp): a pattern that backtracks exponentially in Python's re is instant."""
    started = time.monotonic()
    assert run('{{ regexMatch "^(a+)+$" .s }}', {"s": "a" * 5000 + "!"}) == "false"
    assert time.monotonic() - started < 2
    with pytest.raises(gotemplate.ExecError, match="invalid or unsupported Perl syntax"):
        run('{{ regexFind "(?=a)" "a" }}')


def test_deeply_nested_json_is_an_error() -> None:
    with pytest.raises(gotemplate.ExecError, match="error calling mustFromJson"):
        run("{{ mustFromJson .j }}", {"j": "[" * 100_000})


def test_hostile_printf_widths_do_not_allocate() -> None:
    with pytest.raises(gotemplate.ExecError, match="width or precision above 65536"):
        run('{{ printf "%999999999d" 1 }}')
    assert run('{{ printf "%5d" 1 }}') == "    1"


def test_template_is_reusable_and_independent_per_execution() -> None:
    tmpl = gotemplate.Template("t", gotemplate.APPLICATIONSET, missingkey="error").parse("{{ .a }}")
    assert tmpl.execute({"a": 1}) == "1"
    with pytest.raises(gotemplate.ExecError, match='map has no entry for key "a"'):
        tmpl.execute({})
    assert tmpl.execute({"a": "x"}) == "x"


def test_data_is_not_modified_by_default_paths() -> None:
    data = {"m": {"a": 1}}
    run("{{ $x := merge (dict) .m }}{{ $x }}", data)
    assert data == {"m": {"a": 1}}


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="unrecognized option: missingkey=nope"):
        gotemplate.Template("t", options=("missingkey=nope",))
    assert gotemplate.parse_option("missingkey=zero") == gotemplate.MissingKey.ZERO
