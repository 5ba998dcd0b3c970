"""MkDocs hooks: the front page from README.md and the CLI reference from the parsers.

* ``index.md``: ``<!-- README -->`` is replaced by README.md, its ``docs/`` links made
  relative to the site (so the README stays the one front text);
* API pages: the Sphinx roles of the docstrings (``:func:``, ``:class:``, ...) are
  dropped from the rendered code references;
* ``cli.md``: ``<!-- CLI -->`` is replaced by the ``--help`` of ``mlkit`` and of every verb,
  generated from :func:`mlkit.cli.build_parser` at build time, so the reference cannot go
  stale (importing the CLI needs only the standard library and the mlkit source).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme() -> str:
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"^# mlkit\n", "", text)
    return re.sub(r"\]\(docs/", "](", text)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                  None)
    return dict(action.choices) if action else {}


def _walk(name: str, parser: argparse.ArgumentParser, depth: int) -> list[str]:
    parser.prog = name
    out = [f"{'#' * depth} `{name}`", ""]
    if parser.description:
        out += [parser.description, ""]
    out += ["```text", parser.format_help().rstrip(), "```", ""]
    for sub, p in _subparsers(parser).items():
        out += _walk(f"{name} {sub}", p, min(depth + 1, 4))
    return out


def cli_reference() -> str:
    """Markdown: ``mlkit --help`` then each verb's help, nested verbs included."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from mlkit.cli import build_parser

    parser = build_parser()
    lines = ["```text", parser.format_help().rstrip(), "```", ""]
    for verb, p in _subparsers(parser).items():
        lines += _walk(f"mlkit {verb}", p, 2)
    return "\n".join(lines)


#: a Sphinx role in front of rendered code: ``:func:`x``` -> ``<code>x</code>``
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):(<code>)~?")


def on_page_content(html: str, page, config, files) -> str:  # noqa: ANN001 - mkdocs hook
    """Docstrings are written for Sphinx; drop the role prefixes mkdocstrings leaves."""
    return _ROLE.sub(r"\1", html)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - mkdocs hook
    if page.file.src_uri == "index.md":
        return markdown.replace("<!-- README -->", _readme())
    if page.file.src_uri == "cli.md":
        return markdown.replace("<!-- CLI -->", cli_reference())
    return markdown
