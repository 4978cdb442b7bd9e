"""ReviewOps: a Chinese e-commerce shop's negative-review (中差评) playbook, end to end.

The public API is what ``__all__`` lists; notebooks, forms, Excel functions and
the CLI import only from here.
"""

from .classify import classify
from .demo import build_demo
from .errors import (
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
from .ingest import ImportResult, import_file, import_paths
from .outcomes import CustomerValue, customer_value  # customer_value (issue 5)
from .policy import Policy, current_policy, default_policy, export_policy, import_policy, save_policy
from .remedy import remedy_for, tier_of
from .replies import Draft, check_message, draft_reply
from .scorecard import Scorecard, staff_scorecard  # staff_scorecard (issue 5)
from .store import Store
from .sweep import DailySweep, daily_sweep  # daily_sweep (issue 5)
from .textmodel import TextModel
from .triage import TriageResult, open_queue, triage, triage_store
from .users import Actor, add_user, get_actor
from .watch import WatchConfig, Watcher, watch_status  # reviewops watch (issue 7)
from .workbench import Workbench

__version__ = "0.1.0"

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
    "default_policy",
    "draft_reply",
    "export_policy",
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
