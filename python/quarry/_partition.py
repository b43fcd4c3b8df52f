"""Partition (the `obj` handed to user functions) and its data stream."""

import io

from . import _quarry


class DataStream(io.RawIOBase):
    """A partition's data as a binary file: read, readinto (into any writable buffer), readline,
    iteration by records, seek/tell within the partition, close, context manager; and, without a
    copy, read_chunk / chunks (views of the buffers the object's bytes were received into), and
    count_records.

    Usable by PIL.Image.open, io.TextIOWrapper + csv, pandas.read_csv, pyarrow.parquet, zipfile
    and anything that reads a binary file. Random access moves about the bytes it reads: a seek
    requests nothing, the next read asks for what it wants; reads that go on in order get
    readahead. `name` is the object's URI. Read-only."""

    def __init__(self, native, name=None):
        super().__init__()
        self._native = native
        self._name = name

    @property
    def name(self):
        return self._name

    def readable(self):
        self._check_open()
        return True

    def seekable(self):
        self._check_open()
        return True

    def writable(self):
        self._check_open()
        return False

    def write(self, data):
        self._check_open()
        raise io.UnsupportedOperation(
            f"{self._name} is open for reading only: data streams cannot be written; store "
            f"data with quarry.put or obj.put")

    def readinto(self, buffer):
        self._check_open()
        return self._native.readinto(buffer)

    def read_chunk(self, size=-1):
        """The next bytes without a copy: a read-only memoryview of the buffer the HTTP body was
        received into (at most `size` bytes; all that is at hand when negative). Empty at the end.

        Use it before the next read on this stream: buffers are then reused, so the view stays
        safe to touch but its bytes may have changed (copy with bytes(view) to keep them)."""
        self._check_open()
        return self._native.read_chunk(-1 if size is None else size)

    def chunks(self, size=-1):
        """Iterates over the rest of the data as read_chunk views (see read_chunk)."""
        while True:
            view = self.read_chunk(size)
            if not len(view):
                return
            yield view

    def count_records(self):
        """Reads the rest of the data and returns how many records it holds: separators (the
        plan's newline, or b"\\n") plus one for bytes after the last. The bytes are scanned in
        C++ where they were received, without the GIL; nothing is copied into Python."""
        self._check_open()
        return self._native.count_records()

    def read(self, size=-1):
        self._check_open()
        return self._native.read(-1 if size is None else size)

    def readall(self):
        return self.read(-1)

    def read1(self, size=-1):
        return self.read(size)

    def readline(self, size=-1):
        self._check_open()
        line = self._native.readline()
        if size is not None and size >= 0 and len(line) > size:
            # Give back what the caller did not take.
            self._native.seek(self._native.tell() - (len(line) - size))
            line = line[:size]
        return line

    def __iter__(self):
        self._check_open()
        while True:
            lines = self._native.readlines(1024)
            if not lines:
                return
            yield from lines

    def seek(self, offset, whence=io.SEEK_SET):
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._native.tell() + offset
        elif whence == io.SEEK_END:
            size = self._native.size
            if size is None:
                # Line mode before the end of the last record was found, compressed data: the
                # end is known once the data has been read to it.
                self._native.seek(1 << 62)
                size = self._native.tell()
            target = size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._native.seek(target)
        return self._native.tell()

    def tell(self):
        self._check_open()
        return self._native.tell()

    @property
    def header(self):
        return self._native.header

    def close(self):
        self._native = None
        super().close()

    def _check_open(self):
        if self._native is None:
            raise ValueError("I/O operation on a closed data stream")


class Partition:
    """One unit of work: a nominal byte range of one object. Small and picklable; holds no
    connection. `data_stream` opens on first access, inside whatever process runs the task."""

    __slots__ = ("uri", "bucket", "key", "size", "etag", "part", "total_parts", "byte_range",
                 "scheme", "compression", "_native", "_options", "_storage_options", "_stream",
                 "_header", "_opening", "_data_used")

    def __init__(self, native, options, storage_options):
        # The engine's partition and plan options (_quarry.Partition, _quarry.PlanOptions): what
        # C++ reads, as it made them; storage options per scheme.
        self._native = native
        self.uri = native.uri
        self.scheme = native.scheme
        self.bucket = native.bucket
        self.key = native.key
        self.size = native.size
        self.etag = native.etag
        self.part = native.part
        self.total_parts = native.total_parts
        self.byte_range = (native.start, native.stop)
        self.compression = native.compression
        self._options = options
        self._storage_options = storage_options
        self._stream = None
        self._header = None
        self._opening = None  # a Future of the native stream, when opened ahead (open_ahead)
        self._data_used = False

    def __getstate__(self):
        return (self._native, self._options, self._storage_options)

    def __setstate__(self, state):
        Partition.__init__(self, *state)

    def __reduce__(self):
        return (_rebuild_partition, self.__getstate__())

    def __repr__(self):
        # Never the storage options: they may hold secrets.
        return (f"Partition(uri={self.uri!r}, part={self.part}, total_parts={self.total_parts}, "
                f"byte_range={self.byte_range}, size={self.size})")

    def __eq__(self, other):
        return isinstance(other, Partition) and self._native == other._native

    def __hash__(self):
        return hash((self.uri, self.part, self.etag))

    def _open_native(self):
        return _quarry.Stream(self._native, self._options, self._storage_options)

    def _take_native(self):
        """The stream opened ahead if there is one (its failure is raised here, where the data
        is asked for), else a new one."""
        self._data_used = True
        opening, self._opening = self._opening, None
        if opening is not None:
            return opening.result()
        return self._open_native()

    def _open_ahead(self, pool):
        """Starts opening the data on `pool` (the native open runs without the GIL): the first
        request goes out and the first bytes arrive while the task is still busy elsewhere."""
        if self._opening is None and self._stream is None and not self._data_used:
            self._opening = pool.submit(self._open_native)

    def _drop_ahead(self):
        opening, self._opening = self._opening, None
        if opening is not None:
            opening.cancel()

    @property
    def data_stream(self):
        """The partition's data as a binary file, opened on first access."""
        if self._stream is None or self._stream.closed:
            self._stream = DataStream(self._take_native(), self.uri)
        return self._stream

    @property
    def header(self):
        """The object's first record (bytes) when the plan asked for header=True, else None."""
        if not self._options.header:
            return None
        if self._header is None:
            self._header = self.data_stream.header
        return self._header

    def read(self):
        """All of the partition's data, as bytes."""
        return self._take_native().read(-1)

    def lines(self):
        """Iterator of the partition's records (separators kept)."""
        native = self._take_native()
        while True:
            batch = native.readlines(1024)
            if not batch:
                return
            yield from batch

    def put(self, key_or_uri, data, content_type=None, content_encoding=None):
        """Stores `data` (bytes, any buffer, or a binary file) under a key of this partition's
        bucket, or under a URI of this partition's scheme, with the job's credential (no
        configuration is read and no token is fetched in the task). Returns the URI."""
        from . import _api
        from .errors import InvalidArgument
        if not isinstance(key_or_uri, str) or not key_or_uri:
            raise InvalidArgument(f"obj.put({key_or_uri!r}, ...): give a key or a URI")
        if "://" in key_or_uri:
            uri = key_or_uri
            if _api._scheme_of(uri) != self.scheme:
                raise InvalidArgument(
                    f"obj.put({uri!r}, ...) writes with the job's {self.scheme} credential: give a "
                    f"key or a {self.scheme}:// URI (use the job's output= option, or quarry.put "
                    "with storage_options, for other stores)")
        elif self.scheme == "file":
            uri = "file:///" + key_or_uri.lstrip("/")
        else:
            uri = f"{self.scheme}://{self.bucket}/{key_or_uri}"
        _api.put(uri, data, storage_options=self._storage_options.get(self.scheme, {}),
                 content_type=content_type, content_encoding=content_encoding)
        return uri


def _rebuild_partition(native, options, storage_options):
    return Partition(native, options, storage_options)
