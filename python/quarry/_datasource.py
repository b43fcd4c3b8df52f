"""QuarryDatasource, the ray.data.Datasource behind quarry.data's readers, and its formats."""

import collections
import copy
import functools
import io
import re

from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from ._api import Plan
from ._partition import DataStream
from .data import DEFAULT_CHUNK_SIZE
from .errors import InvalidArgument

_SAMPLE_CHUNKS = 8         # chunks whose start is parsed on the driver to infer a schema
_SAMPLE_BYTES = 1 << 20    # bytes read from the start of each of them
_BINARY_BLOCK_BYTES = 64 << 20  # rows of read_binary_files gathered into one block up to this
_FETCH_CONCURRENCY = 16    # requests in flight of a read task fetching many ranges at once
_TASK_BYTES = 256 << 20    # bytes to fetch per read task, where there are pieces enough
_PREFETCH_BYTES = 32 << 20  # Parquet: column chunks of row groups fetched at once, up to this
_CHUNK_SLACK = 4 << 10     # Parquet: bytes fetched past a column chunk's stated end


class QuarryDatasource(Datasource):
    """A Ray Data datasource over a Quarry plan of `paths` (URIs, prefixes, globs).

    `format` is "csv", "text", "json" (JSON lines), "binary", "parquet" or "records" (one row
    per record with its separator, as bytes: {"uri", "line"}). CSV, text and JSON objects are
    cut into line-aligned chunks of `chunk_size` bytes (DEFAULT_CHUNK_SIZE); Parquet files into
    their row groups; binary objects are whole. The plan is listed once, here on the driver;
    sizes come from the listing (no request per object), and the pieces are grouped into at
    most `parallelism` read tasks of about equal bytes, in plan order. Each read task opens its
    pieces' data itself, with the credential the plan resolved (the storage options travel with
    the partitions), and yields one block per piece, so its memory is bounded by a chunk (or a
    row group, or 64 MiB of binary rows), not by the task.

    `partition_filter(uri) -> bool` chooses the objects to read; `include_paths` adds a "path"
    column holding each row's URI. Format options: see the read_* functions."""

    def __init__(self, paths, format, *, chunk_size=None, include_paths=False,  # noqa: A002
                 partition_filter=None, storage_options=None, newline=b"\n", **format_options):
        super().__init__()
        formats = {"csv": _Csv, "text": _Text, "json": _Json, "binary": _Binary,
                   "parquet": _Parquet, "records": _Records}
        if format not in formats:
            raise InvalidArgument(f"format={format!r} is not a Quarry datasource format: give "
                                  f"one of {', '.join(map(repr, formats))}")
        if partition_filter is not None and not callable(partition_filter):
            raise InvalidArgument(f"partition_filter={partition_filter!r} is not callable: give "
                                  "a function of the object's URI returning True to read it")
        if chunk_size is not None and (isinstance(chunk_size, bool)
                                       or not isinstance(chunk_size, int) or chunk_size <= 0):
            raise InvalidArgument(f"chunk_size={chunk_size!r} is not allowed: give a number of "
                                  "bytes > 0")
        self._format = formats[format](**format_options)
        self._include_paths = bool(include_paths)
        plan_options = self._format.plan_options(chunk_size or DEFAULT_CHUNK_SIZE, newline)
        plan = Plan(paths, storage_options=storage_options, **plan_options)
        decided = {}
        partitions = []
        for p in plan:
            if partition_filter is not None:
                keep = decided.get(p.uri)
                if keep is None:
                    keep = decided[p.uri] = bool(partition_filter(p.uri))
                if not keep:
                    continue
            partitions.append(p)
        self.credential_fetches = plan.credential_fetches
        self._pieces = self._format.prepare(partitions)
        self._projection_map = None  # what Ray Data's optimizer pushes down (Parquet)
        self._quarry_chooses = False  # the number of read tasks (choose_read_tasks)
        self._cluster_cpus = None

    # Ray Data's optimizer hands a later select_columns / filter(expr=...) to the datasource
    # where the format can act on it before bytes move: Parquet reads the byte ranges of the
    # selected columns only and skips row groups whose statistics rule the predicate out.
    def supports_projection_pushdown(self):
        return self._format.pushdown

    def supports_predicate_pushdown(self):
        return self._format.pushdown

    @property
    def schema(self):
        """The Arrow schema every block has (include_paths adds "path"), or None where it is
        known only once read (binary rows aside, whose schema is fixed)."""
        schema = self._format.schema
        if schema is not None and self._include_paths and "path" not in schema.names:
            import pyarrow as pa
            schema = schema.append(pa.field("path", pa.string()))
        columns = self._get_data_columns()  # pushed down, in their order; None: all
        if schema is not None and columns is not None:
            import pyarrow as pa
            schema = pa.schema([schema.field(c) for c in columns if c in schema.names])
        return schema

    def get_name(self):
        return f"Quarry{self._format.name}"

    def estimate_inmemory_data_size(self):
        fmt = self._read_format()
        return sum(fmt.size_bytes(piece) for piece in self._pieces)

    def _read_format(self):
        """The format as the read tasks use it: narrowed to the columns and the predicate Ray
        Data pushed down, if any."""
        columns = self._get_data_columns()  # pushed down, in their order; None: all
        predicate = self._predicate_expr.to_pyarrow() if self._predicate_expr is not None else None
        if columns is None and predicate is None:
            return self._format
        return self._format.narrowed([c for c in columns if c != "path"] if columns is not None
                                     else None, predicate)

    def choose_read_tasks(self):
        """Lets Quarry choose the number of read tasks (the caller named none), once Ray Data
        has pushed a projection down: a task per _TASK_BYTES of data to fetch, and at least one
        per CPU of the cluster, as the pieces allow. Returns the least number it will make, for
        the readers to hand Ray Data as override_num_blocks: left to itself, Ray Data wants 200
        blocks (or one per MiB) and cuts each task's output into blocks of about 1 MiB, and the
        stage after the read into as many tasks, where the pieces are blocks of a bounded size
        already. Ray Data cuts blocks only when there are fewer tasks than that number.

        Few, large tasks: a task's memory is bounded by its pieces (each a block), not by its
        size, and Ray Data's executor runs fewer read tasks at once than the cluster has CPUs
        (on 2 CPUs, one at a time, with a pause between tasks), so each task more costs time,
        while one task keeps its CPU and the store busy by fetching ahead (16 requests in
        flight) as it decodes."""
        self._quarry_chooses = True
        return max(1, min(len(self._pieces), self._cpus()))

    def _cpus(self):
        """The cluster's CPUs, asked once per dataset (Ray Data asks for the read tasks several
        times, and each question to the cluster costs milliseconds)."""
        if self._cluster_cpus is None:
            self._cluster_cpus = _cluster_cpus()
        return self._cluster_cpus

    def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
        columns = self._get_data_columns()  # pushed down, in their order; None: all
        fmt = self._read_format()
        include_paths = self._include_paths and (columns is None or "path" in columns)
        schema = self.schema
        weights = [max(1, fmt.weight(piece)) for piece in self._pieces]
        if self._quarry_chooses:
            parallelism = max(parallelism, self._cpus(), -(-sum(weights) // _TASK_BYTES))
        tasks = []
        for group in _balanced_groups(weights, parallelism):
            pieces = [self._pieces[i] for i in group]
            rows = [piece.num_rows for piece in pieces]
            metadata = BlockMetadata(
                num_rows=None if None in rows else sum(rows),
                size_bytes=sum(fmt.size_bytes(piece) for piece in pieces),
                input_files=list(dict.fromkeys(piece.partition.uri for piece in pieces)),
                exec_stats=None)
            read = functools.partial(_read_pieces, fmt, pieces, include_paths, columns)
            tasks.append(ReadTask(read, metadata, schema=schema,
                                  per_task_row_limit=per_task_row_limit))
        return tasks


class _Piece:
    """What a read task reads: a partition (a chunk or a whole object), and for Parquet the
    row group and the bytes of the footer. `weight` (bytes to fetch) balances the tasks;
    `size_bytes` estimates the block in memory; both are None where the format derives them
    from `extra` (Parquet: from the columns read)."""

    __slots__ = ("partition", "weight", "size_bytes", "num_rows", "extra")

    def __init__(self, partition, weight, size_bytes, num_rows=None, extra=None):
        self.partition = partition
        self.weight = weight
        self.size_bytes = size_bytes
        self.num_rows = num_rows
        self.extra = extra

    def __getstate__(self):
        return (self.partition, self.weight, self.size_bytes, self.num_rows, self.extra)

    def __setstate__(self, state):
        self.partition, self.weight, self.size_bytes, self.num_rows, self.extra = state


def _cluster_cpus():
    """The CPUs of the Ray cluster this process is connected to (else of this machine)."""
    import os

    import ray
    if ray.is_initialized():
        return max(1, int(ray.cluster_resources().get("CPU", 1)))
    return os.cpu_count() or 1


def _balanced_groups(weights, n):
    """Consecutive runs of indices of `weights`, at most n of them (and at least one when there
    are weights), each closed once the weight so far reaches its share of the total."""
    if not weights:
        return []
    n = max(1, min(int(n), len(weights)))
    total = sum(weights)
    groups, current, so_far, closed = [], [], 0, 0
    for i, w in enumerate(weights):
        current.append(i)
        so_far += w
        if so_far * n >= (closed + 1) * total:
            groups.append(current)
            current = []
            closed = so_far * n // total
    if current:
        groups.append(current)
    return groups


def _read_pieces(fmt, pieces, include_paths, columns=None):
    """The body of one read task: a block per piece (Parquet: per row group; binary rows: per
    64 MiB of objects). Formats yield (the URI of the block's rows, or one URI per row; table).
    `columns`, when given, are the block's columns in their order (a projection pushed down)."""
    import pyarrow as pa
    for uris, table in fmt.read(pieces):
        if include_paths and "path" not in table.column_names:
            if isinstance(uris, str):
                uris = [uris] * table.num_rows
            table = table.append_column("path", pa.array(uris, pa.string()))
        if columns is not None:
            table = table.select([c for c in columns if c in table.column_names])
        yield table


def _byte_stream(p, start=0, stop=None):
    """The object's bytes as stored, [start, stop), as a random-access file: opened from what
    the listing gave (size, ETag pinned), so it costs no HEAD; a seek requests nothing."""
    from . import _quarry
    from ._api import _AS_STORED
    stop = p.size if stop is None else min(stop, p.size)
    return DataStream(_quarry.Stream(p._native, _AS_STORED, p._storage_options,
                                     (min(start, stop), stop)), p.uri)


def _fresh(p):
    """A copy of the partition with no stream of its own (the driver's copy stays unopened)."""
    from ._partition import Partition
    return Partition(p._native, p._options, p._storage_options)


def _record_sample(p, limit, header):
    """(header, records): whole records from the start of partition `p`, about `limit` bytes
    of them, for inferring a schema on the driver; and the object's header record when
    `header` and p is the object's first part (else b"")."""
    if p.compression != "none":
        # Compressed: one partition of the whole object, read through the decompressor.
        with _fresh(p).data_stream as s:
            head = (s.header or b"") if header else b""
            data = s.read(limit)
            if len(data) == limit:
                data = data[:data.rfind(b"\n") + 1]
            return head, data
    start, _ = p.byte_range
    begin = max(0, start - 1)
    with _byte_stream(p, begin, begin + limit) as s:
        data = s.read()
    if start > 0:
        # Records of this partition start after a newline at or past byte start - 1.
        cut = data.find(b"\n")
        data = b"" if cut < 0 else data[cut + 1:]
    if begin + limit < p.size:
        data = data[:data.rfind(b"\n") + 1]
    head = b""
    if header and start == 0:
        end = data.find(b"\n") + 1
        if end == 0:
            if begin + limit < p.size:
                raise InvalidArgument(f"{p.uri}: no end of the header record in its first "
                                      f"{limit} bytes")
            end = len(data)
        head, data = data[:end], data[end:]
    return head, data


def _sample_indices(n):
    if n <= _SAMPLE_CHUNKS:
        return list(range(n))
    return sorted({round(i * (n - 1) / (_SAMPLE_CHUNKS - 1)) for i in range(_SAMPLE_CHUNKS)})


def _line_pieces(partitions):
    return [_Piece(p, p.byte_range[1] - p.byte_range[0], p.byte_range[1] - p.byte_range[0])
            for p in partitions]


def _chunk_data(p):
    """(header, data) of a line-aligned partition, read in the task."""
    with p.data_stream as s:
        head = s.header
        return head, s.read()


class _Format:
    name = ""
    schema = None
    pushdown = False  # acts on a projection and a predicate pushed down (narrowed)

    def plan_options(self, chunk_size, newline):
        return {"chunk_size": chunk_size, "newline": b"\n", "header": False}

    def prepare(self, partitions):
        return _line_pieces(partitions)

    def weight(self, piece):
        """The bytes a read task fetches for the piece."""
        return piece.weight

    def size_bytes(self, piece):
        """The bytes the piece's block is estimated to take in memory."""
        return piece.size_bytes


# -- CSV ----------------------------------------------------------------------------------------

class _Csv(_Format):
    """CSV through pyarrow.csv: each line-aligned chunk is parsed alone with the object's header
    as its column names and with the dataset's one set of column types."""

    name = "CSV"

    def __init__(self, schema=None, read_options=None, parse_options=None, convert_options=None):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        if schema is not None and not isinstance(schema, pa.Schema):
            raise InvalidArgument(f"schema={schema!r} is not a pyarrow.Schema: give "
                                  "pa.schema([('name', pa.int64()), ...])")
        self._given = schema
        self._read = read_options or pcsv.ReadOptions()
        self._parse = parse_options or pcsv.ParseOptions()
        self._convert = convert_options or pcsv.ConvertOptions()
        if self._read.skip_rows or self._read.skip_rows_after_names:
            raise InvalidArgument("read_options skip_rows / skip_rows_after_names cannot apply "
                                  "to chunks read apart: drop those rows after reading")
        if self._parse.newlines_in_values:
            raise InvalidArgument("parse_options newlines_in_values=True: a chunk border could "
                                  "fall inside a quoted value; Quarry's chunks break at every "
                                  "newline, so quoted values must not hold one")
        self._names = list(self._read.column_names) or None
        self._has_header = not (self._names or self._read.autogenerate_column_names)
        self._header = None
        self._types = None

    def plan_options(self, chunk_size, newline):
        return {"chunk_size": chunk_size, "newline": b"\n", "header": self._has_header}

    def _chunk_read_options(self, names):
        import pyarrow.csv as pcsv
        return pcsv.ReadOptions(use_threads=self._read.use_threads,
                                block_size=self._read.block_size, encoding=self._read.encoding,
                                column_names=names)

    def _options_with_types(self, types, all_columns=False):
        options = copy.copy(self._convert)
        options.column_types = types
        if all_columns:
            options.include_columns = []
        return options

    def prepare(self, partitions):
        """Reads the start of up to _SAMPLE_CHUNKS chunks spread over the plan (the first one
        always) and gives every column the type that holds all of them: int64 and float64 mix
        to float64, a column empty in every sample is a string, other mixes are strings. Types
        given in `schema` or convert_options.column_types are kept as given."""
        import pyarrow as pa
        given = dict(self._convert.column_types or {})
        if self._given is not None:
            given.update({f.name: f.type for f in self._given})
        if not partitions:
            self.schema = self._given
            return []
        samples = [partitions[i] for i in _sample_indices(len(partitions))]
        inferred = {}
        for p in samples:
            head, data = _record_sample(p, _SAMPLE_BYTES, self._has_header)
            if p is samples[0]:
                # The first object's header (or the count of its fields) names the columns.
                table = self._parse_sample(p, head + data, self._names, given,
                                           header=self._has_header)
                self._names = table.column_names
                self._header = head
            else:
                table = self._parse_sample(p, data, self._names, given)
            for field in table.schema:
                inferred[field.name] = _wider(inferred.get(field.name), field.type)
        types = {}
        for name in self._names:
            t = given.get(name, inferred.get(name))
            types[name] = pa.string() if t is None or pa.types.is_null(t) else t
        self._types = types
        empty = pa.table({n: pa.array([], types[n]) for n in self._names})
        include = list(self._convert.include_columns or [])
        self.schema = empty.select(include).schema if include else empty.schema
        return _line_pieces(partitions)

    def _parse_sample(self, p, data, names, given, header=False):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        if names is not None and not data:
            return pa.table({n: pa.array([], pa.null()) for n in names})
        if header or names is None:
            # The header names the columns, or (autogenerate_column_names) the fields count.
            options = pcsv.ReadOptions(encoding=self._read.encoding,
                                       autogenerate_column_names=not header)
        else:
            options = self._chunk_read_options(names)
        try:
            return pcsv.read_csv(pa.py_buffer(data), read_options=options,
                                 parse_options=self._parse,
                                 convert_options=self._options_with_types(given, True))
        except pa.ArrowInvalid as e:
            raise InvalidArgument(f"{p.uri}: the CSV sample of bytes {p.byte_range} does not "
                                  f"parse: {e}") from None

    def read(self, pieces):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        read_options = self._chunk_read_options(self._names)
        convert = self._options_with_types(self._types)
        for piece in pieces:
            p = piece.partition
            head, data = _chunk_data(p)
            if self._has_header and head != self._header:
                self._check_header(p, head)
            if not data:
                continue
            try:
                table = pcsv.read_csv(pa.py_buffer(data), read_options=read_options,
                                      parse_options=self._parse, convert_options=convert)
            except pa.ArrowInvalid as e:
                raise self._conversion_error(p, e) from None
            yield p.uri, table

    def _check_header(self, p, head):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        try:
            names = pcsv.read_csv(pa.py_buffer(head or b""), parse_options=self._parse,
                                  read_options=pcsv.ReadOptions(
                                      encoding=self._read.encoding)).column_names
        except pa.ArrowInvalid:
            names = []
        if names != self._names:
            raise InvalidArgument(
                f"{p.uri} has the columns {names} where the dataset's first object has "
                f"{self._names}: read objects of different columns apart")

    def _conversion_error(self, p, error):
        message = str(error)
        m = re.search(r"column #(\d+)", message)
        if m and int(m.group(1)) < len(self._names):
            name = self._names[int(m.group(1))]
            return InvalidArgument(
                f"{p.uri} bytes {p.byte_range}: column {name!r} holds a value that is not "
                f"{self._types[name]}, the type inferred from the start of the first chunks "
                f"({message}): give the column's type, e.g. read_csv(..., schema=pa.schema("
                f"[({name!r}, pa.float64())])) or convert_options=pyarrow.csv.ConvertOptions("
                f"column_types={{{name!r}: pa.string()}})")
        return InvalidArgument(f"{p.uri} bytes {p.byte_range}: CSV does not parse: {message}")


def _wider(a, b):
    """A type that holds values of both CSV-inferred types a and b (a may be None)."""
    import pyarrow as pa
    if a is None or a == b:
        return b
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(f(a) for f in numeric) and any(f(b) for f in numeric):
        return pa.int64() if pa.types.is_integer(a) and pa.types.is_integer(b) else pa.float64()
    return pa.string()


# -- text, records ------------------------------------------------------------------------------

class _Text(_Format):
    """One row per line, {"text": str}: lines end at b"\\n" (a b"\\r" before it is dropped too)."""

    name = "Text"

    def __init__(self, encoding="utf-8", drop_empty_lines=True):
        import codecs
        try:
            self._encoding = codecs.lookup(encoding).name
        except LookupError:
            raise InvalidArgument(f"encoding={encoding!r} is not a known codec") from None
        if self._encoding.startswith(("utf-16", "utf-32")):
            raise InvalidArgument(f"encoding={encoding!r}: chunks are cut at b'\\n' bytes, "
                                  "which needs an ASCII-compatible encoding (utf-8, latin-1...)")
        self._drop_empty = drop_empty_lines
        import pyarrow as pa
        self.schema = pa.schema([("text", pa.string())])

    def read(self, pieces):
        import pyarrow as pa
        for piece in pieces:
            lines = _lines_array(piece.partition.read(), self._encoding)
            if self._drop_empty and len(lines):
                import pyarrow.compute as pc
                lines = lines.filter(pc.not_equal(pc.utf8_trim_whitespace(lines), ""))
            if len(lines):
                yield piece.partition.uri, pa.table({"text": lines})


def _lines_array(data, encoding):
    """The lines of `data` (whole records ending in b"\\n", the last one perhaps not) as an
    Arrow string array, separators (b"\\n", b"\\r\\n") removed, built with numpy without a
    Python object per line."""
    import numpy as np
    import pyarrow as pa
    if encoding != "utf-8":
        text = data.decode(encoding)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return pa.array([s[:-1] if s.endswith("\r") else s for s in lines], pa.string())
    raw = np.frombuffer(data, np.uint8)
    if not len(raw):
        return pa.array([], pa.string())
    drop = raw == 10
    ends = np.flatnonzero(drop)
    last_open = len(ends) == 0 or ends[-1] != len(raw) - 1
    cr = np.zeros(len(ends), dtype=bool)
    has_prev = ends > 0
    cr[has_prev] = raw[ends[has_prev] - 1] == 13
    drop[ends[cr] - 1] = True
    kept = raw[~drop]
    del drop
    # Line i ends, in the kept bytes, where its newline was less the i newlines and the
    # carriage returns (its own included) dropped before it.
    line_ends = ends - np.arange(len(ends)) - np.cumsum(cr)
    bounds = [np.zeros(1, np.int64), line_ends.astype(np.int64)]
    if last_open:
        bounds.append(np.array([len(kept)], np.int64))
    offsets = np.concatenate(bounds)
    offset_type, array_type = ((np.int32, pa.string()) if len(kept) < (1 << 31)
                               else (np.int64, pa.large_string()))
    offsets = offsets.astype(offset_type)
    array = pa.Array.from_buffers(array_type, len(offsets) - 1,
                                  [None, pa.py_buffer(offsets), pa.py_buffer(kept)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        raise InvalidArgument("a text chunk is not valid UTF-8: give encoding= the file's "
                              "encoding") from None
    return array


class _Records(_Format):
    """One row per record with its separator, {"uri", "line"} (bytes): the rows of the former
    quarry.data.read(format="lines")."""

    name = "Records"

    def __init__(self):
        import pyarrow as pa
        self.schema = pa.schema([("uri", pa.string()), ("line", pa.binary())])

    def plan_options(self, chunk_size, newline):
        return {"chunk_size": chunk_size, "newline": newline, "header": False}

    def read(self, pieces):
        import pyarrow as pa
        for piece in pieces:
            lines = list(piece.partition.lines())
            if lines:
                yield piece.partition.uri, pa.table({"uri": pa.array([piece.partition.uri] * len(lines),
                                                       pa.string()),
                                       "line": pa.array(lines, pa.binary())},
                                      schema=self.schema)


# -- JSON lines ---------------------------------------------------------------------------------

class _Json(_Format):
    """JSON lines through pyarrow.json: each line-aligned chunk is parsed alone with the
    dataset's schema as its explicit schema."""

    name = "JSON"

    def __init__(self, schema=None, read_options=None, parse_options=None):
        import pyarrow as pa
        import pyarrow.json as pjson
        if schema is not None and not isinstance(schema, pa.Schema):
            raise InvalidArgument(f"schema={schema!r} is not a pyarrow.Schema")
        self._given = schema
        self._read = read_options or pjson.ReadOptions()
        self._parse = parse_options or pjson.ParseOptions()
        if self._parse.newlines_in_values:
            raise InvalidArgument("parse_options newlines_in_values=True: JSON lines are cut "
                                  "at every newline, so values must not hold one")

    def prepare(self, partitions):
        """The schema: `schema` if given, else what holds the samples of up to _SAMPLE_CHUNKS
        chunks (pyarrow's permissive unification: int64 and float64 to float64, a field null in
        one sample takes the type of another)."""
        import pyarrow as pa
        import pyarrow.json as pjson
        given = self._given or self._parse.explicit_schema
        if given is not None or not partitions:
            self.schema = given
            return _line_pieces(partitions)
        schemas = []
        for i in _sample_indices(len(partitions)):
            p = partitions[i]
            _, data = _record_sample(p, _SAMPLE_BYTES, False)
            if data.strip():
                try:
                    schemas.append(pjson.read_json(
                        pa.py_buffer(data), read_options=self._sample_read_options(len(data)),
                        parse_options=self._parse).schema)
                except pa.ArrowInvalid as e:
                    raise InvalidArgument(f"{p.uri}: JSON lines of bytes {p.byte_range} do not "
                                          f"parse: {e}") from None
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else None
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise InvalidArgument(f"the JSON samples disagree on a field's type ({e}): give "
                                  "read_json(..., schema=pa.schema([...]))") from None
        if schema is not None:
            schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                                for f in schema])
        self.schema = schema
        return _line_pieces(partitions)

    def _sample_read_options(self, size):
        import pyarrow.json as pjson
        return pjson.ReadOptions(use_threads=self._read.use_threads,
                                 block_size=max(self._read.block_size, size + 1))

    def read(self, pieces):
        import pyarrow as pa
        import pyarrow.json as pjson
        parse = copy.copy(self._parse)
        if self.schema is not None:
            parse.explicit_schema = self.schema
        for piece in pieces:
            p = piece.partition
            data = p.read()
            if not data.strip():
                continue
            block = self._read.block_size
            while True:
                try:
                    table = pjson.read_json(
                        pa.py_buffer(data),
                        read_options=pjson.ReadOptions(use_threads=self._read.use_threads,
                                                       block_size=block),
                        parse_options=parse)
                    break
                except pa.ArrowInvalid as e:
                    # A line longer than the block: pyarrow needs blocks of whole lines.
                    if "straddling" in str(e) and block < len(data):
                        block = min(2 * block, len(data) + 1)
                        continue
                    raise InvalidArgument(
                        f"{p.uri} bytes {p.byte_range}: JSON lines do not parse with the "
                        f"dataset's schema ({e}): give read_json(..., schema=...) with every "
                        "field's type") from None
            yield p.uri, table


# -- binary -------------------------------------------------------------------------------------

class _Binary(_Format):
    """One row per object, {"bytes"} (and "path"), the object's bytes as stored."""

    name = "Binary"

    def __init__(self):
        import pyarrow as pa
        self.schema = pa.schema([("bytes", pa.binary())])

    def plan_options(self, chunk_size, newline):
        return {"decompress": False}

    def prepare(self, partitions):
        return [_Piece(p, p.size, p.size) for p in partitions]

    def read(self, pieces):
        """Blocks of up to _BINARY_BLOCK_BYTES of objects, each block's objects fetched at once
        (_FETCH_CONCURRENCY requests in flight, the GIL released) into one buffer that becomes
        the block's binary column without another copy; the next block's are fetched while
        this one is used."""
        import pyarrow as pa
        runs = _runs(pieces, _BINARY_BLOCK_BYTES, self.weight)
        for run, column in _fetched_ahead(runs, lambda run: _binary_array(
                [piece.partition for piece in run])):
            yield [piece.partition.uri for piece in run], pa.table({"bytes": column})


def _fetch_ranges(partitions, ranges):
    """(offsets, data): bytes ranges[i] of partitions[i]'s object as stored, fetched at once
    (_FETCH_CONCURRENCY requests in flight) into `data`; range i is data[offsets[i]:offsets[i +
    1]], offsets a numpy int64 array."""
    import numpy as np

    from . import _quarry
    offsets, data = _quarry.read_ranges([p._native for p in partitions], ranges,
                                        partitions[0]._storage_options, _FETCH_CONCURRENCY)
    return np.frombuffer(offsets, np.int64), data


def _binary_array(partitions):
    """The objects' bytes as stored, as one Arrow binary array."""
    import numpy as np
    import pyarrow as pa
    for p in partitions:
        if p.size >= 1 << 31:
            raise InvalidArgument(f"{p.uri} holds {p.size} bytes: read_binary_files makes a "
                                  "row of each object, and a row holds less than 2 GiB; read "
                                  "it with quarry.map or read_text/read_csv in chunks")
    offsets, data = _fetch_ranges(partitions, [(0, p.size) for p in partitions])
    if offsets[-1] < 1 << 31:
        return pa.Array.from_buffers(pa.binary(), len(partitions),
                                     [None, pa.py_buffer(offsets.astype(np.int32)),
                                      pa.py_buffer(data)])
    return pa.chunked_array([pa.array([data[offsets[i]:offsets[i + 1]]], pa.binary())
                             for i in range(len(partitions))], pa.binary())


# -- Parquet ------------------------------------------------------------------------------------

# A Parquet piece's row group: its index in the file, (offset, bytes) of the file's end as the
# driver read it, and by top-level column the byte ranges of its column chunks and their bytes
# decoded.
_RowGroup = collections.namedtuple("_RowGroup", "index tail spans memory")


class _Parquet(_Format):
    """Parquet by row groups: each file's footer is read once, on the driver (files in
    parallel); each row group is a piece of a read task, which reads only the byte ranges of
    the columns asked for (and the filter's), through pyarrow.dataset over a Quarry stream that
    serves the footer from what the driver read."""

    name = "Parquet"
    pushdown = True

    def __init__(self, columns=None, filter=None):  # noqa: A002
        import pyarrow.compute as pc
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise InvalidArgument(f"columns={columns!r}: give a list of column names")
            columns = list(columns)
        if filter is not None and not isinstance(filter, pc.Expression):
            raise InvalidArgument(f"filter={filter!r} is not a pyarrow expression: give e.g. "
                                  "pyarrow.compute.field('x') > 3")
        self._columns = columns
        self._filter = filter

    def plan_options(self, chunk_size, newline):
        return {"decompress": False}

    def narrowed(self, columns, predicate):
        """A copy reading only `columns` (None: those it read) of the rows that also meet
        `predicate` (a pyarrow expression, or None): what Ray Data pushed down."""
        narrow = copy.copy(self)
        if columns is not None:
            narrow._columns = [c for c in columns if self._columns is None or c in self._columns]
        if predicate is not None:
            narrow._filter = predicate if self._filter is None else self._filter & predicate
        return narrow

    def prepare(self, partitions):
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(min(16, max(1, len(partitions)))) as pool:
            footers = list(pool.map(self._footer, partitions))
        pieces = []
        schema = None
        for p, (tail, metadata, kept) in zip(partitions, footers):
            if schema is None:
                schema = metadata.schema.to_arrow_schema()
            for rg in kept:
                group = metadata.row_group(rg)
                spans = {}  # top-level column: the byte ranges of its column chunks
                memory = collections.Counter()  # top-level column: its bytes decoded
                for c in range(group.num_columns):
                    column = group.column(c)
                    name = column.path_in_schema.split(".")[0]
                    start = column.data_page_offset
                    if column.has_dictionary_page and 0 < column.dictionary_page_offset < start:
                        start = column.dictionary_page_offset
                    spans.setdefault(name, []).append((start, start + column.total_compressed_size))
                    memory[name] += column.total_uncompressed_size
                # Its weight and size depend on the columns read: weight() and size_bytes()
                # derive them from the row group, as a projection pushed down later narrows.
                pieces.append(_Piece(p, None, None,
                                     None if self._filter is not None else group.num_rows,
                                     _RowGroup(rg, tail, spans, memory)))
        if schema is not None and self._columns:
            missing = [c for c in self._columns if c not in schema.names]
            if missing:
                raise InvalidArgument(f"columns {missing} are not in {partitions[0].uri}, whose "
                                      f"columns are {schema.names}")
            schema = schema.remove_metadata()
            schema = __import__("pyarrow").schema([schema.field(c) for c in self._columns])
        self.schema = schema
        return pieces

    def weight(self, piece):
        """The bytes of the piece's row group in the columns read (a projection pushed down
        after the plan was made counts)."""
        return sum(stop - start for start, stop in self._column_ranges(piece))

    def size_bytes(self, piece):
        """The decoded bytes of the piece's row group in the columns read (a projection pushed
        down after the plan was made counts)."""
        memory = piece.extra.memory
        return sum(memory.get(name, 0) for name in self._names_read(memory))

    def _column_ranges(self, piece):
        """The byte ranges of the piece's column chunks of the columns read."""
        spans = piece.extra.spans
        return [r for name in self._names_read(spans) for r in spans.get(name, ())]

    def _names_read(self, by_column):
        """The top-level columns read, of a row group's `by_column` (keyed by them all)."""
        return self._columns if self._columns is not None else list(by_column)

    def _footer(self, p):
        """(the bytes pyarrow read at the file's end, the FileMetaData, the row groups the
        filter's statistics keep)."""
        import pyarrow as pa
        import pyarrow.dataset as pds
        recorder = _TailRecorder(_byte_stream(p))
        try:
            fragment = pds.ParquetFileFormat().make_fragment(
                pa.PythonFile(recorder, mode="r"), file_size=p.size)
            fragment.ensure_complete_metadata()
            metadata = fragment.metadata
            if self._filter is not None:
                kept = [rg.id for rg in fragment.subset(self._filter).row_groups]
            else:
                kept = list(range(metadata.num_row_groups))
        except (pa.ArrowInvalid, OSError) as e:
            raise InvalidArgument(f"{p.uri} is not a Parquet file pyarrow can read: {e}") from None
        finally:
            recorder.close()
        return recorder.tail(p.size), metadata, kept

    def read(self, pieces):
        """Row group by row group; the column chunks the read needs (those of the columns, by
        the footer's offsets) are fetched ahead, many at once, for runs of row groups of up to
        _PREFETCH_BYTES. Without a filter they land in a sparse image of the run's files (_Image)
        that pyarrow reads as memory; a filter also reads columns not asked for, which pyarrow
        names to no one, so there (and where the system refuses an image) pyarrow reads through
        a file object served from the fetched chunks, and from the stream where it asks for
        other bytes."""
        import pyarrow.dataset as pds
        file_format = pds.ParquetFileFormat()
        if self._filter is None:
            fetch = self._fetch_image
        else:
            # A filter pushed down after the plan was made: the row groups its statistics rule
            # out are dropped here, before their columns are fetched.
            pieces = [piece for piece in pieces if self._may_match(file_format, piece)]
            fetch = self._fetch
        for run, fetched in _fetched_ahead(_runs(pieces, _PREFETCH_BYTES, self.weight), fetch):
            if isinstance(fetched, _Image):
                yield from self._read_image(run, fetched)
            else:
                yield from self._read_through_files(file_format, run, fetched)

    def _read_image(self, run, image):
        """(uri, table) for each piece of the run, pyarrow reading its file's image as memory."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        files = {}
        for piece in run:
            p = piece.partition
            if p.uri not in files:
                files[p.uri] = pq.ParquetFile(pa.BufferReader(image.file(p.uri)))
            yield p.uri, files[p.uri].read_row_group(piece.extra.index, columns=self._columns)

    def _read_through_files(self, file_format, run, fetched):
        """(uri, table) for each piece of the run, pyarrow reading through a file object that
        serves the piece's fetched column chunks (fetched: as _fetch returns them), and the
        stream where it asks for others."""
        import pyarrow as pa
        for piece, spans in zip(run, fetched):
            p, rg = piece.partition, piece.extra
            with _Prefetched(_byte_stream(p), rg.tail, p.size, spans) as source:
                fragment = file_format.make_fragment(pa.PythonFile(source, mode="r"),
                                                     row_groups=[rg.index], file_size=p.size)
                table = fragment.to_table(columns=self._columns, filter=self._filter)
            yield p.uri, table

    def _fetch_image(self, pieces):
        """An _Image of the pieces' files holding their footers and the column chunks of the
        pieces' row groups in the columns read, fetched in one batch. Where the system refuses
        the mapping (an image takes address space of the files' size: under strict overcommit
        accounting, say, it counts in full), the chunks as _fetch returns them instead."""
        try:
            image = _Image([piece.partition for piece in pieces])
        except OSError:
            return self._fetch(pieces)
        partitions, ranges = [], []
        by_file = {}
        for piece in pieces:
            p = piece.partition
            if p.uri not in by_file:
                # The end of the file as the driver read it, and the rest of the footer where
                # the driver kept less of it (the last 1 MiB).
                tail_start, tail = piece.extra.tail
                image.put(p.uri, tail_start, tail)
                footer_start = p.size - 8 - int.from_bytes(tail[-8:-4], "little")
                by_file[p.uri] = (p, [(max(0, footer_start), tail_start)]
                                  if footer_start < tail_start else [])
            by_file[p.uri][1].extend(self._column_ranges(piece))
        for p, wanted in by_file.values():
            # Past each chunk's end, a little more: pyarrow reads up to 100 bytes beyond the
            # chunk's stated size in files of writers that understated it.
            for start, stop in _joined([(start, min(p.size, stop + _CHUNK_SLACK))
                                        for start, stop in wanted]):
                partitions.append(p)
                ranges.append((start, stop))
        image.fetch(partitions, ranges)
        return image

    def _may_match(self, file_format, piece):
        """Whether the row group's statistics (in the footer the driver read) leave rows that
        the filter may keep."""
        import pyarrow as pa
        p, rg = piece.partition, piece.extra
        with _Prefetched(_byte_stream(p), rg.tail, p.size) as source:
            fragment = file_format.make_fragment(pa.PythonFile(source, mode="r"),
                                                 row_groups=[rg.index], file_size=p.size)
            return bool(fragment.subset(self._filter).row_groups)

    def _fetch(self, pieces):
        """For each piece, [(start, bytes)]: its columns' chunks, adjacent ones joined, read
        in one batch for all the pieces."""
        wanted = [_joined(self._column_ranges(piece)) for piece in pieces]
        partitions = [piece.partition for piece, ranges in zip(pieces, wanted) for _ in ranges]
        if not partitions:
            return [[] for _ in pieces]
        offsets, data = _fetch_ranges(partitions, [r for ranges in wanted for r in ranges])
        offsets = offsets.tolist()
        view = memoryview(data)
        out, i = [], 0
        for ranges in wanted:
            out.append([(start, view[offsets[i + k]:offsets[i + k + 1]])
                        for k, (start, _) in enumerate(ranges)])
            i += len(ranges)
        return out


def _runs(pieces, budget, weight):
    """Consecutive runs of pieces of at most `budget` bytes to fetch, by weight(piece) (at least
    one piece)."""
    run, held = [], 0
    for piece in pieces:
        if run and held + weight(piece) > budget:
            yield run
            run, held = [], 0
        run.append(piece)
        held += weight(piece)
    if run:
        yield run


def _fetched_ahead(runs, fetch):
    """(run, fetch(run)) for each run, the next run's fetch going on (in a thread: fetches wait
    without the GIL) while the caller uses this one's: two runs' bytes held at most."""
    from concurrent.futures import ThreadPoolExecutor
    runs = iter(runs)
    with ThreadPoolExecutor(1) as pool:
        run = next(runs, None)
        pending = pool.submit(fetch, run) if run is not None else None
        while run is not None:
            following = next(runs, None)
            result = pending.result()
            pending = pool.submit(fetch, following) if following is not None else None
            yield run, result
            run = following


def _joined(ranges, gap=64 << 10):
    """The ranges sorted, with those at most `gap` bytes apart joined into one (the bytes
    between are fetched too, which costs less than another request). The gap is more than
    pyarrow leaves between the ranges it reads as one (8 KiB), so each read it makes of the
    columns falls inside one joined range."""
    out = []
    for start, stop in sorted(ranges):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], stop))
        else:
            out.append((start, stop))
    return out


class _Image:
    """A sparse image of some objects, one after another (each at a page boundary) in one
    anonymous mapping that reserves no memory: the bytes put or fetched into it take memory,
    the rest reads as zeros and costs none. Parquet reads go to memory this way, with no
    Python file object in between; the caller must fetch every byte the reader will read."""

    def __init__(self, partitions):
        import mmap
        import sys
        self._at = {}
        size = 0
        for p in partitions:
            if p.uri not in self._at:
                self._at[p.uri] = (size, p.size)
                size += -(-p.size // mmap.PAGESIZE) * mmap.PAGESIZE
        # MAP_NORESERVE (Linux's value; the mmap module does not name it): the image may be far
        # larger than memory, as only what is written to it is ever backed.
        noreserve = getattr(mmap, "MAP_NORESERVE", 0x4000 if sys.platform == "linux" else 0)
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | noreserve
        self._map = mmap.mmap(-1, max(1, size), flags=flags)
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            # Huge pages only where a range fills them (the fetch asks for those), so a small
            # range costs its own pages, not 2 MiB.
            self._map.madvise(mmap.MADV_NOHUGEPAGE)
        self._buffer = None

    def put(self, uri, start, data):
        """Writes `data` at byte `start` of the object's image."""
        at = self._at[uri][0] + start
        self._map[at:at + len(data)] = data

    def fetch(self, partitions, ranges):
        """Fetches ranges[i] of partitions[i]'s object into its place, all at once
        (_FETCH_CONCURRENCY requests in flight, the GIL released)."""
        from . import _quarry
        if partitions:
            _quarry.read_ranges_into([p._native for p in partitions], ranges,
                                     [self._at[p.uri][0] + start
                                      for p, (start, _) in zip(partitions, ranges)],
                                     self._map, partitions[0]._storage_options,
                                     _FETCH_CONCURRENCY)

    def file(self, uri):
        """The object's image as an Arrow buffer (no copy; it keeps the mapping alive)."""
        import pyarrow as pa
        if self._buffer is None:
            self._buffer = pa.py_buffer(self._map)
        at, size = self._at[uri]
        return self._buffer.slice(at, size)


class _TailRecorder(io.RawIOBase):
    """A file over a stream that keeps the bytes read from its last 1 MiB (where pyarrow reads
    a Parquet footer)."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream
        self._size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        self._reads = []

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self._stream.seek(offset, whence)

    def tell(self):
        return self._stream.tell()

    def readinto(self, buffer):
        at = self._stream.tell()
        n = self._stream.readinto(buffer)
        if at >= self._size - (1 << 20):
            self._reads.append((at, bytes(memoryview(buffer)[:n])))
        return n

    def tail(self, size):
        """(offset, bytes): the longest run of recorded bytes that ends at the file's end."""
        start, data = size, b""
        for at, got in sorted(self._reads, key=lambda r: -(r[0])):
            if at + len(got) >= start and at < start:
                data = got[:start - at] + data
                start = at
        return start, data

    def close(self):
        if not self.closed:
            self._stream.close()
        super().close()


class _Prefetched(io.RawIOBase):
    """A file over a stream whose bytes from `tail[0]` to the end are served from `tail[1]`, and
    those of each (start, bytes) of `spans` from there; other reads go to the stream."""

    def __init__(self, stream, tail, size, spans=()):
        super().__init__()
        self._stream = stream
        self._size = size
        self._spans = sorted([*spans, tail], key=lambda span: span[0])
        self._pos = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self):
        return self._pos

    def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if not want:
            return 0
        for start, data in self._spans:
            if start <= self._pos and self._pos + want <= start + len(data):
                at = self._pos - start
                view[:want] = data[at:at + want]
                break
        else:
            self._stream.seek(self._pos)
            want = self._stream.readinto(view[:want])
        self._pos += want
        return want

    def close(self):
        if not self.closed:
            self._stream.close()
        super().close()
