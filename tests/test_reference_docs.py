"""docs/reference/ is what the code says: regenerated in memory and compared, every kind and field on its page,
every link landing on a heading. A stale page fails here, naming the command that refreshes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from mlchaos.experiments import reference_docs
from mlchaos.experiments.reference_docs import documented_faults, documented_verifiers, reference_files
from mlchaos.experiments.registry import Registered
from mlchaos.experiments.scenario import LoadConfig, Scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
REFRESH = (
    "run `make docs` (python -m mlchaos.experiments.reference_docs docs/reference) and commit the result"
)


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return reference_files()


def test_the_committed_reference_is_what_the_code_generates(generated: dict[str, str]) -> None:
    stale = [
        name
        for name, text in generated.items()
        if not (REFERENCE / name).is_file() or (REFERENCE / name).read_text(encoding="utf-8") != text
    ]
    left_over = sorted(path.name for path in REFERENCE.iterdir() if path.name not in generated)
    assert not stale, (
        f"docs/reference is stale, not what the models and registries generate now: {', '.join(stale)}; {REFRESH}"
    )
    assert not left_over, (
        f"docs/reference holds files nothing generates ({', '.join(left_over)}): delete them"
    )


def test_generating_twice_gives_the_same_bytes(generated: dict[str, str]) -> None:
    assert reference_files() == generated


def test_writing_refreshes_a_stale_page_and_says_which(tmp_path: Path, generated: dict[str, str]) -> None:
    assert reference_docs.write(tmp_path) == list(generated)
    (tmp_path / "faults.md").write_text("edited by hand\n", encoding="utf-8")
    lines: list[str] = []
    assert reference_docs.main([str(tmp_path)], out=lines.append) == 0
    assert lines == [f"{tmp_path}: updated faults.md"]
    assert (tmp_path / "faults.md").read_text(encoding="utf-8") == generated["faults.md"]


def _section(page: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = page.index(f"\n{heading}\n")
    end = page.find(f"\n{level} ", start + len(heading) + 2)
    return page[start : end if end != -1 else len(page)]


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@pytest.mark.parametrize(
    ("page", "kinds"), [("faults.md", documented_faults()), ("verifiers.md", documented_verifiers())]
)
def test_every_kind_has_its_section_with_a_row_per_field(
    page: str, kinds: dict[str, Registered[BaseModel, object]], generated: dict[str, str]
) -> None:
    text = generated[page]
    assert kinds, "the registry lists no kind"
    for name, kind in kinds.items():
        section = _section(text, f"## `{name}`")
        assert f"type: {name}" in section
        for field_name, field in kind.spec.model_fields.items():
            if field_name == "type":
                continue
            row = next(
                line for line in section.splitlines() if line.startswith(f"| `{field.alias or field_name}` |")
            )
            if field.description:
                assert _one_line(field.description.replace("``", "`")) in row, (name, field_name)
            if field.is_required():
                assert "**required**" in row, (name, field_name)


def test_the_scenario_page_lists_every_field_with_its_default(generated: dict[str, str]) -> None:
    text = generated["scenario.md"]
    scenario = _section(text, "## Scenario")
    for name in Scenario.model_fields:
        assert f"| `{name}` |" in scenario
    load = _section(text, "## LoadConfig")
    assert "| `users` | integer ≥ 1, ≤ 1000 | `8` | Concurrent simulated users. |" in load
    assert "| `warmup` | duration ≥ 0 | `0.0` |" in load  # durations: seconds or "10s", shown as such
    assert set(LoadConfig.model_fields) <= {
        line.split("`")[1] for line in load.splitlines() if line.startswith("| `")
    }
    assert "[a fault](faults.md)" in scenario and "[a verifier](verifiers.md)" in scenario


_LINK = re.compile(r"\]\(([^)\s]*)\)")
_CODE = re.compile(r"`[^`]*`")  # a regex in a code span is no link


def _headings(text: str) -> list[str]:
    """The page's headings, outside fenced code, as GitHub slugs them into anchors."""
    found, fenced = [], False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            heading = line.lstrip("#").strip().replace("`", "").lower()
            found.append(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return found


def test_every_heading_of_a_page_has_its_own_anchor(generated: dict[str, str]) -> None:
    """Two headings with one anchor (a verifier `breaker` and a model Breaker) would send a link to the first."""
    for name, text in generated.items():
        anchors = _headings(text) if name.endswith(".md") else []
        assert len(set(anchors)) == len(anchors), name


def test_every_link_of_the_reference_lands_on_a_page_and_a_heading(generated: dict[str, str]) -> None:
    files, broken = generated, []
    for name, text in files.items():
        if not name.endswith(".md"):
            continue
        for target in _LINK.findall(_CODE.sub("", text)):
            page, _, anchor = target.partition("#")
            page = page or name
            if page not in files or (anchor and anchor not in _headings(files[page])):
                broken.append(f"{name}: ({target})")
    assert not broken, broken
