"""The dashboard: optuna-dashboard served on a storage that cannot lock a running study, lrsearch's panels
published into each study, and a self-contained HTML report with the same panels.

Importing this package needs neither optuna-dashboard nor plotly (the ``dashboard`` extra); the functions that
draw or serve import them when called.
"""

from lrsearch.dashboard._panels import DEFAULT_PANELS, PanelDef, load_panels, panel_kinds
from lrsearch.dashboard._publish import collect, publish, publish_after_run, publish_studies
from lrsearch.dashboard._report import write_report
from lrsearch.dashboard._server import make_app, serve
from lrsearch.dashboard._storage import dashboard_storage, ensure_wal

__all__ = [
    "DEFAULT_PANELS", "PanelDef", "collect", "dashboard_storage", "ensure_wal", "load_panels", "make_app",
    "panel_kinds", "publish", "publish_after_run", "publish_studies", "serve", "write_report",
]
