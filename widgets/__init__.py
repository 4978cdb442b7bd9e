"""ReviewOps operator forms (ipywidgets), served by ``reviewops serve`` through Voila.

Builders (each returns a form object with ``.root`` to display and named handles):
``build_queue`` 差评工作台, ``build_case`` 案件处理, ``build_approvals`` 补偿审批, ``build_followups`` 今日回访,
``build_appeals`` 申诉 (legal, supervisor, admin),
``build_workbench`` (the forms in a Tab; 申诉 only for those roles), ``build_dashboard`` 数据看板 (served as its own page). The names are imported lazily so that ``import reviewops_widgets``
(which the server does to find the notebooks) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_queue": "queue", "QueueForm": "queue",
    "build_case": "case", "CaseForm": "case",
    "build_approvals": "approvals", "ApprovalsForm": "approvals",
    "build_followups": "followups", "FollowupsForm": "followups",
    "build_appeals": "appeals", "AppealsForm": "appeals",
    "build_workbench": "app", "WorkbenchApp": "app",
    "build_dashboard": "dashboard", "DashboardForm": "dashboard",
    "esc": "common", "show_error": "common", "case_id_from_query": "common", "Form": "common",
}

__all__ = [
    "AppealsForm", "ApprovalsForm", "CaseForm", "DashboardForm", "FollowupsForm", "Form", "QueueForm", "WorkbenchApp",
    "build_appeals", "build_approvals", "build_case", "build_dashboard", "build_followups", "build_queue", "build_workbench",
    "case_id_from_query", "esc", "show_error",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reviewops_widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
