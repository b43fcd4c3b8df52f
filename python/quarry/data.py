"""Ray Data datasets over a Quarry plan: Quarry lists the inputs and cuts them into partitions
on the driver (one credential per job), and each Ray Data read task opens and parses its own
partitions' data into Arrow blocks with pyarrow.

    ds = quarry.data.read_csv("s3://bucket/big.csv")          # 64 MiB line-aligned chunks
    ds = quarry.data.read_parquet("s3://bucket/t/", columns=["a"], filter=pc.field("a") > 3)

Readers: read_csv, read_text, read_json (JSON lines), read_binary_files, read_parquet, each a
ray.data.read_datasource(QuarryDatasource(...)). Ray is imported when a reader is called.
"""

from .errors import InvalidArgument

DEFAULT_CHUNK_SIZE = 64 << 20
"""Bytes per line-aligned chunk of a CSV, text or JSON-lines object: one chunk is one block,
and what bounds a read task's memory."""

__all__ = ["DEFAULT_CHUNK_SIZE", "QuarryDatasource", "read", "read_binary_files", "read_csv",
           "read_json", "read_parquet", "read_text"]


def __getattr__(name):
    if name == "QuarryDatasource":  # a ray.data.Datasource: defined once Ray is imported
        from ._datasource import QuarryDatasource
        return QuarryDatasource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- readers ------------------------------------------------------------------------------------

def _dataset(paths, format, ray_args, **options):  # noqa: A002
    import ray.data

    from ._datasource import QuarryDatasource
    source = QuarryDatasource(paths, format, **options)
    args = {k: v for k, v in ray_args.items() if v is not None}
    if args.get("override_num_blocks") is None:
        args["override_num_blocks"] = source.choose_read_tasks()
    return ray.data.read_datasource(source, **args)


def read_csv(paths, *, chunk_size=None, schema=None, read_options=None, parse_options=None,
             convert_options=None, include_paths=False, partition_filter=None,
             override_num_blocks=None, concurrency=None, storage_options=None):
    """A ray.data.Dataset of the CSV objects under `paths`, parsed with pyarrow.csv in
    line-aligned chunks of `chunk_size` bytes (default 64 MiB), each chunk a block parsed with
    the object's header.

    Every block has one schema: the column types are those of `schema` (a pyarrow.Schema) or
    convert_options.column_types where given, else inferred on the driver from the start (1 MiB)
    of up to 8 chunks spread over the plan, widened to hold them all (int64 with float64 gives
    float64; a column empty in all of them is a string; other mixes are strings). A later
    value that does not fit fails the read with an error naming the column and telling to give
    its type. read_options / parse_options / convert_options are pyarrow.csv's (skip_rows and
    newlines_in_values cannot apply to chunks). Quoted values must not hold a newline."""
    return _dataset(paths, "csv", {"override_num_blocks": override_num_blocks,
                                   "concurrency": concurrency},
                    chunk_size=chunk_size, include_paths=include_paths,
                    partition_filter=partition_filter, storage_options=storage_options,
                    schema=schema, read_options=read_options, parse_options=parse_options,
                    convert_options=convert_options)


def read_text(paths, *, encoding="utf-8", drop_empty_lines=True, chunk_size=None,
              include_paths=False, partition_filter=None, override_num_blocks=None,
              concurrency=None, storage_options=None):
    """A ray.data.Dataset of one row per line, {"text": str}, in line-aligned chunks of
    `chunk_size` bytes (default 64 MiB). Lines end at b"\\n" (a b"\\r" before it is dropped
    too); lines of only whitespace are dropped unless drop_empty_lines=False."""
    return _dataset(paths, "text", {"override_num_blocks": override_num_blocks,
                                    "concurrency": concurrency},
                    chunk_size=chunk_size, include_paths=include_paths,
                    partition_filter=partition_filter, storage_options=storage_options,
                    encoding=encoding, drop_empty_lines=drop_empty_lines)


def read_json(paths, *, chunk_size=None, schema=None, read_options=None, parse_options=None,
              include_paths=False, partition_filter=None, override_num_blocks=None,
              concurrency=None, storage_options=None):
    """A ray.data.Dataset of JSON lines (one object a line), parsed with pyarrow.json in
    line-aligned chunks of `chunk_size` bytes (default 64 MiB). One schema for every block:
    `schema` if given, else the samples' (as read_csv), handed to every chunk as its explicit
    schema; fields no sample held are typed by each chunk (parse_options
    unexpected_field_behavior="ignore" drops them, "error" refuses them)."""
    return _dataset(paths, "json", {"override_num_blocks": override_num_blocks,
                                    "concurrency": concurrency},
                    chunk_size=chunk_size, include_paths=include_paths,
                    partition_filter=partition_filter, storage_options=storage_options,
                    schema=schema, read_options=read_options, parse_options=parse_options)


def read_binary_files(paths, *, include_paths=False, partition_filter=None,
                      override_num_blocks=None, concurrency=None, storage_options=None):
    """A ray.data.Dataset of one row per object, {"bytes"} (and {"path"} with include_paths),
    the bytes as stored. A read task opens its next objects while it reads one."""
    return _dataset(paths, "binary", {"override_num_blocks": override_num_blocks,
                                      "concurrency": concurrency},
                    include_paths=include_paths, partition_filter=partition_filter,
                    storage_options=storage_options)


def read_parquet(paths, *, columns=None, filter=None, include_paths=False,  # noqa: A002
                 partition_filter=None, override_num_blocks=None, concurrency=None,
                 storage_options=None):
    """A ray.data.Dataset of the Parquet files under `paths`, split by row groups: footers are
    read once, on the driver; the row groups are grouped into read tasks by their bytes; each
    reads only the column chunks of `columns` (and of `filter`, a pyarrow expression, applied
    to the rows and, through the row groups' statistics, to skip row groups on the driver)."""
    return _dataset(paths, "parquet", {"override_num_blocks": override_num_blocks,
                                       "concurrency": concurrency},
                    include_paths=include_paths, partition_filter=partition_filter,
                    storage_options=storage_options, columns=columns, filter=filter)


def read(inputs, format="lines", chunk_size=None, newline=b"\n", header=None,  # noqa: A002
         storage_options=None, **read_options):
    """The first reader, kept for compatibility: format="lines" gives {"uri", "line"} rows
    (bytes, separator kept, `newline` separated); "binary" {"uri", "bytes"} rows; "csv"
    read_csv's rows (`read_options` are its keyword arguments). Prefer the read_* readers."""
    if format == "binary":
        return read_binary_files(inputs, include_paths=True,
                                 storage_options=storage_options).rename_columns({"path": "uri"})
    if format == "lines":
        if header:
            raise InvalidArgument("format='lines' with header=True: use read_csv")
        return _dataset(inputs, "records", {}, chunk_size=chunk_size, newline=newline,
                        storage_options=storage_options)
    if format == "csv":
        if header is False:
            import pyarrow.csv as pcsv
            read_options.setdefault("read_options",
                                    pcsv.ReadOptions(autogenerate_column_names=True))
        return read_csv(inputs, chunk_size=chunk_size, storage_options=storage_options,
                        **read_options)
    raise InvalidArgument(f"format={format!r}: use 'lines', 'binary' or 'csv'")
