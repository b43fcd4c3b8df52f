"""fsspec filesystems over Quarry's stores, for pandas, pyarrow, Dask and anything else that
takes an fsspec filesystem.

    import quarry.fsspec
    quarry.fsspec.register("s3", "gs", "az")     # s3://, gs://, az:// now go through Quarry
    pandas.read_csv("s3://bucket/x.csv", storage_options={"endpoint": "http://127.0.0.1:7480"})

    fs = fsspec.filesystem("quarry-s3", endpoint=...)   # always there, without register()
    pyarrow.dataset.dataset("bucket/tables/", filesystem=fs, format="parquet")

Every scheme of Quarry's registry (`quarry._quarry.schemes()`) has a filesystem class of its
own, `filesystem_class(scheme)`, under the protocol `quarry-<scheme>` from the moment this
module is imported; `register(scheme, ...)` also puts it under the scheme's own name, in place
of what fsspec had there. Keyword arguments of the filesystem (fsspec's `storage_options`)
are Quarry's storage options of that scheme (`endpoint`, `access_key_id`, ...), except
fsspec's own (`use_listings_cache`, `listings_expiry_time`, `max_paths`).

Paths are "bucket/key" (a scheme without buckets, such as file, takes "/abs/path"). Prefixes
are directories: a directory exists while some key lies under it, and folder markers (0-byte
keys ending in "/") are directories, never files. Reading opens a Quarry stream: a seek
requests nothing, a read asks for what it wants and reads that go on in order get readahead,
so random-access readers (Parquet, zip) move about the bytes they read. Writing goes up while
it is written, as a multipart upload through a buffer of bounded size; a `with fs.open(path,
"wb")` block left by an exception stores nothing.
"""

import collections
import datetime
import hashlib
import os
import threading
from glob import has_magic

import fsspec
from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.utils import isfilelike, stringify_path

from . import _api, _quarry
from ._partition import DataStream
from .errors import InvalidArgument, NotFound, PermissionDenied

__all__ = ["QuarryFileSystem", "filesystem_class", "register"]

# Options of fsspec itself (its listings cache), never sent to Quarry.
_FSSPEC_OPTIONS = ("use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous",
                   "loop")


def _has_buckets(scheme):
    # A scheme without buckets (file) parses "scheme:///path" with an empty bucket; the others
    # refuse it.
    try:
        return _quarry.parse_uri(f"{scheme}:///probe")[1] != ""
    except ValueError:
        return True


class QuarryFileSystem(AbstractFileSystem):
    """An fsspec filesystem over one scheme of Quarry's stores; use the class of a scheme
    (`filesystem_class("s3")`, or fsspec.filesystem("quarry-s3")), not this base."""

    scheme = None       # set by each scheme's class
    has_buckets = True
    root_marker = ""
    protocol = ("quarry",)
    cachable = True

    def __init__(self, *args, **storage_options):
        if self.scheme is None:
            raise InvalidArgument("QuarryFileSystem has no scheme: use filesystem_class(scheme) "
                                  "or fsspec.filesystem('quarry-<scheme>')")
        super().__init__(*args, **storage_options)
        options = {k: v for k, v in storage_options.items() if k not in _FSSPEC_OPTIONS}
        anon = options.pop("anon", None)
        if anon:
            if "anonymous" not in _quarry.scheme_keys(self.scheme):
                # pandas asks again with anon=True after a PermissionError.
                raise PermissionDenied(
                    f"anonymous access (anon=True) is not available for {self.scheme} through "
                    f"Quarry: give credentials of the scheme ({self.scheme} storage options or "
                    "its environment variables)")
            options["anonymous"] = True
        # Unknown keys are refused at the first call, with the closest known key.
        self._options = _api._options_for(self.scheme, options)

    # Paths and URIs -------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        for protocol in cls.protocol:
            if path.startswith(protocol + "://"):
                path = path[len(protocol) + 3:]
                break
            if path.startswith(protocol + "::"):
                path = path[len(protocol) + 2:]
                break
        path = path.rstrip("/")
        if not cls.has_buckets:
            path = "/" + path.lstrip("/")
        return path or cls.root_marker

    def unstrip_protocol(self, name):
        if "://" in name:
            return name
        return f"{self.protocol[0]}://{name}"

    def _uri(self, path):
        return f"{self.scheme}://{self._strip_protocol(path)}"

    def _dir_uri(self, path):
        uri = self._uri(path)
        return uri if uri.endswith("/") else uri + "/"

    def _split(self, path):
        """(bucket, key) of a stripped path; the bucket is "" for schemes without buckets."""
        if not self.has_buckets:
            return "", path.lstrip("/")
        bucket, _, key = path.partition("/")
        return bucket, key

    def _name(self, bucket, key):
        key = key.rstrip("/")
        if not self.has_buckets:
            return "/" + key
        return f"{bucket}/{key}" if key else bucket

    def _is_bucket(self, path):
        return self.has_buckets and path != "" and "/" not in path

    # Listing and information ----------------------------------------------------------------

    def _file_entry(self, info):
        entry = {"name": self._name(info.bucket, info.key), "size": info.size, "type": "file",
                 "etag": info.etag, "last_modified": info.last_modified}
        mtime = _parse_time(info.last_modified)
        if mtime is not None:
            entry["mtime"] = mtime
        if info.content_type:
            entry["content_type"] = info.content_type
        if info.content_encoding:
            entry["content_encoding"] = info.content_encoding
        return entry

    def _dir_entry(self, name):
        return {"name": name, "size": 0, "type": "directory"}

    def _list_dir(self, path):
        """The entries right under the directory `path`, or None when nothing is there (no key
        under it and no folder marker of it)."""
        bucket, key = self._split(path)
        prefix = key + "/" if key else ""
        lister = _quarry.Lister(self._dir_uri(path), self._options, False)
        entries, found = [], False
        while True:
            page = lister.next_page()
            if page is None:
                break
            objects, prefixes = page
            for fields in objects:
                info = _api.ObjectInfo(*fields)
                found = True
                if info.key == prefix or info.key.endswith("/"):
                    continue  # the directory's own folder marker
                entries.append(self._file_entry(info))
            for sub in prefixes:
                found = True
                entries.append(self._dir_entry(self._name(bucket, sub)))
        if not found and key:
            return None
        entries.sort(key=lambda e: e["name"])
        return entries

    def _list_buckets(self):
        return [dict(self._dir_entry(name), creation_date=created)
                for name, created in _quarry.list_buckets(self.scheme, self._options)]

    def ls(self, path, detail=True, refresh=False, **kwargs):
        """What lies right under the directory `path` (files, and directories of the keys
        below), or [the file's entry] when `path` is a file. Listings are cached until a write
        through this filesystem touches them, invalidate_cache() or refresh=True."""
        path = self._strip_protocol(path)
        entries = None
        if not refresh:
            try:
                entries = self.dircache[path]
            except KeyError:
                pass
        if entries is None:
            if self.has_buckets and path == "":
                entries = self._list_buckets()
            else:
                entries = self._list_dir(path)
            if entries is None:
                entries = [self._file_info(path)]
            else:
                self.dircache[path] = entries
        if detail:
            return [dict(e) for e in entries]
        return [e["name"] for e in entries]

    def _file_info(self, path):
        return self._file_entry(_api.stat(self._uri(path), self._options))

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        if path == self.root_marker:
            return self._dir_entry(path)
        if not kwargs.get("refresh"):
            try:
                cached = self._ls_from_cache(path)
            except FileNotFoundError:
                cached = None  # not in the parent's listing: ask the store (it may be newer)
            if cached is not None:
                for entry in cached:
                    if entry["name"] == path:
                        return dict(entry)
                return self._dir_entry(path)  # `path`'s own listing is cached
        if self._is_bucket(path):
            _quarry.Lister(self._dir_uri(path), self._options, False).next_page()
            return self._dir_entry(path)
        try:
            return self._file_info(path)
        except NotFound:
            pass
        page = _quarry.Lister(self._dir_uri(path), self._options, False).next_page()
        if page is not None and (page[0] or page[1]):
            return self._dir_entry(path)
        raise FileNotFoundError(f"no object and no directory at {self._uri(path)}")

    def exists(self, path, **kwargs):
        try:
            self.info(path, **kwargs)
            return True
        except FileNotFoundError:
            return False

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        """Files below `path` (and, with withdirs, directories): one recursive listing of the
        prefix when maxdepth is None, else by walking."""
        path = self._strip_protocol(path)
        if maxdepth is not None or (self.has_buckets and path == ""):
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail,
                                **kwargs)
        bucket, key = self._split(path)
        prefix = key + "/" if key else ""
        files, dirs, found = {}, {}, False
        lister = _quarry.Lister(self._dir_uri(path), self._options, True)
        while True:
            page = lister.next_page()
            if page is None:
                break
            for fields in page[0]:
                info = _api.ObjectInfo(*fields)
                found = True
                rest = info.key[len(prefix):]
                # Every level between `path` and the key is a directory.
                parts = rest.rstrip("/").split("/")
                for depth in range(1, len(parts) if not rest.endswith("/") else len(parts) + 1):
                    name = self._name(bucket, prefix + "/".join(parts[:depth]))
                    dirs.setdefault(name, self._dir_entry(name))
                if rest and not rest.endswith("/"):
                    entry = self._file_entry(info)
                    files[entry["name"]] = entry
        out = dict(files)
        if withdirs:
            out.update(dirs)
            if (found and key) or self._is_bucket(path):  # posix find lists its root too
                out[path] = self._dir_entry(path)
        if not found and key:
            try:
                out[path] = self._file_info(path)
            except NotFound:
                pass
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def checksum(self, path):
        etag = self.info(path).get("etag")
        if not etag:
            return super().checksum(path)
        return int(hashlib.md5(etag.encode()).hexdigest(), 16)

    def modified(self, path):
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(f"{path} is a directory: it has no modification time")
        if info.get("mtime") is None:
            raise NotImplementedError(f"{self.scheme} gives no modification time for {path}")
        return info["mtime"]

    def invalidate_cache(self, path=None):
        if path is None:
            self.dircache.clear()
        else:
            path = self._strip_protocol(path)
            while True:
                self.dircache.pop(path, None)
                if path == self.root_marker:
                    break
                path = self._parent(path)
        super().invalidate_cache(path)

    # Reading ----------------------------------------------------------------------------------

    def _open_read(self, path):
        path = self._strip_protocol(path)
        if path == self.root_marker or self._is_bucket(path):
            raise IsADirectoryError(f"{self._uri(path)} is a bucket, not a file: list it")
        info = _api.stat(self._uri(path), self._options)
        details = self._file_entry(info)
        return _api._open_stream(
            info, 0, None, self._options,
            stream_class=lambda native, name: QuarryReadFile(native, name, self, path, details))

    def cat_file(self, path, start=None, end=None, **kwargs):
        """The file's bytes, or bytes [start, end) (negative offsets count from the end), in
        one ranged read."""
        path = self._strip_protocol(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = None if start is None else max(0, size + start) if start < 0 else start
            end = None if end is None else max(0, size + end) if end < 0 else end
        start = start or 0
        if end is not None and end <= start:
            return b""
        return _api.get(self._uri(path), start, end, storage_options=self._options)

    def get_file(self, rpath, lpath, callback=DEFAULT_CALLBACK, outfile=None, **kwargs):
        """Streams the file to a local path (or file object) in bounded memory."""
        if outfile is None and isfilelike(lpath):
            outfile = lpath
        try:
            source = self._open_read(rpath)
        except (FileNotFoundError, IsADirectoryError):
            if not self.isdir(rpath):
                raise
            if outfile is None:
                os.makedirs(lpath, exist_ok=True)
            return
        with source:
            callback.set_size(source.size)
            target = outfile
            if target is None:
                parent = os.path.dirname(os.fspath(lpath))
                if parent:
                    os.makedirs(parent, exist_ok=True)
                target = open(lpath, "wb")  # noqa: SIM115 - closed below
            try:
                for view in source.chunks(8 << 20):
                    target.write(view)
                    callback.relative_update(len(view))
            finally:
                if outfile is None:
                    target.close()

    # Writing ----------------------------------------------------------------------------------

    def _check_create(self, path, mode):
        if mode == "create" and self.exists(path):
            raise FileExistsError(f"{self._uri(path)} exists (mode='create')")

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = self._strip_protocol(path)
        self._check_create(path, mode)
        _api.put(self._uri(path), value, storage_options=self._options,
                 content_type=kwargs.get("content_type"))
        self.invalidate_cache(path)

    def put_file(self, lpath, rpath, callback=DEFAULT_CALLBACK, mode="overwrite", **kwargs):
        """Uploads a local file, streamed part by part (multipart when large)."""
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            return
        self._check_create(rpath, mode)
        with open(lpath, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            callback.set_size(size)
            _api.put(self._uri(rpath), f, storage_options=self._options,
                     content_type=kwargs.get("content_type"))
            callback.relative_update(size)
        self.invalidate_cache(rpath)

    def cp_file(self, path1, path2, **kwargs):
        """Copies one file, streamed from the source to the destination in bounded memory (the
        engine has no server-side copy yet); content type and encoding go along."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        try:
            source = self._open_read(path1)
        except (FileNotFoundError, IsADirectoryError):
            if self.isdir(path1):
                return  # directories are made by the keys below them
            raise
        with source:
            _api.put(self._uri(path2), source, storage_options=self._options,
                     content_type=source.details.get("content_type"),
                     content_encoding=source.details.get("content_encoding"))
        self.invalidate_cache(path2)

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
              **kwargs):
        path = self._strip_protocol(path)
        if mode == "rb":
            return self._open_read(path)
        if mode == "xb" and self.exists(path):
            raise FileExistsError(f"{self._uri(path)} exists (mode='xb')")
        if mode not in ("wb", "xb"):
            raise NotImplementedError(
                f"mode {mode!r} is not supported for {self._uri(path)}: objects are read ('rb') "
                "or written whole ('wb', 'xb'); to append, read the object and write it again")
        return QuarryWriteFile(self, path, mode, block_size=block_size, autocommit=autocommit,
                               **kwargs)

    # Removing and directories -----------------------------------------------------------------

    def rm_file(self, path):
        path = self._strip_protocol(path)
        _api.delete(self._uri(path), storage_options=self._options)
        self.invalidate_cache(path)

    def _rm_entry(self, path):
        """Deletes a file; a directory goes when its last key does, so only its folder marker
        (if any) is deleted."""
        try:
            self.rm_file(path)
        except NotFound:
            if not self._is_bucket(path) and self._has_marker(path):
                _api.delete(self._dir_uri(path), storage_options=self._options)
            self.invalidate_cache(path)

    def _has_marker(self, path):
        try:
            return _api.stat(self._dir_uri(path), self._options).size == 0
        except (NotFound, InvalidArgument):
            return False

    def rm(self, path, recursive=False, maxdepth=None):
        """Deletes files, or with recursive=True everything under directories too, in batches
        (a bucket is emptied, not removed)."""
        if recursive and maxdepth is None:
            paths = path if isinstance(path, list) else [path]
            if not any(has_magic(p) for p in paths):
                for p in paths:
                    self._rm_tree(self._strip_protocol(p))
                return
        for p in reversed(self.expand_path(path, recursive=recursive, maxdepth=maxdepth)):
            self._rm_entry(p)

    def _rm_tree(self, path):
        if path == self.root_marker:
            raise InvalidArgument(f"rm of the root of {self.scheme} with recursive=True would "
                                  "delete every bucket's data: name a bucket or a directory")
        deleted = _api.delete(self._dir_uri(path), recursive=True, storage_options=self._options)
        if not self._is_bucket(path) and path != self.root_marker:
            try:
                _api.delete(self._uri(path), storage_options=self._options)
                deleted += 1
            except NotFound:
                pass
        self.invalidate_cache(path)
        if not deleted and not self._is_bucket(path):
            raise FileNotFoundError(f"nothing to delete at {self._uri(path)}")

    def mkdir(self, path, create_parents=True, **kwargs):
        """Creates the bucket when `path` is a bucket (FileExistsError if it exists), or with
        create_parents the bucket of `path` when it is missing. Directories below buckets need
        no creating: they exist while keys lie under them."""
        path = self._strip_protocol(path)
        if not self.has_buckets or path == "":
            return
        bucket, _ = self._split(path)
        if self._is_bucket(path) or create_parents:
            if self._bucket_exists(bucket):
                if self._is_bucket(path):
                    raise FileExistsError(f"bucket {self.scheme}://{bucket}/ exists")
                return
            _api.create_bucket(f"{self.scheme}://{bucket}", storage_options=self._options)
            self.invalidate_cache("")

    def makedirs(self, path, exist_ok=False):
        try:
            self.mkdir(path, create_parents=True)
        except FileExistsError:
            if not exist_ok:
                raise

    def rmdir(self, path):
        """Deletes the folder marker of an empty directory; buckets are removed with
        `quarry rb`."""
        path = self._strip_protocol(path)
        if self._is_bucket(path):
            raise NotImplementedError(f"removing the bucket {self._uri(path)} is not done "
                                      "through fsspec: use `quarry rb`")
        if any(e["name"] != path for e in self.ls(path, refresh=True)):
            raise OSError(f"directory {self._uri(path)} is not empty")
        if self._has_marker(path):
            _api.delete(self._dir_uri(path), storage_options=self._options)
        self.invalidate_cache(path)

    def _bucket_exists(self, bucket):
        try:
            _quarry.Lister(f"{self.scheme}://{bucket}/", self._options, False).next_page()
            return True
        except NotFound:
            return False


class QuarryReadFile(DataStream):
    """A file open for reading ('rb'): a Quarry stream over the object, pinned to the version
    that was opened; seek requests nothing and each read asks for what it wants. Also has what
    fsspec's files have: fs, path, mode, size, details / info(), loc."""

    def __init__(self, native, name, fs, path, details):
        super().__init__(native, name)
        self.fs = fs
        self.path = path
        self.mode = "rb"
        self.details = details
        self.size = details["size"]

    def info(self):
        return self.details

    @property
    def loc(self):
        return self.tell()

    @property
    def full_name(self):
        return self.fs.unstrip_protocol(self.path)

    def __repr__(self):
        return f"<QuarryReadFile {self.name}>"


class QuarryWriteFile(AbstractBufferedFile):
    """A file open for writing ('wb', 'xb'). What fits in one block goes up as one PUT at
    close; a larger file is uploaded while it is written (a multipart upload, fed through a
    buffer of at most two blocks), and appears whole at close, or at commit() inside an fsspec
    transaction. Leaving a `with` block by an exception, or discard(), stores nothing."""

    DEFAULT_BLOCK_SIZE = 8 << 20

    def __init__(self, fs, path, mode="wb", block_size=None, autocommit=True, **kwargs):
        super().__init__(fs, path, mode=mode, block_size=block_size, autocommit=autocommit,
                         cache_type="none", **kwargs)
        self._pipe = None
        self._uploader = None
        self._upload_error = None
        self._whole = None  # the data of a one-block file, until it is stored
        self._done = False

    def _initiate_upload(self):
        if self.forced:
            return  # the whole file is in the buffer: one PUT
        self._pipe = _Pipe(2 * self.blocksize)
        self._uploader = threading.Thread(target=self._upload, daemon=True,
                                          name=f"quarry-fsspec-upload {self.path}")
        self._uploader.start()

    def _upload(self):
        try:
            _api.put(self.fs._uri(self.path), self._pipe, storage_options=self.fs._options,
                     content_type=self.kwargs.get("content_type"))
        except BaseException as e:  # noqa: BLE001 - raised again by the writing thread
            self._upload_error = e
        finally:
            self._pipe.close_reader()

    def _upload_chunk(self, final=False):
        data = self.buffer.getbuffer()
        if self._pipe is None:
            self._whole = data
        elif len(data) and not self._pipe.push(data):
            self._raise_upload_error()
        if final and self.autocommit:
            self.commit()
        return True

    def _raise_upload_error(self):
        self._uploader.join()
        error = self._upload_error or OSError(f"the upload of {self.fs._uri(self.path)} stopped")
        raise error

    def commit(self):
        if self._done:
            return
        self._done = True
        if self._pipe is None:
            _api.put(self.fs._uri(self.path), self._whole if self._whole is not None else b"",
                     storage_options=self.fs._options,
                     content_type=self.kwargs.get("content_type"))
            self._whole = None
        else:
            self._pipe.finish()
            self._uploader.join()
            if self._upload_error is not None:
                raise self._upload_error
        self.fs.invalidate_cache(self.path)

    def discard(self):
        if self._done:
            return
        self._done = True
        self._whole = None
        if self._pipe is not None:
            self._pipe.abort()
            self._uploader.join()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not self.closed:
            self.discard()
            self.closed = True
            return False
        return super().__exit__(exc_type, exc, tb)


class _UploadDiscarded(Exception):
    pass


class _Pipe:
    """Bytes handed from the writing thread to quarry.put reading on another (readinto),
    holding at most about `limit` bytes: the writer waits while the upload is that far
    behind."""

    def __init__(self, limit):
        self._cond = threading.Condition()
        self._chunks = collections.deque()
        self._held = 0
        self._limit = limit
        self._finished = False
        self._aborted = False
        self._reader_gone = False

    def push(self, data):
        """Hands `data` (kept, not copied) to the reader; False when the reader has stopped."""
        view = memoryview(data).cast("B")
        with self._cond:
            while self._held >= self._limit and not self._reader_gone:
                self._cond.wait()
            if self._reader_gone:
                return False
            self._chunks.append(view)
            self._held += len(view)
            self._cond.notify_all()
        return True

    def finish(self):
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def abort(self):
        with self._cond:
            self._aborted = True
            self._chunks.clear()
            self._held = 0
            self._cond.notify_all()

    def close_reader(self):
        with self._cond:
            self._reader_gone = True
            self._chunks.clear()
            self._held = 0
            self._cond.notify_all()

    def readable(self):
        return True

    def readinto(self, buffer):
        out = memoryview(buffer).cast("B")
        with self._cond:
            while not self._chunks and not self._finished and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise _UploadDiscarded("the file was discarded before it was complete")
            n = 0
            while self._chunks and n < len(out):
                chunk = self._chunks[0]
                take = min(len(chunk), len(out) - n)
                out[n:n + take] = chunk[:take]
                n += take
                self._held -= take
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
            self._cond.notify_all()
            return n


def _parse_time(text):
    if not text:
        return None
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


def _class_name(scheme):
    return "Quarry" + "".join(c for c in scheme.title() if c.isalnum()) + "FileSystem"


_CLASSES = {}


def filesystem_class(scheme):
    """The fsspec filesystem class of one of Quarry's schemes (protocols `quarry-<scheme>` and
    `<scheme>`). InvalidArgument for a scheme the registry does not know."""
    cls = _CLASSES.get(scheme)
    if cls is None:
        known = ", ".join(_api._SCHEMES)
        raise InvalidArgument(f"unknown scheme {scheme!r} for quarry.fsspec: use one of {known}")
    return cls


def register(*schemes, clobber=True):
    """Makes fsspec (and pandas, pyarrow, Dask through it) use Quarry for URIs of `schemes`,
    e.g. register("s3", "gs", "az"), in place of the filesystems fsspec had for them."""
    if not schemes:
        raise InvalidArgument("register(): name the schemes to serve, e.g. "
                              f"register('s3'); Quarry knows {', '.join(_api._SCHEMES)}")
    classes = [filesystem_class(s) for s in schemes]
    for scheme, cls in zip(schemes, classes):
        fsspec.register_implementation(scheme, cls, clobber=clobber)


def _make_classes():
    for scheme in _api._SCHEMES:
        name = _class_name(scheme)
        buckets = _has_buckets(scheme)
        cls = type(name, (QuarryFileSystem,), {
            "__module__": __name__, "__qualname__": name,
            "__doc__": f"fsspec filesystem over Quarry's {scheme} store ({scheme}:// URIs).",
            "scheme": scheme, "protocol": (f"quarry-{scheme}", scheme),
            "has_buckets": buckets, "root_marker": "" if buckets else "/",
        })
        globals()[name] = cls
        __all__.append(name)
        _CLASSES[scheme] = cls
        fsspec.register_implementation(f"quarry-{scheme}", cls, clobber=True)


_make_classes()


def __getattr__(name):
    # An entry point names the class of a scheme this build's registry does not have.
    if name.startswith("Quarry") and name.endswith("FileSystem"):
        raise AttributeError(f"quarry.fsspec has no {name}: this build of Quarry has no such "
                             f"scheme (it knows {', '.join(_api._SCHEMES)})")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
