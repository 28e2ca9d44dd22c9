"""The people's documentation: README.md and docs/ link only to what exists, and the README stays short.

Every relative link of README.md and docs/*.md must name a file or folder of this repository and,
with ``#anchor``, a heading of that Markdown file (GitHub's anchors: lower case, punctuation but
``-`` and ``_`` dropped, spaces as ``-``). Links in code spans and code blocks are not links.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_LIMIT = 8 * 1024
SHARED_CONTRACT = REPO.parent / "shared" / "ASSIGNMENT_API.md"  # where the course staff keep it, beside the repository

LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)


def _prose(text: str) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(page: Path) -> List[str]:
    """The targets of the Markdown links of ``page`` (not images, not inside code)."""
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> Set[str]:
    found: Dict[str, int] = {}
    result = set()
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = found.get(base, 0)
            result.add(base if count == 0 else f"{base}-{count}")
            found[base] = count + 1
    return result


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def broken(page: Path, root: Path = REPO) -> List[Tuple[str, str]]:
    """``(target, why)`` for every relative link of ``page`` that does not resolve inside ``root``."""
    problems = []
    for target in links(page):
        if not _relative(target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            problems.append((target, "no such file or folder"))
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append((target, f"no heading with the anchor #{anchor} in {destination.name}"))
        elif root not in destination.parents and destination != root:
            problems.append((target, "outside the repository: a clone does not have it"))
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken(page) == []


def test_the_pages_are_linked_together() -> None:
    linked = {(page.parent / t.partition("#")[0]).resolve() for page in PAGES for t in links(page) if _relative(t) and t.partition("#")[0]}
    assert {page.resolve() for page in PAGES} - {(REPO / "README.md").resolve()} <= linked  # no page is an orphan


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# A Dask cluster for --scheduler\n\n## What students see\n## What students see\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-dask-cluster-for---scheduler) [ok](other.md#what-students-see-1) [self](#top)\n"
                    "# Top\n[gone](missing.md) [bad](other.md#nope) [web](https://example.org/x#y) `[code](nowhere.md)`\n"
                    "```\n[fenced](nowhere.md)\n```\n![image](also-missing.png)\n")
    (tmp_path / "repo").mkdir()
    outside = tmp_path / "repo" / "page.md"
    outside.write_text("[contract](../other.md)\n")
    assert [target for target, _ in broken(page, root=tmp_path)] == ["missing.md", "other.md#nope"]
    assert broken(outside, root=tmp_path / "repo") == [("../other.md", "outside the repository: a clone does not have it")]


def test_readme_is_short_and_keeps_grading_in_short() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= README_LIMIT
    for command in ("make demo", "make test"):
        assert command in text
    section = text.split("\n## Grading, in short\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.strip().splitlines() if line.strip()]
    assert 3 <= len(lines) <= 8, lines
    assert "(docs/grading.md)" in section
    first = text.split("\n## ", 1)[0]
    assert "../shared" not in first  # a clone has no ../shared: the contract is linked inside docs/


def test_the_contract_in_docs_is_the_course_staffs_copy() -> None:
    ours = REPO / "docs" / "ASSIGNMENT_API.md"
    assert ours.is_file()
    if not SHARED_CONTRACT.is_file():
        pytest.skip(f"{SHARED_CONTRACT} is not on this machine: nothing to compare docs/ASSIGNMENT_API.md with")
    assert ours.read_bytes() == SHARED_CONTRACT.read_bytes(), "docs/ASSIGNMENT_API.md differs from the staff's contract: copy it again"
