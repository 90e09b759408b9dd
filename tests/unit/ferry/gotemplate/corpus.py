"""Templates and data that ferry.gotemplate must render exactly as Go's text/template + sprig do.

Each case is (template, data, options); ``vectors.json`` holds what the Go oracle
(``hack/gotemplate-oracle``) answered for every case, and tests/integration/ferry/gotemplate asks the
oracle again. Add a case here, then run ``python -m tests.unit.ferry.gotemplate.record`` to refresh
the vectors (needs ``hack/tools.sh gotemplate-oracle``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    template: str
    data: Any = None
    options: tuple[str, ...] = ()
    funcs: str = "applicationset"
    numbers: str = "int64"  # "float64": every number a float64, as Argo CD's list generator decodes
    name: str = "base"
    tags: tuple[str, ...] = field(default=())

    def key(self) -> str:
        import json  # noqa: PLC0415

        return json.dumps(
            [self.template, self.data, list(self.options), self.funcs, self.numbers, self.name],
            sort_keys=True,
        )


APP = {
    "metadata": {
        "name": "guestbook",
        "namespace": "ferry",
        "labels": {"team": "web", "env": "prod"},
        "annotations": {"my/annotation": "yes"},
    },
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://github.com/example/apps.git",
            "path": "guestbook",
            "targetRevision": "HEAD",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy"},
        "operationState": {
            "phase": "Failed",
            "message": 'one or more objects failed to apply, reason: Deployment "web" is invalid',
            "startedAt": "2024-05-01T10:00:00Z",
            "finishedAt": "2024-05-01T10:00:07Z",
            "syncResult": {"revision": "abc123"},
        },
        "conditions": [
            {"type": "SyncError", "message": "failed to sync"},
            {"type": "ComparisonError", "message": 'rpc error: "quoted" <html>'},
        ],
    },
}

DATA = {
    "name": "guestbook",
    "branch": "feature/Add-Login_Page",
    "n": 3,
    "zero": 0,
    "f": 2.5,
    "big": 123456789.0,
    "neg": -7,
    "t": True,
    "no": False,
    "null": None,
    "s": "Hello, World",
    "empty": "",
    "list": ["b", "a", "c"],
    "nums": [3, 1, 2],
    "mixed": [1, "two", None, 4.5, True, {"k": "v"}, ["x"]],
    "emptylist": [],
    "map": {"b": 2, "a": 1, "c": {"d": "deep"}},
    "emptymap": {},
    "html": "<a href=\"x\">Tom & 'Jerry'</a>",
    "unicode": "héllo wörld ß ǅ",
    "multiline": "line one\nline two\n",
    "metadata": {
        "labels": {"environment": "staging", "location": "eu"},
        "annotations": {"my/annotation": "v"},
    },
    "path": {
        "path": "apps/team-a/guestbook",
        "basename": "guestbook",
        "segments": ["apps", "team-a", "guestbook"],
    },
    "cluster": "prod-eu",
    "url": "https://1.2.3.4",
    "values": {"revision": "v1.2.3", "nameSuffix": "-x"},
    "app": APP,
    "context": {"argocdUrl": "https://ferry.example.com"},
    "serviceType": "slack",
}


def c(template: str, data: Any = DATA, *options: str, **kw: Any) -> Case:
    return Case(template, data, tuple(options), **kw)


ERR = "missingkey=error"

CASES: list[Case] = [
    # --- text, actions, whitespace, comments ---
    c("plain text"),
    c(""),
    c("{{.name}}"),
    c("a {{- .name -}} b"),
    c("a  \n {{- .name }} \n  b {{- /* comment */ -}}  c"),
    c("{{/* a comment */}}x{{- /* trimmed */ -}}  y"),
    c("{{ .name }}{{ .n }}{{ .f }}{{ .t }}{{ .null }}{{ .missing }}"),
    c("{{ .list }} {{ .map }} {{ .mixed }} {{ .emptylist }} {{ .emptymap }}"),
    c("{{ .big }} {{ 1e6 }} {{ 1e-5 }} {{ 0.0001 }} {{ 100000.0 }} {{ 1234567.0 }} {{ -0.5 }} {{ 3. }}"),
    c("{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 017 }} {{ 1_000 }} {{ 'a' }} {{ '\\n' }} {{ -3 }} {{ +4 }}"),
    c('{{ "quoted \\"str\\"\\n" }}{{ `raw\\n` }}'),
    c("{{ .map.c.d }} {{ .map.c }} {{ .app.metadata.name }}"),
    c('{{ $x := .name }}{{ $x }} {{ $x = "other" }}{{ $x }}'),
    c("{{ $ }}", {"a": 1}),
    c("{{ . }}", "just a string"),
    c("{{ . }}", [1, 2]),
    c("{{ . }}", None),
    c("{{ .x }}", None),
    c("{{ .x }}", None, ERR),
    # --- missingkey ---
    c("{{ .missing }}", DATA, ERR),
    c("{{ .map.nope }}", DATA, ERR),
    c("{{ .missing.deeper }}", DATA),
    c("{{ .missing.deeper }}", DATA, ERR),
    c("{{ .missing }}", DATA, "missingkey=zero"),
    c("{{ .missing.deeper }}", DATA, "missingkey=zero"),
    c("{{ .missing }}", DATA, "missingkey=invalid"),
    c("{{ .missing }}", DATA, "missingkey=default"),
    c("{{ .null.x }}"),
    c("{{ .name.x }}"),
    c("{{ .list.x }}"),
    c("{{ .n.x }}"),
    c("{{ $x := .name }}{{ $x.foo }}"),
    c("{{ .map.a 1 }}"),
    c("{{ .name | .map.a }}"),
    c("{{ 3 4 }}"),
    c("{{ nil }}"),
    c('{{ "x" | printf "%s-%s" "y" }}'),
    # --- if / else if / with / range ---
    c("{{ if .t }}yes{{ else }}no{{ end }} {{ if .no }}yes{{ else }}no{{ end }}"),
    c(
        "{{ if .empty }}a{{ else if .zero }}b{{ else if .null }}c{{ else if .emptylist }}d{{ else }}e{{ end }}"
    ),
    c("{{ if .missing }}a{{ else }}b{{ end }} {{ if .emptymap }}a{{ else }}b{{ end }} {{ if .f }}f{{ end }}"),
    c("{{ with .map }}{{ .a }}{{ end }} {{ with .missing }}x{{ else }}none{{ end }}"),
    c("{{ with .missing }}x{{ else with .name }}{{ . }}{{ end }}"),
    c("{{ range .list }}[{{ . }}]{{ end }}"),
    c("{{ range $i, $v := .list }}{{ $i }}={{ $v }} {{ end }}"),
    c("{{ range $v := .nums }}{{ $v }}{{ end }}"),
    c("{{ range $k, $v := .map }}{{ $k }}:{{ $v }};{{ end }}"),
    c("{{ range .emptylist }}x{{ else }}empty{{ end }} {{ range .missing }}x{{ else }}none{{ end }}"),
    c("{{ range 3 }}{{ . }}{{ end }}"),
    c("{{ range $i, $e := 3 }}{{ $i }}{{ end }}"),
    c("{{ range .name }}{{ . }}{{ end }}"),
    c('{{ range .list }}{{ if eq . "a" }}{{ break }}{{ end }}{{ . }}{{ end }}'),
    c('{{ range .list }}{{ if eq . "a" }}{{ continue }}{{ end }}{{ . }}{{ end }}'),
    c("{{ range .mixed }}<{{ . }}>{{ end }}"),
    c("{{ range .mixed }}{{ .k }}{{ end }}"),
    c("{{ $x := 1 }}{{ range .list }}{{ $x = . }}{{ end }}{{ $x }}"),
    c(
        "{{ range $i, $c := .app.status.conditions }}{{ if $i }}, {{ end }}{{ $c.type }}: {{ $c.message }}{{ end }}"
    ),
    c("{{ if .t }}{{ $y := 2 }}{{ $y }}{{ end }}"),
    # --- define / template / block ---
    c('{{ define "T" }}T({{ . }}){{ end }}{{ template "T" .name }} {{ template "T" }}'),
    c('{{ block "B" .n }}block {{ . }}{{ end }}'),
    c('{{ template "nope" }}'),
    c(
        '{{ define "R" }}{{ if gt . 0 }}{{ . }}{{ template "R" (sub . 1) }}{{ end }}{{ end }}{{ template "R" 5 }}'
    ),
    c('{{ define "V" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template "V" "dot" }}'),
    # --- comparisons ---
    c('{{ eq .n 3 }} {{ eq .name "guestbook" }} {{ eq .n 1 2 3 }} {{ ne .n 3 }} {{ eq .t true }}'),
    c('{{ lt 1 2 }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 1 2 }} {{ lt "a" "b" }} {{ lt 1.5 2.5 }}'),
    c("{{ eq .n 3.0 }}"),
    c("{{ eq .f 2.5 }}"),
    c('{{ eq .missing "x" }} {{ eq .missing nil }} {{ eq .null nil }}'),
    c("{{ eq .list .list }}"),
    c("{{ eq .map .list }}"),
    c("{{ lt .t .t }}"),
    c("{{ lt .missing 1 }}"),
    c("{{ eq }}"),
    c("{{ eq .n }}"),
    c("{{ eq .n 3 }}", DATA, numbers="float64"),
    c("{{ eq .n 3.0 }} {{ .n }} {{ add .n 1 }}", DATA, numbers="float64"),
    c(
        "{{ and .t .name }} {{ and .t .empty }} {{ or .empty .zero .name }} {{ or .empty .zero }} {{ not .t }} {{ not .empty }}"
    ),
    c("{{ and .missing .x.y }} {{ or .name .x.y }}"),
    c("{{ .name | and .t }}"),
    # --- builtins ---
    c("{{ len .list }} {{ len .map }} {{ len .name }} {{ len .unicode }} {{ len .emptylist }}"),
    c("{{ len .n }}"),
    c("{{ len .null }}"),
    c(
        '{{ index .list 1 }} {{ index .map "a" }} {{ index .map "nope" }} {{ index .metadata.labels "environment" }}'
    ),
    c('{{ index .map.c "d" }} {{ index .mixed 5 "k" }} {{ index .name 0 }}'),
    c("{{ index .list 5 }}"),
    c("{{ index .list 3 }}"),
    c("{{ index .list -1 }}"),
    c('{{ index .list "a" }}'),
    c("{{ index .map 1 }}"),
    c("{{ index .n 1 }}"),
    c("{{ index .missing 1 }}"),
    c("{{ index .null 1 }}"),
    c("{{ index .path.segments 0 }}/{{ index .path.segments 1 }}/{{ index .path.segments 2 }}"),
    c('{{ print .name .n .f .t .null .list }} {{ print 1 2 }} {{ print "a" "b" }} {{ print "a" 1 "b" }}'),
    c("{{ println .name .n }}"),
    c("{{ print .missing }} {{ print }}"),
    c('{{ printf "%s|%d|%v|%q|%x|%X|%5s|%-5s|%05d|%t|%%" .name .n .f .name .n .name "ab" "ab" .neg .t }}'),
    c('{{ printf "%.2f|%8.3f|%-8.1f|%e|%E|%g|%G|%f" .f .f .f .big .big .big .big 1.0 }}'),
    c('{{ printf "%v|%+v|%v|%v" .map .map .list .null }}'),
    c('{{ printf "%d" .name }} {{ printf "%s" .n }} {{ printf "%s %s" .name }} {{ printf "%s" .name 1 }}'),
    c(
        '{{ printf "%q" .list }} {{ printf "%x" 255 }} {{ printf "%o %b %c %U" 8 5 65 65 }} {{ printf "%T %T %T %T" .n .f .list .map }}'
    ),
    c('{{ printf "%6.2f|%+d|% d|%x|%#x|%#o" 3.14159 5 5 "hi" 255 8 }}'),
    c('{{ printf "%s" .null }} {{ printf "%d" .null }} {{ printf "%v" .missing }} {{ printf "%z" 1 }}'),
    c('{{ printf "%*d|%-*d|%.*f" 5 42 5 42 2 3.14159 }}'),
    c('{{ printf "%g %g %g %g %.3g %.10g" 100000.0 1000000.0 0.00001 123.456 123.456 1.0 }}'),
    c('{{ printf "%v %v %v" 1e21 1e20 123456789012.0 }}'),
    c('{{ html .html }} {{ js .html }} {{ urlquery .html }} {{ html .missing }} {{ urlquery "a b&c=d/é" }}'),
    c('{{ js "line\\nbreak\\u2028 \\x01 =" }}'),
    c("{{ html 1 2 }} {{ js .list }}"),
    c("{{ call .name }}"),
    c("{{ undefinedfn }}"),
    # --- parse errors ---
    c("{{ .name "),
    c("{{ if .t }}unclosed"),
    c("{{ end }}"),
    c("{{ else }}"),
    c("{{ .name | 3 }}"),
    c("{{ $undefined }}"),
    c("{{ range $a, $b, $c := .list }}{{ end }}"),
    c("{{ break }}"),
    c("{{ ( .name }}"),
    c("{{ .name ) }}"),
    c('{{ "unterminated }}'),
    c("{{ 1x }}"),
    c("{{ 'ab' }}"),
    c("{{ .a..b }}"),
    c("{{ @ }}"),
    c("line1\nline2 {{ .name\n | upper }}"),
    c("line1\n{{ if .t }}\n{{ else }}\n{{ else }}\n{{ end }}"),
    c("{{ 99999999999999999999 }}"),
    c('{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}'),
    c("{{/* unclosed comment }}"),
    c("{{ $x := 1 }}{{ $x := 2 }}{{ $x }}"),
    # --- sprig: strings ---
    c('{{ upper .name }} {{ lower .s }} {{ title "hello wORLD foo_bar-baz" }} {{ untitle "Hello World" }}'),
    c("{{ .unicode | upper }} {{ .unicode | title }} {{ .unicode | lower }}"),
    c(
        '{{ trim "  x  " }}|{{ trimAll "$" "$$x$" }}|{{ trimPrefix "gu" .name }}|{{ trimSuffix "book" .name }}|{{ trimPrefix "" .name }}'
    ),
    c(
        '{{ replace "o" "0" .s }} {{ replace "" "-" "ab" }} {{ contains "World" .s }} {{ hasPrefix "Hell" .s }} {{ hasSuffix "x" .s }}'
    ),
    c(
        '{{ quote .name .n .null .list }} {{ squote .name .n .null }} {{ cat .name .n .null "z" }} {{ quote }}'
    ),
    c('{{ indent 4 .multiline }}|{{ nindent 2 "a\\nb" }}|{{ indent 0 "x" }}'),
    c(
        '{{ trunc 5 .s }}|{{ trunc -5 .s }}|{{ trunc 50 .s }}|{{ abbrev 8 .s }}|{{ abbrev 3 .s }}|{{ abbrevboth 5 10 "1234567890abcdefghij" }}'
    ),
    c('{{ repeat 3 "ab" }}|{{ substr 0 5 .s }}|{{ substr 7 -1 .s }}|{{ substr -1 3 .s }}'),
    c('{{ substr 2 100 "abc" }}'),
    c('{{ substr 5 2 "abcdef" }}'),
    c('{{ repeat -1 "x" }}'),
    c(
        '{{ splitList "," "a,b,,c" }} {{ splitList "" "abc" }} {{ join "-" .list }} {{ join "," .nums }} {{ join "," .mixed }}'
    ),
    c('{{ $p := split "/" "a/b/c" }}{{ $p._0 }} {{ $p._2 }} {{ $p }}'),
    c('{{ $p := splitn "/" 2 "a/b/c" }}{{ $p._1 }}'),
    c("{{ toString .n }} {{ toString .f }} {{ toString .list }} {{ toString .null }} {{ toString .t }}"),
    c(
        '{{ nospace " a b\\tc " }} {{ initials "hello big world" }} {{ swapcase "Hello World" }} {{ plural "one" "many" 2 }} {{ plural "one" "many" 1 }}'
    ),
    c(
        '{{ snakecase "HTTPServerName" }} {{ snakecase "fooBar baz" }} {{ camelcase "foo_bar-baz qux" }} {{ kebabcase "SimpleXMLParser2Go" }}'
    ),
    c(
        '{{ snakecase "Bld4Floor" }} {{ snakecase "HTTP2xx" }} {{ camelcase "_leading" }} {{ camelcase "x" }} {{ kebabcase "a.b-c_d e" }}'
    ),
    c('{{ wrap 10 "The quick brown fox jumps over the lazy dog" }}|{{ wrapWith 5 "<br>" "abcdefghij klm" }}'),
    c(
        '{{ sha256sum .name }} {{ sha1sum .name }} {{ adler32sum .name }} {{ b64enc .name }} {{ b64dec "Z3Vlc3Rib29r" }} {{ b64dec "!!" }}'
    ),
    c("{{ b32enc .name }} {{ b32dec (b32enc .name) }}"),
    c(
        '{{ atoi "42" }} {{ atoi "x" }} {{ atoi "-7" }} {{ int "12" }} {{ int64 "0x10" }} {{ float64 "1.5" }} {{ int 3.9 }} {{ int .t }} {{ int .null }}'
    ),
    c('{{ int64 "12.0" }} {{ int64 "12.5" }} {{ float64 "abc" }} {{ float64 .n }} {{ int .list }}'),
    c("{{ upper 3 }}"),
    c("{{ upper .n }}"),
    c("{{ upper .missing }}"),
    c("{{ .missing | upper }}"),
    c('{{ repeat .n "x" }}'),
    c('{{ repeat "3" "x" }}'),
    # --- sprig: defaults and flow ---
    c(
        '{{ default "d" .missing }} {{ default "d" .empty }} {{ default "d" .name }} {{ .missing | default "x" }} {{ default "d" .zero }} {{ default "d" }}'
    ),
    c(
        "{{ empty .empty }} {{ empty .name }} {{ empty .zero }} {{ empty .emptymap }} {{ empty .missing }} {{ empty .f }}"
    ),
    c(
        '{{ coalesce .missing .empty .name }} {{ coalesce .missing .empty }} {{ ternary "y" "n" .t }} {{ ternary "y" "n" false }}'
    ),
    c("{{ all .name .n }} {{ all .name .zero }} {{ any .empty .n }} {{ any .empty .zero }}"),
    c('{{ fail "boom" }}'),
    c(
        '{{ dig "values" "revision" "none" . }} {{ dig "values" "nope" "none" . }} {{ dig "map" "c" "d" "x" . }}'
    ),
    c('{{ .cluster }}{{ dig "nameSuffix" "" . }}'),
    c('{{ dig "name" "x" "d" . }}'),
    c('{{ dig "a" . }}'),
    # --- sprig: lists ---
    c(
        '{{ list 1 "a" .null }} {{ first .list }} {{ last .list }} {{ rest .list }} {{ initial .list }} {{ append .list "d" }} {{ prepend .list "z" }}'
    ),
    c(
        '{{ reverse .list }} {{ uniq (list 1 1 2 "a" "a") }} {{ without .list "a" }} {{ has "a" .list }} {{ has "z" .list }} {{ compact (list 0 1 "" "a" .null) }}'
    ),
    c(
        "{{ sortAlpha .list }} {{ sortAlpha .nums }} {{ slice .list 1 }} {{ slice .list 0 2 }} {{ concat .list .nums }} {{ chunk 2 .list }}"
    ),
    c(
        "{{ first .emptylist }} {{ rest .emptylist }} {{ last .emptylist }} {{ toJson (rest .emptylist) }} {{ slice .emptylist }}"
    ),
    c("{{ first .missing }}"),
    c("{{ first .name }}"),
    c('{{ has "a" .missing }}'),
    c(
        "{{ until 5 }} {{ untilStep 0 10 3 }} {{ until -3 }} {{ seq 5 }} {{ seq 1 3 }} {{ seq 5 -1 1 }} {{ seq 2 2 10 }}"
    ),
    c("{{ range $i := until 3 }}{{ $i }}{{ end }} {{ len (until 4) }}"),
    c("{{ slice .list 2 9 }}"),
    # --- sprig: dicts ---
    c('{{ $d := dict "a" 1 "b" "two" }}{{ $d.a }} {{ $d.b }} {{ $d }} {{ dict "x" }} {{ dict }}'),
    c(
        '{{ get .map "a" }} {{ get .map "zz" }} {{ hasKey .map "a" }} {{ hasKey .map "z" }} {{ pluck "a" .map (dict "a" 9) }}'
    ),
    c('{{ keys .map | sortAlpha }} {{ pick .map "a" "c" }} {{ omit .map "a" }} {{ len (values .map) }}'),
    c('{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }} {{ unset $d "a" }} {{ $d }}'),
    c(
        '{{ merge (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 3 "n" (dict "y" 2)) }} {{ mergeOverwrite (dict "a" 1 "z" 5) (dict "a" 2 "b" 3 "z" 0) }}'
    ),
    c('{{ get .list "a" }}'),
    c('{{ set .missing "a" 1 }}'),
    # --- sprig: numbers ---
    c(
        "{{ add 1 2 3 }} {{ add .n .n }} {{ add1 .n }} {{ sub 10 .n }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div -7 2 }} {{ mod 7 3 }} {{ mod -7 3 }}"
    ),
    c(
        "{{ max 1 5 3 }} {{ min 4 2 8 }} {{ biggest 1 9 }} {{ maxf 1.5 2.5 }} {{ minf 1.5 0.5 }} {{ ceil 1.2 }} {{ floor 1.8 }} {{ round 3.14159 2 }} {{ round 2.5 0 }}"
    ),
    c(
        "{{ addf 1.1 2.2 }} {{ subf 5.5 1.2 }} {{ mulf 1.1 3 }} {{ divf 10 3 }} {{ add1f 1.5 }} {{ divf 1 8 }}"
    ),
    c('{{ add .f 1 }} {{ add "3" 4 }} {{ add .null 1 }} {{ add .big 1 }} {{ mul .f 2 }}'),
    c("{{ div 1 0 }}"),
    c("{{ add 9223372036854775807 1 }}"),
    c('{{ toDecimal "777" }} {{ toDecimal "9" }}'),
    # --- sprig: encoding ---
    c(
        "{{ toJson .map }} {{ toJson .html }} {{ toJson .mixed }} {{ toJson .f }} {{ toJson .big }} {{ toJson 1e21 }} {{ toJson 1e-7 }} {{ toJson .null }}"
    ),
    c("{{ toPrettyJson .map }}\n{{ toPrettyJson .emptylist }} {{ toPrettyJson .emptymap }}"),
    c('{{ toRawJson .html }} {{ toJson "\\u2028\\t\\x01" }}'),
    c("{{ .values | toJson }} {{ .app.spec.source | toJson }}"),
    c(
        '{{ $o := fromJson "{\\"a\\": 1, \\"b\\": [true, null, \\"x\\"]}" }}{{ $o.a }} {{ $o.b }} {{ $o }} {{ fromJson "nope" }}'
    ),
    c('{{ mustFromJson "nope" }}'),
    c("{{ toYaml .map }}"),
    c("{{ toYaml .app }}"),
    c(
        '{{ toYaml .mixed }}|{{ toYaml .name }}|{{ toYaml .n }}|{{ toYaml "yes" }}|{{ toYaml "123" }}|{{ toYaml .empty }}|{{ toYaml .multiline }}'
    ),
    c('{{ toYaml (dict "a10" 1 "a2" 2 "b" 3 "A" 4 "1" 5 "10" 6 "2" 7) }}'),
    c(
        '{{ toYaml (dict "k" "a: b" "t" "2024-01-01" "f" "1.5" "n" "null" "s" " lead" "x" "#c" "u" "héllo") }}'
    ),
    c(
        '{{ $m := fromYaml "a: 1\\nb: [x, y]\\nc: yes\\nd: 2024-01-01\\n" }}{{ $m.a }} {{ $m.b }} {{ $m.c }} {{ $m.d }}'
    ),
    c('{{ fromYaml "- a\\n- b" }}'),
    c('{{ fromYamlArray "- a\\n- 2" }}'),
    c('{{ fromYaml "" }}'),
    # --- sprig: regex ---
    c(
        '{{ regexMatch "^g.*k$" .name }} {{ regexMatch "[" .name }} {{ regexFind "o+" .name }} {{ regexFindAll "[aeiou]" .name -1 }} {{ regexFindAll "[aeiou]" .name 2 }}'
    ),
    c(
        '{{ regexReplaceAll "(o+)" .name "<$1>" }} {{ regexReplaceAll "(?P<first>g)" .name "${first}G" }} {{ regexReplaceAllLiteral "o" .name "$1" }} {{ regexReplaceAll "x*" "abc" "-" }}'
    ),
    c(
        '{{ regexSplit "[,;]" "a,b;c" -1 }} {{ regexSplit "," "a,b,c" 2 }} {{ regexQuoteMeta "a.b*c" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }}'
    ),
    c('{{ regexFind "[" .name }}'),
    c('{{ mustRegexMatch "[" .name }}'),
    # --- sprig: paths, urls, semver, reflection ---
    c(
        '{{ base .path.path }} {{ dir .path.path }} {{ ext "a/b.tar.gz" }} {{ clean "a//b/../c/." }} {{ isAbs "/x" }} {{ base "" }} {{ dir "file" }} {{ clean "/../a" }}'
    ),
    c(
        '{{ $u := urlParse "https://user:pw@example.com:8443/a/b?x=1#frag" }}{{ $u.scheme }} {{ $u.host }} {{ $u.hostname }} {{ $u.path }} {{ $u.query }} {{ $u.fragment }} {{ $u.userinfo }}'
    ),
    c('{{ urlJoin (dict "scheme" "https" "host" "example.com" "path" "/a b" "query" "x=1") }}'),
    c(
        '{{ semverCompare ">=1.2.0" "1.3.0" }} {{ semverCompare "~1.2" "1.2.9" }} {{ semverCompare "~1.2" "1.3.0" }} {{ semverCompare "^1.0" "2.0.0" }} {{ semverCompare "1.x" "1.9.9" }} {{ semverCompare ">1.0.0" "1.1.0-beta" }}'
    ),
    c(
        '{{ semverCompare ">=1.0.0-0" "1.1.0-beta" }} {{ semverCompare "1.0 - 2.0" "1.5.0" }} {{ semverCompare "<1 || >=3" "3.1.0" }} {{ semverCompare "!=1.2.3" "1.2.3" }} {{ semverCompare "^0.2.3" "0.2.9" }}'
    ),
    c('{{ semverCompare "bad" "1.0.0" }}'),
    c('{{ semverCompare ">1" "x.y" }}'),
    c(
        '{{ $v := semver "1.2.3-beta.1+build" }}{{ $v.Major }}.{{ $v.Minor }}.{{ $v.Patch }} {{ $v.Prerelease }} {{ $v.Metadata }} {{ $v }}'
    ),
    c(
        '{{ typeOf .n }} {{ typeOf .f }} {{ typeOf .list }} {{ typeOf .map }} {{ typeOf .null }} {{ typeOf 1 }} {{ typeOf (splitList "," "a") }} {{ kindOf .map }} {{ kindOf .n }} {{ kindIs "string" .name }} {{ typeIs "int64" .n }}'
    ),
    c("{{ deepEqual .list .list }} {{ deepEqual .map .list }} {{ deepEqual 1 1 }}"),
    # --- dates (deterministic ones) ---
    c('{{ toDate "2006-01-02" "2024-05-01" }}'),
    c(
        '{{ toDate "2006-01-02" "2024-05-01" | date "Jan 2, 2006 15:04 MST" }} {{ unixEpoch (toDate "2006-01-02T15:04:05Z07:00" "2024-05-01T10:00:00+02:00") }}'
    ),
    c(
        '{{ date "2006-01-02T15:04:05Z07:00" 1714557600 }} {{ dateInZone "Mon Jan _2 03:04:05PM 2006 -0700" 1714557600 "UTC" }} {{ dateInZone "2006-01-02 15:04 MST" 1714557600 "Asia/Tokyo" }}'
    ),
    c(
        '{{ dateModify "1h30m" (toDate "2006-01-02" "2024-05-01") }} {{ dateModify "bad" (toDate "2006-01-02" "2024-05-01") }}'
    ),
    c(
        '{{ duration 95 }} {{ duration "3700" }} {{ duration .n }} {{ durationRound "2h10m" }} {{ durationRound "400h" }}'
    ),
    c(
        '{{ (toDate "2006-01-02" "2024-05-01").Year }} {{ (toDate "2006-01-02" "2024-05-01").Format "Monday" }} {{ (toDate "2006-01-02" "2024-05-01").Unix }}'
    ),
    c('{{ toDate "2006-01-02" "bad" }}'),
    c('{{ mustToDate "2006-01-02" "2024-13-01" }}'),
    c('{{ htmlDate 0 }} {{ htmlDateInZone 86399 "UTC" }}'),
    c('{{ toDate "2006-01-02T15:04:05.000Z07:00" "2024-05-01T10:00:00.123+05:30" }}'),
    # --- Argo CD's additions ---
    c(
        '{{ normalize "Guest_Book/App" }} {{ "guestbook" | normalize }} {{ normalize .branch }} {{ normalize "--a--" }}'
    ),
    c(
        '{{ cat .branch | slugify }} {{ cat .branch | slugify 23 }} {{ cat .branch | slugify 10 false }} {{ slugify "A b.c" }}'
    ),
    c('{{ slugify 5 "abc" }}'),
    c('{{ slugify "a" "b" }}'),
    # --- ApplicationSet documentation examples ---
    c("hellos3-{{.name}}-{{ cat .branch | slugify 23 }}", DATA, ERR),
    c('{{index .metadata.labels "environment"}}-{{index .metadata.annotations "my/annotation"}}', DATA, ERR),
    c("{{.path.basename}}-{{ normalize .path.path }}", DATA, ERR),
    c("{{.cluster}}-guestbook {{.url}}", DATA, ERR),
    c('{{.cluster}}{{dig "nameSuffix" "" .}}', {"cluster": "c1", "url": "u"}, ERR),
    c("{{ .values.revision }}", DATA, ERR),
    c("{{ .values.missing }}", DATA, ERR),
    c("{{ base .path.path }}", DATA, ERR),
    c('{{ if eq .cluster "prod-eu" }}prod{{ else }}dev{{ end }}', DATA, ERR),
    # --- notifications (the engine's function map) ---
    c(
        '{{if eq .serviceType "slack"}}:white_check_mark:{{end}} Application {{.app.metadata.name}} has been successfully synced at {{.app.status.operationState.finishedAt}}.',
        funcs="notifications",
        name="app-sync-succeeded",
    ),
    c(
        '"value": {{- if .app.spec.source }} ":arrow_heading_up: {{ .app.spec.source.repoURL }}" {{- else if .app.spec.sources }} "{{- range $index, $source := .app.spec.sources }}{{ if $index }}\\n{{ end }}:arrow_heading_up: {{ $source.repoURL }}{{- end }}" {{- end }}',
        funcs="notifications",
    ),
    c(
        '{{range $index, $c := .app.status.conditions}}\n  ,\n  {"title": "{{$c.type}}", "value": "{{$c.message}}"}\n{{end}}',
        funcs="notifications",
    ),
    c(
        "{{ .context.argocdUrl }}/applications/{{ .app.metadata.name }}?operation=true {{ .context.nope }}",
        funcs="notifications",
    ),
    c(
        '{{ (call .time.Parse .app.status.operationState.startedAt).Format "2006-01-02 15:04" }}',
        funcs="notifications",
    ),
    c(
        "{{ (call .time.Parse .app.status.operationState.finishedAt).Sub (call .time.Parse .app.status.operationState.startedAt) }}",
        funcs="notifications",
    ),
    c(
        '{{ call .strings.ReplaceAll .app.metadata.name "book" "BOOK" }} {{ call .strings.ToUpper "x" }}',
        funcs="notifications",
    ),
    c('{{ call .time.Parse "bad" }}', funcs="notifications"),
    c("{{ call .time.Parse }}", funcs="notifications"),
    c("{{ call .time.Parse 3 }}", funcs="notifications"),
    c('{{ .time.Parse "x" }}', funcs="notifications"),
    c("{{ .time.Parse }}", funcs="notifications"),
    c('{{ .time.Minute }} {{ .time.RFC3339 }} {{ printf "%d" .time.Second }}', funcs="notifications"),
    c("{{ (call .time.Parse .app.status.operationState.startedAt).Add .time.Hour }}", funcs="notifications"),
]
