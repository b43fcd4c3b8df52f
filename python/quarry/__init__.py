"""Quarry: process object-storage data on Ray without the boilerplate.

    import quarry
    counts = quarry.map(lambda obj: sum(1 for _ in obj.data_stream),
                        "s3://bucket/logs/", chunk_size=64 << 20, newline=b"\\n")
"""

from . import data
from ._api import (BucketInfo, ObjectInfo, Plan, create_bucket, delete, get, ls, open, plan, put,
                   schemes, stat)
from ._executor import Job, map, map_reduce, submit
from ._partition import DataStream, Partition
from ._progress import Snapshot
from .errors import (Cancelled, InvalidArgument, NotFound, PermissionDenied, PreconditionFailed,
                     QuarryError, TaskError, Unavailable)

__version__ = "0.1.0"


def __getattr__(name):
    # quarry.fsspec needs fsspec, which Quarry does not require: imported on first use.
    if name == "fsspec":
        import importlib
        return importlib.import_module(".fsspec", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BucketInfo", "Cancelled", "DataStream", "InvalidArgument", "Job", "NotFound", "ObjectInfo", "Partition",
    "PermissionDenied", "Plan", "PreconditionFailed", "QuarryError", "Snapshot", "TaskError", "Unavailable",
    "create_bucket", "data", "delete", "get", "ls", "map", "map_reduce", "open", "plan", "put",
    "schemes", "stat", "submit",
]
