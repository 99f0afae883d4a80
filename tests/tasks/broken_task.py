"""A user module whose own import fails: its ImportError must reach the user."""

import lrsearch_no_such_dependency  # noqa: F401


def build() -> None:
    return None
