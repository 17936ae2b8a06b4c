"""The README stays a front door and the manual in docs/ stays navigable: no dead link, no page left out.

Fast and offline: reads Markdown files only. Links are checked the way a code host resolves them — relative to the
file, anchors against the target page's headings slugged as GitHub slugs them — and links inside code (fenced
blocks, inline code) are not links.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlchaos.experiments.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_BYTES = 10 * 1024
PAGES = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`+[^`]*`+")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of everything outside fenced code blocks, inline code removed."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, _INLINE_CODE.sub("", line)))
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a page has: its headings' slugs (repeats numbered -1, -2 as GitHub does) and HTML anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        found.update(_HTML_ANCHOR.findall(line))
        match = _HEADING.match(line)
        if match:
            slug = _slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` whose file, or anchor on a Markdown page, does not exist; as 'line: problem'."""
    problems = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto: — not ours to check offline
            path_part, _, anchor = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page
            if not linked.exists():
                problems.append(f"{page.name}:{number}: {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{page.name}:{number}: {target}: no heading '#{anchor}' in {linked.name}")
    return problems


def test_the_readme_is_a_front_door_not_a_manual() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes, over {README_MAX_BYTES}: move the detail into docs/ and link to it"
    )


def test_the_manual_exists() -> None:
    assert (DOCS / "index.md").exists()
    assert len(PAGES) >= 10


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path) -> None:
    problems = broken_links(page)
    assert not problems, "dead links:\n" + "\n".join(problems)


def test_the_index_lists_every_page_of_the_manual() -> None:
    index = DOCS / "index.md"
    linked = {
        (index.parent / target.partition("#")[0]).resolve()
        for _, line in _prose_lines(index.read_text(encoding="utf-8"))
        for target in _LINK.findall(line)
    }
    missing = [page.name for page in PAGES if page != index and page.resolve() not in linked]
    assert not missing, f"docs/index.md does not list: {', '.join(missing)}"


def test_the_readme_links_to_the_manual() -> None:
    assert "docs/index.md" in {
        target for _, line in _prose_lines(README.read_text()) for target in _LINK.findall(line)
    }


def test_the_readmes_scenario_is_valid_as_shown(tmp_path: Path) -> None:
    """A newcomer copies it first: it must load as written, its dataset path relative to the catalogue's."""
    block = re.search(
        r"^## A scenario\n\n```yaml\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M
    )
    assert block, "README.md has a '## A scenario' section opening with a YAML block"
    (tmp_path / "data").symlink_to(ROOT / "scenarios" / "data")
    path = tmp_path / "scenario.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    scenario = load_scenario(path).scenario
    assert scenario.faults and scenario.verifiers


def test_the_link_checker_catches_a_dead_file_and_a_dead_anchor(tmp_path: Path) -> None:
    """The checks above would pass vacuously if the parser found no links; this page has one of each kind."""
    (tmp_path / "other.md").write_text("# Other page\n\n## Exit codes: `0` to `4`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#exit-codes-0-to-4) [ok too](#page) [web](https://example.com/x)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere)\n"
        "```\n[inside code](not-checked.md)\n```\n"
        "`[inline](not-checked-either.md)`\n",
        encoding="utf-8",
    )
    problems = broken_links(page)
    assert len(problems) == 2, problems
    assert "missing.md" in problems[0] and "#nowhere" in problems[1]
