"""The README stays a newcomer's page: short, its links resolve, and `make test` is its test
command (.ci/run runs what the README says). The docs/ site checks its own links (`make docs`,
MkDocs --strict); the README is not part of that site, so its links are checked here."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAX_BYTES = 15_000


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size < MAX_BYTES, f"README.md is {size} bytes (limit {MAX_BYTES}): move reference to docs/"


def test_readme_links_resolve() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets, "the README links into docs/"
    broken = []
    for target in targets:
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (ROOT / path).exists():
            broken.append(target)
    assert not broken, f"README.md links to missing files: {broken}"


def test_readme_test_command_is_make_test() -> None:
    section = README.read_text().split("\n## Test\n", 1)[1].split("\n## ", 1)[0]
    assert "```bash\nmake test\n```" in section
