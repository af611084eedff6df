"""Rewrite one section of BENCHMARKS.md, leaving the others as they are.

Each benchmark owns the text between `<!-- NAME:start -->` and
`<!-- NAME:end -->`; a section that is not there yet is appended.
"""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def replace_section(name: str, markdown: str, path: Path = BENCHMARKS) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"<!-- {name}:start -->\n{markdown.strip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def machine() -> str:
    import os

    import numpy

    versions = [f"Python {sys.version.split()[0]}", f"NumPy {numpy.__version__}"]
    try:
        import keras
        import tensorflow

        versions += [f"TensorFlow {tensorflow.__version__}", f"Keras {keras.__version__}"]
    except ImportError:
        pass
    return f"{os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}); " + ", ".join(versions)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
