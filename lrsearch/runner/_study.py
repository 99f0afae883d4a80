"""Opening a study: pre-flight checks, create or resume, the stored spec, budget bookkeeping."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa

from lrsearch.config import StudySpec, build_pruner, build_sampler, import_plugins, spec_hash
from lrsearch.errors import SpecError, StorageError
from lrsearch.search import queue_recipes
from lrsearch.space import SearchSpace
from lrsearch.storage import (
    Store,
    check_storage,
    existing_study,
    keep_reserve,
    optuna_storage,
    redact,
    sqlite_path,
)
from lrsearch.storage.optuna_adapter import count_trials_by_state, study_id
from lrsearch.version import __version__

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
_STATE_NAMES = [s.name for s in optuna.trial.TrialState]


@dataclass
class StudyHandle:
    """An open study: the Optuna study, lrsearch's store, the spec and its search space."""

    spec: StudySpec
    study: optuna.Study
    store: Store
    space: SearchSpace
    url: str

    @property
    def name(self) -> str:
        return self.spec.name

    def counts(self, conn: sa.Connection | None = None) -> dict[str, int]:
        """Trials per state, counted in SQL (one indexed query, cheap at thousands of trials)."""
        if conn is None:
            with self.store.engine.connect() as own:
                rows = count_trials_by_state(own, study_id(self.study))
        else:
            rows = count_trials_by_state(conn, study_id(self.study))
        counts = dict.fromkeys(_STATE_NAMES, 0)
        for state, n in rows:
            counts[str(state).split(".")[-1]] = int(n)
        return counts

    @contextlib.contextmanager
    def budget_lock(self) -> Iterator[sa.Connection | None]:
        """A lock across processes and machines around "is there budget left? then ask for a trial".

        SQLite: a file lock beside the database. PostgreSQL: a transaction-scoped advisory lock on the study's
        name; MySQL/MariaDB: ``GET_LOCK`` on a name derived from it. The connection holding the lock is yielded,
        so that the count runs in the same round trips.
        """
        path = sqlite_path(self.url)
        if path is not None:
            from filelock import FileLock  # portable (fcntl is POSIX-only)

            with FileLock(f"{path}.lock", is_singleton=True):
                yield None
            return
        if self.store.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:8], "big") & 0x7FFFFFFFFFFFFFFF
            with self.store.engine.begin() as conn:  # the lock goes with the transaction
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield conn
            return
        if self.store.engine.dialect.name in ("mysql", "mariadb"):
            # A named lock of the server, held by this connection's session (not its transaction): taken, then the
            # transaction ended, so the count that follows reads what other workers committed before the lock.
            name = "lrsearch:" + hashlib.sha256(self.name.encode()).hexdigest()[:40]
            with self.store.engine.connect() as conn:
                while conn.execute(sa.text("SELECT GET_LOCK(:n, 60)"), {"n": name}).scalar() != 1:
                    conn.rollback()  # another worker held it for 60 s (a slow ask): wait again
                conn.commit()
                try:
                    yield conn
                finally:
                    conn.rollback()
                    conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                    conn.commit()
            return
        yield None


def sampler_and_pruner(spec: StudySpec, space: SearchSpace) -> tuple[optuna.samplers.BaseSampler, optuna.pruners.BasePruner]:
    """The spec's sampler and pruner; ``by_shape`` wraps the pruner to compare trials of the same shapes only."""
    sampler = build_sampler(spec.sampler.name, spec.sampler.seed, spec.sampler.options, conditional=space.is_conditional())
    pruner = build_pruner(spec.pruner.name, spec.pruner.options, spec.budget.epochs)
    if spec.search.strategy == "staged":
        from lrsearch.search import StagedSampler

        sampler = StagedSampler(sampler, spec)
    if spec.pruner.by_shape:
        from lrsearch.pruning import ShapeAwarePruner

        pruner = ShapeAwarePruner(pruner, space)
    return sampler, pruner


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    from lrsearch.config import RESUMABLE_KEYS

    ignore = set(RESUMABLE_KEYS)
    keys = sorted((set(old) | set(new)) - ignore)
    return [k for k in keys if old.get(k) != new.get(k)]


@contextlib.contextmanager
def creation_lock(url: str) -> Iterator[None]:
    """Held while a study is created or opened for a run: two first runs at once on a new database must not both
    create Optuna's and lrsearch's tables (the loser saw "table already exists" and exited 2). SQLite: the file lock
    beside the database; PostgreSQL: a session advisory lock; elsewhere nothing."""
    path = sqlite_path(url)
    if path is not None:
        from filelock import FileLock  # portable (fcntl is POSIX-only)

        # budget_lock's file; re-entered there by this process (recipes are queued under both locks)
        lock = FileLock(f"{path}.lock", is_singleton=True)
        try:
            lock.acquire()
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            # A folder nothing can be written to: no study can be created there either, and the storage check
            # that follows says why (a read-only database is still read by export, best, compare).
            yield
            return
        try:
            yield
        finally:
            lock.release()
        return
    engine = Store(url).engine
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _CREATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _CREATION_LOCK})
            conn.commit()


_CREATION_LOCK = int.from_bytes(hashlib.sha256(b"lrsearch: create tables").digest()[:8], "big") & 0x7FFFFFFFFFFFFFFF


def open_study(spec: StudySpec, url: str | None = None, *, create: bool = True, source: str | None = None) -> StudyHandle:
    """Create the study or resume it. Refuses, without writing anything, a changed search space."""
    url = url or spec.storage
    assert url is not None
    path = sqlite_path(url)
    if path is None or not path.parent.is_dir():
        check_storage(url, create=create)  # a server that cannot be reached, a missing directory: said at once
    with creation_lock(url):
        if path is not None:  # checked under the lock: another first run may be creating the file right now
            check_storage(url, create=create)
        refuse_foreign(url, spec, source)
        handle = _open_study(spec, url, create=create, source=source)
        keep_reserve(url)
        return handle


def _open_study(spec: StudySpec, url: str, *, create: bool, source: str | None) -> StudyHandle:
    store = Store(url)
    new_spec = stored_form(spec, url)
    new_hash = spec_hash(spec)
    saved = store.saved_spec(spec.name)
    if saved is not None and saved["spec_hash"] != new_hash:
        changed = describe_change(saved["spec"], new_spec) or ["budget.epochs"]
        raise SpecError(
            [("", f"study {spec.name!r} in {redact(url)} was created with a different search space "
                  f"(changed: {', '.join(changed)}). Resuming would mix incomparable trials: give the study a new "
                  "name, or restore the original settings.")],
            source,
        )
    storage = optuna_storage(url)
    store.ensure_schema()
    space = SearchSpace(spec)
    sampler, pruner = sampler_and_pruner(spec, space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            study = optuna.create_study(
                study_name=spec.name, storage=storage, sampler=sampler, pruner=pruner,
                direction=spec.objective.direction, load_if_exists=True,
            )
        except ValueError as exc:
            raise StorageError(f"cannot open study {spec.name!r}: {exc}") from None
    if study.direction.name.lower() != spec.objective.direction:
        raise SpecError([("objective.direction", f"study {spec.name!r} exists with direction "
                          f"{study.direction.name.lower()}; a study's direction cannot change")], source)
    if study.metric_names != [spec.objective.metric]:
        # Stock tools (the dashboard, trials_dataframe, plots) then say val_accuracy, not "Objective 0".
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([spec.objective.metric])
    if saved is None or saved["spec"] != new_spec:
        store.save_spec(spec.name, new_spec, new_hash, source, __version__)
    handle = StudyHandle(spec=spec, study=study, store=store, space=space, url=url)
    queue_recipes(handle)
    return handle


def refuse_foreign(url: str, spec: StudySpec, source: str | None) -> None:
    """Refuse, before anything is written, a study of that name lrsearch did not create, or one whose direction
    differs: adopting a plain Optuna study would count its trials toward the budget and mix them into results."""
    found = existing_study(url, spec.name)
    if found is None:
        return
    # An empty study without lrsearch's spec is also what another first run shows between creating the study and
    # storing its spec: nothing of it can be mixed in, so it is taken over.
    if not found.by_lrsearch and found.trials > 0:
        raise StorageError(
            f"{redact(url)} already holds an Optuna study named {spec.name!r} ({found.trials} trial(s)) that "
            "lrsearch did not create; lrsearch will not adopt it (its trials would count toward the budget). Give "
            "the lrsearch study another name, or point storage at another database."
        )
    if found.directions and found.directions != (spec.objective.direction,):
        raise SpecError([("objective.direction", f"study {spec.name!r} exists with direction "
                          f"{', '.join(found.directions)}; a study's direction cannot change")], source)


def stored_form(spec: StudySpec, url: str) -> dict[str, Any]:
    """The spec as saved in the database: JSON, with the storage URL's password hidden."""
    data = spec.model_dump(mode="json")
    data["storage"] = redact(url)
    return data


def open_stored_study(url: str, study_name: str) -> StudyHandle:
    """Open an existing study with the spec stored in its database (workers need no YAML and change nothing)."""
    spec = load_stored_spec(url, study_name)
    store = Store(url)
    space = SearchSpace(spec)
    sampler, pruner = sampler_and_pruner(spec, space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            study = optuna.load_study(study_name=study_name, storage=optuna_storage(url), sampler=sampler, pruner=pruner)
        except KeyError:
            raise StorageError(f"lrsearch study {study_name!r} has no Optuna study in {redact(url)}") from None
    store.ensure_schema()
    handle = StudyHandle(spec=spec, study=study, store=store, space=space, url=url)
    queue_recipes(handle)
    return handle


def load_stored_spec(url: str, study_name: str) -> StudySpec:
    """The spec a study was created with, read from its database (workers need no YAML file)."""
    store = Store(url)
    saved = store.saved_spec(study_name)
    if saved is None:
        known = store.study_names()
        hint = f"; studies here: {', '.join(known)}" if known else "; no lrsearch studies are stored there"
        raise StorageError(f"no lrsearch study {study_name!r} in {redact(url)}{hint}")
    problems = import_plugins(saved["spec"].get("plugins"))
    if problems:  # a worker on a machine without the study's plugin installed
        raise StorageError(f"study {study_name!r} needs its plugins here: " + "; ".join(m for _, m in problems))
    spec = StudySpec.model_validate(saved["spec"])
    spec.storage = url
    return spec


def default_log_dir(url: str) -> Path:
    """Where trial logs go: ``$LRSEARCH_LOG_DIR`` (``--log-dir``), else ``lrsearch-logs/`` next to the SQLite
    file (``lrsearch-logs-<file name>/`` for a file not named ``lrsearch.db``, so that two databases in one folder
    holding studies of the same name keep their logs apart), else in the working directory."""
    if os.environ.get("LRSEARCH_LOG_DIR"):
        return Path(os.environ["LRSEARCH_LOG_DIR"]).expanduser().resolve()
    path = sqlite_path(url)
    if path is None:
        return Path.cwd().resolve() / "lrsearch-logs"
    suffix = "" if path.name == "lrsearch.db" else f"-{path.name}"
    return path.parent.resolve() / f"lrsearch-logs{suffix}"
