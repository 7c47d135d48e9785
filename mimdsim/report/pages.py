"""Generated blocks inside hand-written docs pages.

A page marks each generated block with ``<!-- KEY -->`` and ``<!-- /KEY -->`` lines; the
generator replaces what lies between them and a test checks that the page holds what the
generator makes now (docs/snn.md's step tables, docs/gpu_baseline.md's GPU tables).

>>> replace_block("a\\n<!-- t -->\\nold\\n<!-- /t -->\\nb", "t", "new")
'a\\n<!-- t -->\\nnew\\n<!-- /t -->\\nb'
"""

from __future__ import annotations

import re

__all__ = ["block", "replace_block"]


def block(key: str, body: str) -> str:
    """``body`` between the markers of ``key``, as it stands on a page."""
    return f"<!-- {key} -->\n{body}\n<!-- /{key} -->"


def replace_block(text: str, key: str, body: str) -> str:
    """``text`` with the block of ``key`` replaced by ``body``.

    Raises
    ------
    ValueError
        ``text`` has no ``<!-- key -->`` ... ``<!-- /key -->`` block.
    """
    m = re.compile(rf"<!-- {re.escape(key)} -->\n.*?<!-- /{re.escape(key)} -->", re.DOTALL).search(text)
    if m is None:
        raise ValueError(f"the page has no <!-- {key} --> ... <!-- /{key} --> block")
    return text[: m.start()] + block(key, body) + text[m.end() :]
