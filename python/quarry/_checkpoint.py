"""Checkpoints: a job records each finished partition (its URI, part and ETag) with its result
under a prefix of any store, so that a rerun of the same plan skips what is done.

Layout under the prefix: `manifest.json` names the plan (inputs and options, never storage
options); `done-<first-write-time>-<n>-<id>.pickle` objects each hold a batch of finished
partitions, written at most every second while the job runs and once more when it ends (however
it ends). A driver killed mid-job loses at most the last second of records: those partitions run
again. A partition whose object changed since (another ETag) is not the one recorded: it runs."""

import json
import pickle
import threading
import time
import uuid

from . import _api
from .errors import InvalidArgument

_FLUSH_SECONDS = 1.0
_FLUSH_RECORDS = 1000
_MISSING = object()


def _identity(p):
    return (p.uri, p.part, p.etag, p.byte_range)


class Checkpoint:
    def __init__(self, uri, plan, storage_options=None):
        if not isinstance(uri, str) or not uri:
            raise InvalidArgument(f"checkpoint={uri!r} is not allowed: give a prefix URI such as "
                                  "'s3://bucket/_jobs/name/'")
        self.uri = uri if uri.endswith("/") else uri + "/"
        self._options = storage_options
        self._lock = threading.Lock()
        self._pending = []
        self._last_flush = time.monotonic()
        self._run_id = uuid.uuid4().hex[:8]
        self._flushes = 0
        self._done = {}
        manifest = {"inputs": list(plan.inputs),
                    "options": {k: (v if not isinstance(v, bytes) else v.decode("latin-1"))
                                for k, v in sorted(plan.options.items()) if v is not None}}
        self._load(manifest)

    def _load(self, manifest):
        found = {}
        try:
            for info in _api.ls(self.uri, storage_options=self._options):
                found[info.key.rsplit("/", 1)[-1]] = info.uri
        except FileNotFoundError:
            pass  # a new prefix (or a new local folder)
        text = json.dumps(manifest, sort_keys=True).encode()
        if "manifest.json" in found:
            stored = json.loads(_api.get(found["manifest.json"], storage_options=self._options))
            if stored != manifest:
                raise InvalidArgument(
                    f"checkpoint {self.uri} was written by another plan (inputs "
                    f"{stored.get('inputs')}, options {stored.get('options')}): give a new "
                    "checkpoint prefix, or delete this one to start over")
        else:
            _api.put(self.uri + "manifest.json", text, storage_options=self._options)
        for name in sorted(found):
            if name.startswith("done-") and name.endswith(".pickle"):
                for identity, result in pickle.loads(_api.get(found[name],
                                                             storage_options=self._options)):
                    self._done[identity] = result

    def __len__(self):
        return len(self._done)

    def lookup(self, partition):
        """The recorded result of `partition`, or _MISSING."""
        return self._done.get(_identity(partition), _MISSING)

    def record(self, partition, result):
        with self._lock:
            self._pending.append((_identity(partition), result))

    def maybe_flush(self):
        with self._lock:
            due = (len(self._pending) >= _FLUSH_RECORDS
                   or (self._pending and time.monotonic() - self._last_flush >= _FLUSH_SECONDS))
        if due:
            self.flush()

    def flush(self):
        with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            n = self._flushes
            self._flushes += 1
        if not batch:
            return
        name = f"done-{time.time_ns():020d}-{n:06d}-{self._run_id}.pickle"
        _api.put(self.uri + name, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL),
                 storage_options=self._options)


MISSING = _MISSING
