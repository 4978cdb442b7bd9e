"""ReviewOps: a Chinese e-commerce shop's negative-review (中差评) playbook, end to end.

The public API is what ``__all__`` lists; notebooks, forms, Excel functions and
the CLI import only from here.
"""

from .demo import build_demo
from .errors import (
    ConfigError,
    ConflictError,
    ImportRejected,
    NetworkFilesystemError,
    NotFound,
    Problem,
    ReviewOpsError,
    StoreError,
    UnknownLayout,
    UnsupportedFile,
)
from .ingest import ImportResult, import_file, import_paths
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConflictError",
    "ImportRejected",
    "ImportResult",
    "NetworkFilesystemError",
    "NotFound",
    "Problem",
    "ReviewOpsError",
    "Store",
    "StoreError",
    "UnknownLayout",
    "UnsupportedFile",
    "__version__",
    "build_demo",
    "import_file",
    "import_paths",
]
