"""Ray Data datasets over a Quarry plan: the listing, partitioning and reading are Quarry's; the
rows flow through Ray Data."""


def read(inputs, format="lines", chunk_size=None, newline=b"\n", header=None,  # noqa: A002
         storage_options=None, **read_options):
    """A ray.data.Dataset over `inputs`.

    format="lines": one row per record, {"uri", "line"} (bytes, separator kept), read in
    line-aligned chunks; "binary": one row per object, {"uri", "bytes"}; "csv": pandas-parsed
    rows, chunks line-aligned with the header handed to every chunk (header defaults to True).
    """
    import ray

    from ._api import Plan

    if format == "binary":
        plan = Plan(inputs, storage_options=storage_options)
    elif format in ("lines", "csv"):
        use_header = (format == "csv") if header is None else bool(header)
        plan = Plan(inputs, chunk_size=chunk_size, newline=newline, header=use_header,
                    storage_options=storage_options)
    else:
        raise ValueError(f"format={format!r}: use 'lines', 'binary' or 'csv'")
    items = [{"partition": p} for p in plan]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    if format == "binary":
        return ds.map(lambda row: {"uri": row["partition"].uri, "bytes": row["partition"].read()})
    if format == "lines":
        return ds.flat_map(
            lambda row: [{"uri": row["partition"].uri, "line": line}
                         for line in row["partition"].lines()])

    def parse(batch):
        import io

        import pandas as pd
        frames = []
        for p in batch["partition"]:
            data = p.read()
            head = p.header or b""
            if not data:
                continue
            frames.append(pd.read_csv(io.BytesIO(head + data), **read_options))
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    return ds.map_batches(parse, batch_size=1, batch_format="pandas")
