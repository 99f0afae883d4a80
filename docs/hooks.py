"""MkDocs hooks of the lrsearch site (``hooks:`` in mkdocs.yml).

- ``Guides: guides/`` in the nav becomes every page in ``docs/guides/``, sorted by title: engineers add a guide
  by adding its file.
- The command-line and study-file references are generated from the parser and the schema
  (``lrsearch.cli.cli_reference``, ``lrsearch.config.study_file_reference``), and ``benchmarks/README.md`` and ``RESULTS.md`` are published as pages, at every
  build: none of them can drift from what they describe.
- A link to a file of the repository outside ``docs/`` (``../../examples/gan.py``) is shown as that file's path
  in code, since the site cannot serve it; a link to a file that exists nowhere is left for ``--strict`` to catch.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[1]
GUIDES = "guides/"
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("_", " ").replace("-", " ").capitalize()


def guide_pages(docs_dir: Path) -> list[dict[str, str]]:
    pages = sorted((docs_dir / "guides").glob("*.md"), key=lambda p: _title(p).lower())
    return [{_title(p): f"{GUIDES}{p.name}"} for p in pages]


def _fill(nav: list, docs_dir: Path) -> list:
    out = []
    for item in nav:
        if isinstance(item, dict):
            (name, value), = item.items()
            if value == GUIDES:
                value = guide_pages(docs_dir)
            elif isinstance(value, list):
                value = _fill(value, docs_dir)
            out.append({name: value})
        else:
            out.append(item)
    return out


def on_config(config, **_kwargs):
    config["nav"] = _fill(config["nav"] or [], Path(config["docs_dir"]))
    return config


def _generated() -> dict[str, str]:
    from lrsearch.cli import cli_reference
    from lrsearch.config import study_file_reference

    pages = {"reference/cli.md": cli_reference(), "reference/study-file.md": study_file_reference()}
    for name, source in (("suites.md", "README.md"), ("results.md", "RESULTS.md")):
        text = (REPO / "benchmarks" / source).read_text(encoding="utf-8")
        text = text.replace("](README.md)", "](suites.md)").replace("](RESULTS.md)", "](results.md)")
        pages[f"benchmarks/{name}"] = text
    return pages


def on_files(files, config, **_kwargs):
    for src_uri, content in _generated().items():
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_page_markdown(markdown, page, config, **_kwargs):
    docs_dir = Path(config["docs_dir"]).resolve()
    base = (docs_dir / page.file.src_uri).parent

    def repo_file(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return match.group(0)
        path = (base / target.split("#", 1)[0]).resolve()
        if path.is_relative_to(docs_dir) or not path.is_relative_to(REPO) or not path.exists():
            return match.group(0)
        shown = path.relative_to(REPO).as_posix()
        return label if shown in label else f"{label} (`{shown}`)"

    return _LINK.sub(repo_file, markdown)
