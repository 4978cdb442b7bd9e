"""ReviewOps: a Chinese e-commerce shop's negative-review (中差评) playbook, end to end.

The public API is what ``__all__`` lists. The library is cut along the playbook
(docs/architecture.md): ``core`` (store, policy, users, privacy, clock, money) under the stage packages
``intake`` → ``grading`` → ``handling`` → ``alerting`` → ``reporting``, with the thin shells (``cli``,
``serve``, ``runner``, ``excel``, ``demo``, ``lab``) on top. Imports run one way, downwards
(tests/test_architecture.py holds the import-linter contracts).
"""

from .alerting.watch import WatchConfig, Watcher, watch_status  # reviewops watch (issue 7)
from .core import __version__
from .core.errors import (
    AccessDenied,
    ComplianceBlocked,
    ConfigError,
    ConflictError,
    ImportRejected,
    ModelError,
    NetworkFilesystemError,
    NotFound,
    PolicyInvalid,
    Problem,
    ReviewOpsError,
    StoreError,
    UnknownLayout,
    UnsupportedFile,
)
from .core.policy import Policy, current_policy, default_policy, export_policy, import_policy, save_policy
from .core.store import Store
from .core.users import Actor, add_user, get_actor
from .demo import build_demo
from .grading.classify import classify
from .grading.extortion import extortion_scores
from .grading.textmodel import TextModel
from .grading.triage import triage
from .handling.defence import decide_signal, detect_malicious
from .handling.opening import TriageResult, open_queue, triage_store
from .handling.remedy import remedy_for, tier_of
from .handling.replies import Draft, check_message, draft_reply
from .handling.sweep import DailySweep, daily_sweep  # daily_sweep (issue 5)
from .handling.workbench import Workbench
from .intake.ingest import ImportResult, import_file, import_paths
from .reporting.outcomes import CustomerValue, customer_value  # customer_value (issue 5)
from .reporting.scorecard import Scorecard, staff_scorecard  # staff_scorecard (issue 5)

__all__ = [
    "AccessDenied",
    "Actor",
    "ComplianceBlocked",
    "ConfigError",
    "ConflictError",
    "CustomerValue",  # staff_scorecard / customer_value (issue 5)
    "DailySweep",  # daily_sweep (issue 5)
    "Draft",
    "ImportRejected",
    "ImportResult",
    "ModelError",
    "NetworkFilesystemError",
    "NotFound",
    "Policy",
    "PolicyInvalid",
    "Problem",
    "ReviewOpsError",
    "Scorecard",  # staff_scorecard / customer_value (issue 5)
    "Store",
    "StoreError",
    "TextModel",
    "TriageResult",
    "UnknownLayout",
    "UnsupportedFile",
    "WatchConfig",  # reviewops watch (issue 7)
    "Watcher",  # reviewops watch (issue 7)
    "Workbench",
    "__version__",
    "add_user",
    "build_demo",
    "check_message",
    "classify",
    "current_policy",
    "customer_value",  # staff_scorecard / customer_value (issue 5)
    "daily_sweep",  # daily_sweep (issue 5)
    "decide_signal",  # malicious-review defence (issue 17)
    "default_policy",
    "detect_malicious",  # malicious-review defence (issue 17)
    "draft_reply",
    "export_policy",
    "extortion_scores",
    "get_actor",
    "import_file",
    "import_paths",
    "import_policy",
    "open_queue",
    "remedy_for",
    "save_policy",
    "staff_scorecard",  # staff_scorecard / customer_value (issue 5)
    "tier_of",
    "triage",
    "triage_store",
    "watch_status",  # reviewops watch (issue 7)
]
