"""Every file in ``malformed/`` is rejected, with the message and the line its header promises.

Adding a case is adding a file. Its first line is a comment saying what is wrong; then one or more lines

    # expect: LINE: FRAGMENT

where LINE is the 1-based line in that file, ``-`` when the problem has no line (e.g. an empty file), or
``OTHER_FILE:LINE`` for a problem found in a file next to it (a dataset). FRAGMENT must appear in the reported
``where: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlchaos.experiments.loader import Problem, ScenarioInvalid, load_scenario

CASES = sorted((Path(__file__).parent / "malformed").glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (?:(?P<file>[\w.-]+):)?(?P<line>\d+|-): (?P<fragment>.+)$")


@dataclass(frozen=True)
class Expected:
    file: Path
    line: int | None
    fragment: str

    def matches(self, problem: Problem) -> bool:
        text = f"{problem.where}: {problem.message}" if problem.where else problem.message
        return problem.file == self.file and problem.line == self.line and self.fragment in text


def expectations(case: Path) -> list[Expected]:
    found = []
    for line in case.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := _EXPECT.match(line):
            file = case.parent / match["file"] if match["file"] else case
            number = None if match["line"] == "-" else int(match["line"])
            found.append(Expected(file, number, match["fragment"]))
    return found


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 14


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_the_header_says_what_is_wrong_and_what_to_expect(case: Path) -> None:
    first = case.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and not _EXPECT.match(first), "line 1: a comment saying what is wrong"
    assert expectations(case), "the header needs at least one '# expect: LINE: FRAGMENT' line"


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_malformed_scenario_is_reported_where_it_is_wrong(case: Path) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(case)
    problems = caught.value.problems
    for expected in expectations(case):
        assert any(expected.matches(p) for p in problems), f"no problem like {expected} in:\n{caught.value}"
    for problem in problems:
        assert str(problem).startswith(str(problem.file))
