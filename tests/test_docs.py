"""The Python examples in README.md and docs/*.md run.

Every fenced block whose info string is exactly ``python`` is executed; the blocks of one
file run in order in one namespace (like a session), in a temporary working folder. Mark
a block that must not run with another info string (``pycon``, ``py``, ``text``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(first line number, code)`` of every runnable block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


DOCS = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if p.is_file() and python_blocks(p)]


def test_readme_has_a_runnable_example() -> None:
    assert python_blocks(ROOT / "README.md"), "README.md should have a ```python example"


def test_block_extraction(tmp_path: Path) -> None:
    md = tmp_path / "x.md"
    md.write_text("text\n```python\na = 1\n```\n```pycon\n>>> no\n```\n```python\nb = a + 1\n```\n")
    assert python_blocks(md) == [(3, "a = 1\n"), (9, "b = a + 1\n")]


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_markdown_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, code in python_blocks(path):
        # pad with newlines so tracebacks give the line number in the Markdown file
        exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)
