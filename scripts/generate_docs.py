"""Write (or check) every generated section of the docs, from the code. One command for all:

    make docs                                          # = .venv/bin/python scripts/generate_docs.py
    .venv/bin/python scripts/generate_docs.py --check  # in `make lint` (CI): exit 1 when stale

A generated section sits between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`
(NAME is the generator that writes it); everything outside the markers is written by hand.

| file | section | generator |
|---|---|---|
| docs/configuration.md | environment variables, per-connection settings | settings_reference.py |
| docs/architecture.md | the message table | message_table.py |
| docs/admin-api.md | the HTTP routes of every service | admin_routes.py |

A generator that finds something undocumented (a setting without a meaning, an event without a
docstring, a route without a docstring) says so on stderr, and this exits 1 in both modes.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import admin_routes, message_table, settings_reference

REPO = Path(__file__).resolve().parents[1]

Render = Callable[[], tuple[str, list[str]]]


@dataclass(frozen=True)
class Section:
    file: str  # relative to the repository
    name: str  # what follows "generated: " in the markers
    render: Render


SECTIONS: tuple[Section, ...] = (
    Section(
        "docs/configuration.md",
        "scripts/settings_reference.py",
        settings_reference.render_environment,
    ),
    Section(
        "docs/configuration.md",
        "scripts/settings_reference.py --connections",
        settings_reference.render_connections,
    ),
    Section("docs/architecture.md", "scripts/message_table.py", message_table.render),
    Section("docs/admin-api.md", "scripts/admin_routes.py", admin_routes.render),
)


def _pattern(name: str) -> re.Pattern[str]:
    quoted = re.escape(name)
    return re.compile(
        rf"(<!-- BEGIN generated: {quoted} -->\n)(.*?)(<!-- END generated: {quoted} -->)",
        re.DOTALL,
    )


def replace_section(doc: str, name: str, text: str) -> str:
    """`doc` with the section `name` holding `text`; ValueError when the markers are missing."""
    pattern = _pattern(name)
    if len(pattern.findall(doc)) != 1:
        raise ValueError(f"needs exactly one pair of markers for {name!r}")
    return pattern.sub(lambda m: m.group(1) + text + m.group(3), doc)


def run(root: Path, *, check: bool, sections: tuple[Section, ...] = SECTIONS) -> int:
    """Write each section under `root` (or, with `check`, only compare). 0 when all is current."""
    status = 0
    rendered: dict[str, tuple[str, list[str]]] = {}
    files: dict[str, str] = {}
    for section in sections:
        text, problems = rendered.setdefault(section.name, section.render())
        for problem in problems:
            print(f"{section.name}: {problem}", file=sys.stderr)
            status = 1
        path = root / section.file
        current = files.setdefault(section.file, path.read_text(encoding="utf-8"))
        try:
            files[section.file] = replace_section(current, section.name, text)
        except ValueError as exc:
            print(f"{section.file}: {exc}", file=sys.stderr)
            status = 1
    for file, new in files.items():
        path = root / file
        old = path.read_text(encoding="utf-8")
        if new == old:
            continue
        if check:
            diff = difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"{file} (as it is)",
                tofile=f"{file} (from the code)",
                n=1,
            )
            sys.stderr.writelines(diff)
            print(f"{file} is out of date: run `make docs` and commit the result", file=sys.stderr)
            status = 1
        else:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {file}", file=sys.stderr)
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if any section is stale"
    )
    args = parser.parse_args()
    return run(REPO, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
