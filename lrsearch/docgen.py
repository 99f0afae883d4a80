"""``python -m lrsearch.docgen cli|study-file``: print a reference page of the documentation site.

The pages are generated from the code (:func:`lrsearch.cli.cli_reference`, :func:`lrsearch.config.study_file_reference`);
``docs/hooks.py`` adds them to the site at every build.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from lrsearch.cli import cli_reference
    from lrsearch.config import study_file_reference

    which = (argv if argv is not None else sys.argv[1:]) or ["cli"]
    pages = {"cli": cli_reference, "study-file": study_file_reference}
    if which[0] not in pages:
        print(f"usage: python -m lrsearch.docgen {'|'.join(pages)}", file=sys.stderr)
        return 2
    sys.stdout.write(pages[which[0]]())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
