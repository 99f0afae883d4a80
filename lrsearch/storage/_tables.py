"""lrsearch's own tables, in the same database as Optuna's, keyed by (study name, trial number).

- ``lrsearch_studies``: the validated spec of each study (so workers need no YAML, and a changed search space
  for an existing study is detected);
- ``lrsearch_trials``: per trial, the resolved config, seed, worker, device, fail reason, traceback, log file;
- ``lrsearch_epochs``: one row per trial-epoch: step, wall time, metrics;
- ``lrsearch_group_epochs``: per trial-epoch and parameter group: effective lr, momentum/beta1, weight decay, frozen;
- ``lrsearch_confirm``: confirmation runs (a top config retrained with a fresh seed, scored on the test split).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 1

metadata = MetaData()

studies = Table(
    "lrsearch_studies",
    metadata,
    Column("study_name", String(512), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("source", Text),
    Column("lrsearch_version", String(32), nullable=False),
    Column("schema_version", Integer, nullable=False, default=SCHEMA_VERSION),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

trials = Table(
    "lrsearch_trials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_name", String(512), nullable=False, index=True),
    Column("trial_number", Integer, nullable=False),
    Column("config", JSON),
    Column("seed", Integer),
    Column("worker", String(256)),
    Column("device", String(64)),
    Column("fail_reason", String(32)),
    Column("error", Text),
    Column("log_path", Text),
    Column("epochs_run", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("study_name", "trial_number", name="uq_lrsearch_trial"),
)

epochs = Table(
    "lrsearch_epochs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_name", String(512), nullable=False),
    Column("trial_number", Integer, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("wall_time", Float, nullable=False),
    Column("metrics", JSON, nullable=False),
    UniqueConstraint("study_name", "trial_number", "epoch", name="uq_lrsearch_epoch"),
)

group_epochs = Table(
    "lrsearch_group_epochs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_name", String(512), nullable=False),
    Column("trial_number", Integer, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("optimizer", String(128), nullable=False),
    Column("group_name", String(256), nullable=False),
    Column("lr", Float, nullable=False),
    Column("momentum", Float),
    Column("weight_decay", Float),
    Column("frozen", Boolean, nullable=False),
    UniqueConstraint("study_name", "trial_number", "epoch", "optimizer", "group_name", name="uq_lrsearch_group_epoch"),
)

confirm_runs = Table(
    "lrsearch_confirm",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_name", String(512), nullable=False, index=True),
    Column("trial_number", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("value", Float),
    Column("metrics", JSON),
    Column("epochs", Integer),
    Column("duration_s", Float),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("study_name", "trial_number", "seed", name="uq_lrsearch_confirm"),
)

from sqlalchemy import Index  # noqa: E402

Index("ix_lrsearch_epochs_trial", epochs.c.study_name, epochs.c.trial_number)
Index("ix_lrsearch_group_epochs_trial", group_epochs.c.study_name, group_epochs.c.trial_number)
