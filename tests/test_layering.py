"""The package's import rules, checked on its source (every import statement, also those inside functions).

1. No module imports a private module (``_name``) of another subpackage: across subpackages only public names.
2. Optuna's private API and raw SQL on Optuna's tables appear in ``lrsearch/storage/optuna_adapter.py`` only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "lrsearch"
ADAPTER = PACKAGE / "storage" / "optuna_adapter.py"


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((path, ".".join(parts)))
    return out


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Absolute dotted names each import statement reaches, relative imports resolved."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append((node.lineno, target))
            names += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return names


def _private_across_subpackages(importer: str, target: str) -> bool:
    """``lrsearch.a._b`` (or anything under it) imported from outside subpackage ``lrsearch.a``."""
    parts = target.split(".")
    if parts[0] != "lrsearch" or len(parts) < 3:
        return False
    owner = parts[1]
    if not parts[2].startswith("_") or parts[2].startswith("__"):
        return False
    importer_parts = importer.split(".")
    return len(importer_parts) < 2 or importer_parts[1] != owner


def test_no_private_module_is_imported_across_subpackages() -> None:
    offences = []
    for path, module in _modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, target in _imported_names(tree, module, path.name == "__init__.py"):
            if _private_across_subpackages(module, target):
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    assert not sorted(set(offences)), "private modules imported across subpackages:\n" + "\n".join(sorted(set(offences)))


def test_the_rule_catches_what_it_should() -> None:
    """The checker itself: a private import across subpackages is caught, the allowed forms are not."""
    src = "from lrsearch.space._space import X\nfrom lrsearch.runner import _trial\nimport lrsearch.storage._engine\n"
    tree = ast.parse(src)
    found = [t for _, t in _imported_names(tree, "lrsearch.cli._run", False)
             if _private_across_subpackages("lrsearch.cli._run", t)]
    assert "lrsearch.space._space" in found and "lrsearch.runner._trial" in found
    assert "lrsearch.storage._engine" in found
    assert not _private_across_subpackages("lrsearch.space.__init__", "lrsearch.space._space")
    assert not _private_across_subpackages("lrsearch.cli._run", "lrsearch.space")
    assert not _private_across_subpackages("lrsearch.cli._run", "lrsearch.trial_config")
    relative = _imported_names(ast.parse("from ._space import X\n"), "lrsearch.space", True)
    assert ("lrsearch.space._space" in [t for _, t in relative])


OPTUNA_PRIVATE = re.compile(r"optuna(\.\w+)*\._\w+|\._study_id\b|\._trial_id\b|(?<!dashboard)\._storage\b|_tell_with_warning")
OPTUNA_TABLES = re.compile(r"\b(FROM|JOIN|UPDATE|INTO)\s+(trials|studies|trial_heartbeats|trial_values|"
                           r"trial_params|trial_intermediate_values|study_directions)\b"
                           r"|\btable\(\s*[\"'](trials|studies|trial_\w+|study_\w+)[\"']", re.IGNORECASE)


def test_optuna_internals_only_in_the_adapter() -> None:
    offences = []
    for path, _ in _modules():
        if path == ADAPTER:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if OPTUNA_PRIVATE.search(code) or OPTUNA_TABLES.search(code):
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not offences, "Optuna internals outside lrsearch/storage/optuna_adapter.py:\n" + "\n".join(offences)
    adapter = ADAPTER.read_text()
    assert OPTUNA_PRIVATE.search(adapter) and OPTUNA_TABLES.search(adapter), "the patterns no longer match the adapter"
