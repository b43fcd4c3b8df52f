"""Storage calls and plans: ls, open, get, put, delete, plan."""

import collections
import collections.abc
import numbers
import os

from . import _quarry
from ._partition import DataStream, Partition

ObjectInfo = collections.namedtuple(
    "ObjectInfo", "uri bucket key size etag last_modified content_type content_encoding")
ObjectInfo.__doc__ = """One object. content_type and content_encoding are filled by stat() (a
listing does not carry them) and are empty for file:// objects."""

BucketInfo = collections.namedtuple("BucketInfo", "uri bucket creation_date")
BucketInfo.__doc__ = """One bucket, as ls("s3://") lists them (creation_date may be empty)."""

_SCHEMES = tuple(_quarry.schemes())  # of the registered backends


def schemes():
    """The URI schemes this build reads and writes ("s3", "gs", "az", ...): its registered
    backends, in the registry's order."""
    return _SCHEMES


def _scheme_of(uri):
    return _quarry.parse_uri(os.fspath(uri))[0]


def _options_for(scheme, storage_options):
    """Storage options of one scheme from what the caller gave: a flat dict applies to every
    scheme; a dict keyed by scheme ({"s3": {...}, "cos": {...}}) picks that scheme's. Values
    are strings, numbers or bools; None leaves a key unset."""
    if storage_options is None:
        return {}
    if not isinstance(storage_options, collections.abc.Mapping):
        raise _invalid(f"storage_options={storage_options!r} is not allowed: give a dict of "
                       "options ({'endpoint': ...}) or one per scheme ({'s3': {...}})")
    by_scheme = [k for k in storage_options if k in _SCHEMES]
    if by_scheme:
        others = sorted(str(k) for k in storage_options if k not in _SCHEMES)
        if others:
            raise _invalid(f"storage_options mixes scheme keys ({', '.join(map(str, by_scheme))}) "
                           f"with option keys ({', '.join(others)}): put every option under its "
                           "scheme, e.g. {'s3': {'endpoint': ...}}")
        chosen = storage_options.get(scheme)
        if chosen is None:
            return {}
        if not isinstance(chosen, collections.abc.Mapping):
            raise _invalid(f"storage_options[{scheme!r}]={chosen!r} is not allowed: give a dict")
        return _option_strings(chosen, f"storage_options[{scheme!r}]")
    return _option_strings(storage_options, "storage_options")


def _option_strings(options, where):
    out = {}
    for k, v in options.items():
        if not isinstance(k, str):
            raise _invalid(f"{where} key {k!r} is not a string")
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (str, int, float)) or isinstance(v, os.PathLike):
            out[k] = os.fspath(v) if isinstance(v, os.PathLike) else str(v)
        else:
            raise _invalid(f"{where}[{k!r}] is a {type(v).__name__}: give a string, number or "
                           "bool")
    return out


def resolve_storage_options(inputs, storage_options=None):
    """Resolves, once, the configuration of every scheme among `inputs` (explicit options, then
    the environment, config files and ~/.aws) and makes the token exchange it needs (IBM IAM,
    STS), once. The result travels to the workers inside the task arguments, so that they
    neither read configuration nor authenticate on their own.

    A flat dict of options given for inputs of several schemes goes to each scheme with the keys
    that scheme knows; a key no scheme of the inputs knows is refused (with the closest one)."""
    schemes = list(dict.fromkeys(_scheme_of(uri) for uri in inputs))
    per_scheme = {s: _options_for(s, storage_options) for s in schemes}
    flat = storage_options and not any(k in _SCHEMES for k in storage_options)
    if flat and len(schemes) > 1:
        known = {s: set(_quarry.scheme_keys(s)) for s in schemes}
        anywhere = set().union(*known.values())
        # A key no scheme knows goes to the schemes that take options, to be refused there
        # with the closest key they know.
        per_scheme = {s: {k: v for k, v in o.items()
                          if k in known[s] or (k not in anywhere and known[s])}
                      for s, o in per_scheme.items()}
    return {s: _quarry.resolve_job_storage_options(s, o) for s, o in per_scheme.items()}


def ls(uri, recursive=True, storage_options=None):
    """Iterator of ObjectInfo(uri, bucket, key, size, etag, last_modified, ...) under `uri`; pages are
    fetched as the iteration goes. With recursive=False, "directories" are skipped. A bare scheme
    ("s3://") lists the buckets instead, as BucketInfo(uri, bucket, creation_date).
    A URI ending in "/" names a prefix; another names the object with exactly that key if it
    exists, else the "directory" key/ (never sibling keys: "s3://b/a" never lists "ab")."""
    uri = os.fspath(uri)
    if uri.endswith("://") and uri[:-3] in _SCHEMES:
        scheme = uri[:-3]
        for name, created in _quarry.list_buckets(scheme, _options_for(scheme, storage_options)):
            yield BucketInfo(f"{scheme}://{name}/", name, created)
        return
    lister = _quarry.Lister(uri, _options_for(_scheme_of(uri), storage_options), recursive)
    while True:
        page = lister.next_page()
        if page is None:
            return
        for info in page[0]:
            yield ObjectInfo(*info)


def stat(uri, storage_options=None):
    """The object's ObjectInfo. A bucket's root ("s3://b/") is not an object: InvalidArgument."""
    uri = os.fspath(uri)
    return ObjectInfo(*_quarry.head(uri, _options_for(_scheme_of(uri), storage_options)))


def get(uri, start=0, stop=None, storage_options=None):
    """The object's bytes (or bytes [start, stop), cut at the object's end); large objects arrive
    as parallel ranged GETs, received in place into the one bytes object returned (peak memory:
    the object's size). start and stop are byte offsets from 0 (stop >= start; None: the end);
    others raise InvalidArgument."""
    uri = os.fspath(uri)
    return _quarry.get(uri, _options_for(_scheme_of(uri), storage_options), start, stop)


def put(uri, data, storage_options=None, content_type=None, content_encoding=None):
    """Stores bytes-like data (bytes, bytearray, memoryview, mmap, numpy array) or the rest of a
    binary file object (from its position) under `uri`; large data goes up as a multipart
    upload, in bounded memory: buffers are sent straight from their memory, files are streamed
    part by part (regular files read with the GIL released) and left at their end. Anything
    else (None, str, text files) raises InvalidArgument. content_type and content_encoding
    (e.g. "gzip") are stored with the object where the store keeps metadata (not file://)."""
    uri = os.fspath(uri)
    _quarry.put(uri, data, _options_for(_scheme_of(uri), storage_options),
                content_type or "", content_encoding or "")


def delete(uri, recursive=False, storage_options=None):
    """Deletes one object, or with recursive=True what `uri` names: everything under a URI
    ending in "/"; else the object with exactly that key if it exists, else everything under
    the "directory" key/ (never sibling keys: "s3://b/a" never deletes "ab"). Batched. Returns
    the number of objects deleted."""
    uri = os.fspath(uri)
    return _quarry.delete(uri, recursive, _options_for(_scheme_of(uri), storage_options))


def create_bucket(uri, storage_options=None):
    uri = os.fspath(uri)
    _quarry.create_bucket(uri, _options_for(_scheme_of(uri), storage_options))


def open(uri, start=0, stop=None, storage_options=None):  # noqa: A001 - mirrors builtins.open
    """A binary file over the object's bytes as stored, or its bytes [start, stop) (stop is cut
    at the object's end). Reads ask for what they want and get readahead while they go on in
    order; seeks request nothing, and the size is known, so random-access readers (Parquet, zip)
    move about the bytes they read."""
    _check_offset("start", start, "an integer >= 0")
    if stop is not None:
        _check_offset("stop", stop, "an integer >= start, or None for the object's end")
        if start > stop:
            raise _invalid(f"open: start={start} is past stop={stop}: give start <= stop")
    uri = os.fspath(uri)
    info = stat(uri, storage_options)
    return _open_stream(info, start, stop, storage_options)


def _open_stream(info, start, stop, storage_options, stream_class=DataStream):
    """A stream_class over bytes [start, stop) of the object `info` (an ObjectInfo from stat),
    pinned to its ETag; stop None is the object's end, and both are cut at it."""
    obj = _quarry.Partition.whole_object(info.uri, info.size, info.etag)
    stop = info.size if stop is None else min(stop, info.size)
    start = min(start, stop)
    own = {obj.scheme: _options_for(obj.scheme, storage_options)}
    return stream_class(_quarry.Stream(obj, _AS_STORED, own, (start, stop)), info.uri)


_AS_STORED = _quarry.PlanOptions({"decompress": False})  # a byte range reads bytes as stored


def _check_offset(name, value, allowed):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _invalid(f"open: {name}={value!r} is not a byte offset: give {allowed}")
    if value < 0:
        raise _invalid(f"open: {name}={value} is negative: give {allowed}")


def _newline_bytes(newline):
    if newline is None:
        return None
    if isinstance(newline, str):
        newline = newline.encode()
    if not isinstance(newline, (bytes, bytearray, memoryview)):
        raise _invalid(f"newline={newline!r} is not allowed: give bytes such as b'\\n' (or "
                       "str), or None for byte mode")
    newline = bytes(newline)
    if not newline:
        raise _invalid("newline is empty: give a separator such as b'\\n', or None for byte "
                       "mode")
    return newline


class Plan:
    """A lazy plan: iterating lists the inputs page by page and yields Partition objects as
    they come. Iterating again lists again."""

    def __init__(self, inputs, chunk_size=None, chunk_number=None, newline=None, header=False,
                 decompress="auto", storage_options=None, part_size=None, readahead=None,
                 read_window=None):
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        self.inputs = [os.fspath(i) for i in inputs]
        if not (decompress == "auto" or isinstance(decompress, bool)):
            raise _invalid(f"decompress={decompress!r} is not allowed: give 'auto' or False")
        if not isinstance(header, bool):
            raise _invalid(f"header={header!r} is not allowed: give True or False")
        newline = _newline_bytes(newline)
        self.options = {
            "chunk_size": chunk_size, "chunk_number": chunk_number,
            "newline": newline.decode("latin-1") if newline else None,
            "header": header, "decompress": decompress is not False,
            "part_size": part_size, "readahead": readahead, "read_window": read_window,
        }
        # Validate now (URIs, options), list later.
        self._native_options = _quarry.PlanOptions(self.options)
        _quarry.Plan(self.inputs, self._native_options, {})
        fetches = _quarry.credential_fetch_count()
        self.storage_options = _Secret(resolve_storage_options(self.inputs, storage_options))
        self.credential_fetches = _quarry.credential_fetch_count() - fetches
        self.list_pages = 0

    def __iter__(self):
        self.list_pages = 0
        # One native plan over every input; each is listed with its own scheme's options.
        native = _quarry.Plan(self.inputs, self._native_options, dict(self.storage_options))
        # A partition carries the credentials of its own scheme only.
        own = {s: _Secret({s: options}) for s, options in self.storage_options.items()}
        while True:
            batch = native.next(256)
            self.list_pages = native.list_pages
            if not batch:
                break
            for native_partition in batch:
                yield Partition(native_partition, self._native_options,
                                own[native_partition.scheme])

    def partitions(self):
        return list(self)

    def __repr__(self):
        shown = {k: v for k, v in self.options.items() if v is not None}
        return f"Plan(inputs={self.inputs!r}, options={shown!r})"


class _Secret(dict):
    """Storage options per scheme: a dict whose repr never shows secrets."""

    def __repr__(self):
        return "{" + ", ".join(f"{k!r}: {_quarry.redacted(v)}" for k, v in self.items()) + "}"

    __str__ = __repr__

    def __reduce__(self):
        return (_Secret, (dict(self),))


def _invalid(message):
    from .errors import InvalidArgument
    return InvalidArgument(message)


def plan(inputs, chunk_size=None, chunk_number=None, newline=None, header=False,
         decompress="auto", storage_options=None, **tuning):
    """Builds a lazy plan over `inputs` (URIs, prefixes, globs; a list may mix schemes)."""
    return Plan(inputs, chunk_size=chunk_size, chunk_number=chunk_number, newline=newline,
                header=header, decompress=decompress, storage_options=storage_options, **tuning)
