"""Lithops' executor API on Quarry: programs written for `lithops.FunctionExecutor` run on Ray (or
a local thread pool when Ray is not initialized) with Quarry's plans and one credential per job.

    import quarry.lithops as lithops

    fexec = lithops.FunctionExecutor()
    fexec.map_reduce(count_words, "s3://bucket/texts/", merge, obj_chunk_size=4 << 20)
    print(fexec.get_result())

Covered: `call_async`, `map` and `map_reduce` (with `extra_args`, `extra_args_reduce`,
`chunksize`, `obj_chunk_size`, `obj_chunk_number`, `obj_newline`, `obj_reduce_by_key`), `wait`
(`return_when` ALWAYS, ANY_COMPLETED, ALL_COMPLETED or a percentage; `timeout`), `get_result`,
`futures`, `clean`, and the context manager. A function with a parameter named `obj` processes
data: the inputs are buckets (`cos://bucket`), prefixes (`s3://bucket/dir/`) or keys, with the
scheme of the executor's storage when they name none (`bucket/dir/`); `obj` has Lithops'
`bucket`, `key`, `part`, `data_byte_range` (inclusive), `chunk_size`, `size` and `data_stream`,
and each chunk keeps its lines whole. Functions asking for `storage` get a `Storage` (Lithops'
storage calls over Quarry, with the executor's credential) and those asking for `id` their call
number (for a data-processing function, the partition's part number within its object). Arguments Lithops takes for its own cloud runtimes (runtime_memory, extra_env, timeout,
include_modules, ...) are accepted and have no effect here."""

import concurrent.futures
import inspect
import itertools
import os
import threading
import time

from . import _api
from ._api import Plan
from .errors import InvalidArgument

ALWAYS = 0
ANY_COMPLETED = -1
ALL_COMPLETED = 100

# Lithops' storage backend names, and the Quarry scheme each one is.
_BACKENDS = {"aws_s3": "s3", "ibm_cos": "cos", "ceph": "s3", "minio": "s3", "gcp_storage": "gs",
             "azure_storage": "az", "localhost": "file"}
_RESERVED = ("obj", "storage", "id", "ibm_cos", "rabbitmq")
_executor_ids = itertools.count()


def _scheme_for(storage):
    if storage is None:
        return "s3"
    if storage in _BACKENDS:
        return _BACKENDS[storage]
    if "://" not in storage and storage.isidentifier():
        return storage
    raise InvalidArgument(f"storage={storage!r} is not allowed: give a Lithops storage backend "
                          f"({', '.join(sorted(_BACKENDS))}) or a Quarry scheme (s3, cos, gs, "
                          "az, file, mem)")


class Storage:
    """Lithops' Storage calls over Quarry's stores, for one scheme and its resolved options (the
    executor's credential, resolved once on the driver; never shown by repr). Picklable."""

    def __init__(self, scheme="s3", storage_options=None, bucket=None):
        self.backend = scheme
        self.bucket = bucket
        self._options = _api._Secret(_api.resolve_storage_options([f"{scheme}://any-bucket"],
                                                                  storage_options))
        self._cloudobjects = []

    def __repr__(self):
        return f"Storage(backend={self.backend!r})"

    def _uri(self, bucket, key=""):
        if self.backend == "file":
            return "file:///" + "/".join(part.strip("/") for part in (bucket, key) if part)
        return f"{self.backend}://{bucket}/{key}"

    @property
    def _opts(self):
        return self._options[self.backend]

    def get_client(self):
        return self

    def get_storage_config(self):
        return {"backend": self.backend, "bucket": self.bucket}

    def create_bucket(self, bucket):
        _api.create_bucket(f"{self.backend}://{bucket}", storage_options=self._opts)

    def put_object(self, bucket, key, body):
        if isinstance(body, str):
            body = body.encode()
        _api.put(self._uri(bucket, key), body, storage_options=self._opts)

    def get_object(self, bucket, key, stream=False, extra_get_args=None):
        """The object's bytes, or with stream=True a binary file reading them. extra_get_args
        may hold {'Range': 'bytes=A-B'} (B inclusive, as HTTP says; 'bytes=A-' to the end)."""
        start, stop = 0, None
        rng = (extra_get_args or {}).get("Range")
        if rng:
            try:
                first, last = rng.split("=", 1)[1].split("-", 1)
                start, stop = int(first), (int(last) + 1 if last else None)
            except ValueError:
                raise InvalidArgument(f"Range={rng!r} is not allowed: give 'bytes=A-B' or "
                                      "'bytes=A-'") from None
        uri = self._uri(bucket, key)
        if stream:
            return _api.open(uri, start=start, stop=stop, storage_options=self._opts)
        return _api.get(uri, start=start, stop=stop, storage_options=self._opts)

    def upload_file(self, file_name, bucket, key=None, extra_args=None):
        with open(file_name, "rb") as f:
            _api.put(self._uri(bucket, key or os.path.basename(file_name)), f,
                     storage_options=self._opts)
        return True

    def download_file(self, bucket, key, file_name=None, extra_args=None):
        with open(file_name or os.path.basename(key), "wb") as out:
            with _api.open(self._uri(bucket, key), storage_options=self._opts) as src:
                while chunk := src.read(8 << 20):
                    out.write(chunk)
        return True

    def head_object(self, bucket, key):
        info = _api.stat(self._uri(bucket, key), storage_options=self._opts)
        return {"content-length": str(info.size), "ETag": f'"{info.etag}"',
                "LastModified": info.last_modified, "content-type": info.content_type}

    def delete_object(self, bucket, key):
        _api.delete(self._uri(bucket, key), storage_options=self._opts)

    def delete_objects(self, bucket, key_list):
        for key in key_list:
            self.delete_object(bucket, key)

    def head_bucket(self, bucket):
        for info in _api.ls(f"{self.backend}://", storage_options=self._opts):
            if info.bucket == bucket:
                return {"ResponseMetadata": {"HTTPStatusCode": 200}}
        from .errors import NotFound
        raise NotFound(f"bucket {bucket!r} not found on {self.backend}://")

    def list_objects(self, bucket, prefix=None, match_pattern=None):
        """[{'Key', 'Size', 'ETag', 'LastModified'}] of the keys starting with `prefix`."""
        out = []
        for info in _api.ls(self._uri(bucket, prefix or ""), recursive=True,
                            storage_options=self._opts):
            key = getattr(info, "key", None)
            if key is None or not key.startswith(prefix or ""):
                continue
            if match_pattern is not None:
                import fnmatch
                if not fnmatch.fnmatch(key, match_pattern):
                    continue
            out.append({"Key": key, "Size": info.size, "ETag": info.etag,
                        "LastModified": info.last_modified})
        return out

    def list_keys(self, bucket, prefix=None):
        return [o["Key"] for o in self.list_objects(bucket, prefix)]

    def put_cloudobject(self, body, bucket=None, key=None):
        bucket = bucket or self.bucket
        if bucket is None:
            raise InvalidArgument("put_cloudobject needs a bucket: give bucket=, or make the "
                                  "Storage with one")
        key = key or f"lithops.jobs/cloudobject_{os.getpid()}_{time.time_ns():x}"
        self.put_object(bucket, key, body)
        obj = CloudObject(self.backend, bucket, key)
        self._cloudobjects.append(obj)
        return obj

    def get_cloudobject(self, cloudobject, stream=False):
        if cloudobject.backend != self.backend:
            raise InvalidArgument(f"{cloudobject!r} is of {cloudobject.backend}://, this Storage "
                                  f"of {self.backend}://")
        return self.get_object(cloudobject.bucket, cloudobject.key, stream=stream)

    def delete_cloudobject(self, cloudobject):
        self.delete_object(cloudobject.bucket, cloudobject.key)

    def delete_cloudobjects(self, cloudobjects):
        for c in cloudobjects:
            self.delete_cloudobject(c)


class CloudObject:
    __slots__ = ("backend", "bucket", "key")

    def __init__(self, backend, bucket, key):
        self.backend, self.bucket, self.key = backend, bucket, key

    def __repr__(self):
        return f"CloudObject({self.backend}://{self.bucket}/{self.key})"

    def __getstate__(self):
        return (self.backend, self.bucket, self.key)

    def __setstate__(self, state):
        self.backend, self.bucket, self.key = state


class _LithopsObject:
    """The `obj` Lithops gives a data-processing function, over a Quarry partition."""

    def __init__(self, partition, backend):
        self._p = partition
        self.backend = backend
        self.bucket = partition.bucket
        self.key = partition.key
        self.part = partition.part
        self.size = partition.size
        start, stop = partition.byte_range
        self.data_byte_range = (start, max(start, stop - 1))
        self.chunk_size = stop - start
        self.path = f"{partition.bucket}/{partition.key}"

    @property
    def data_stream(self):
        return self._p.data_stream

    def __repr__(self):
        return f"<obj {self._p.uri} part {self.part}>"


def _wants(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _call_arguments(fn, iterdata, extra_args):
    """Lithops' argument rules: a tuple is positional arguments, a dict keyword arguments, any
    other value the one argument; extra_args (a tuple or a dict, matching) is added to each."""
    if isinstance(iterdata, (range, set)):
        data = list(iterdata)
    elif not isinstance(iterdata, list):
        data = [iterdata]
    else:
        data = iterdata
    sig = inspect.signature(fn)
    user = sig.replace(parameters=[p for n, p in sig.parameters.items() if n not in _RESERVED])
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in user.parameters.values())
    calls = []
    for elem in data:
        if extra_args:
            if isinstance(elem, tuple):
                if not isinstance(extra_args, tuple):
                    raise InvalidArgument("extra_args must be a tuple when the data are tuples")
                elem = elem + extra_args
            elif isinstance(elem, dict):
                if not isinstance(extra_args, dict):
                    raise InvalidArgument("extra_args must be a dict when the data are dicts")
                elem = {**elem, **extra_args}
            else:
                elem = (elem, *(extra_args if isinstance(extra_args, (tuple, list))
                                else (extra_args,)))
        if isinstance(elem, dict):
            if not takes_kwargs and not set(user.parameters) <= set(elem):
                raise InvalidArgument(f"the arguments {sorted(elem)} do not name every parameter "
                                      f"of {fn.__name__}: {list(user.parameters)}")
            calls.append(dict(elem))
        elif isinstance(elem, tuple):
            calls.append(dict(user.bind(*elem).arguments))
        else:
            calls.append(dict(user.bind(elem).arguments))
    return calls


def _run_call(fn, kwargs, call_id, storage):
    if _wants(fn, "id"):
        kwargs = {**kwargs, "id": call_id}
    if _wants(fn, "storage"):
        kwargs = {**kwargs, "storage": storage}
    return fn(**kwargs)


class ResponseFuture:
    """One function activation: `result()`, `done`, `success`, `error`."""

    def __init__(self, executor_id, job_id, call_id, produce_output=True):
        self.executor_id, self.job_id, self.call_id = executor_id, job_id, call_id
        self._produce_output = produce_output
        self._read = False
        self.futures = None  # Lithops' chained futures: never here
        self._event = threading.Event()
        self._value = None
        self._exception = None
        self.stats = {}

    def _set(self, value=None, exception=None):
        self._value, self._exception = value, exception
        self._event.set()

    @property
    def done(self):
        return self._event.is_set()

    ready = done

    @property
    def success(self):
        return self._event.is_set() and self._exception is None

    @property
    def error(self):
        return self._event.is_set() and self._exception is not None

    def wait(self, timeout=None):
        return self._event.wait(timeout)

    def result(self, throw_except=True, internal_storage=None, timeout=None):
        if not self._event.wait(timeout):
            raise TimeoutError(f"call {self.call_id} not finished after {timeout} s")
        if self._exception is not None:
            if throw_except:
                raise self._exception
            return None
        return self._value

    def __repr__(self):
        state = "done" if self.done else "running"
        return f"<ResponseFuture {self.executor_id}/{self.job_id}/{self.call_id} {state}>"


class FuturesList(list):
    def wait(self, **kwargs):
        return wait(self, **kwargs)

    def get_result(self, **kwargs):
        return [f.result(**kwargs) for f in self if f._produce_output]


class _Runner:
    """Where calls run: Ray tasks when Ray is initialized, else a thread pool."""

    def __init__(self):
        self._pool = None
        self._remote = None
        self._lock = threading.Lock()

    def run(self, future, fn, *args):
        try:
            import ray
            on_ray = ray.is_initialized()
        except ImportError:
            on_ray = False
        if on_ray:
            with self._lock:
                if self._remote is None:
                    self._remote = ray.remote(num_cpus=1, max_retries=0)(_run_call)
            ref = self._remote.remote(fn, *args)

            def collect():
                try:
                    future._set(ray.get(ref))
                except Exception as e:  # noqa: BLE001 - the call's failure, for result()
                    future._set(exception=getattr(e, "cause", None) or e)

            threading.Thread(target=collect, daemon=True).start()
            return
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    min(32, (os.cpu_count() or 1) * 4), thread_name_prefix="quarry-lithops")
        done = self._pool.submit(_run_call, fn, *args)
        done.add_done_callback(
            lambda d: future._set(exception=d.exception()) if d.exception() is not None
            else future._set(d.result()))

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)


class FunctionExecutor:
    """Lithops' FunctionExecutor over Quarry. `storage` is the storage backend of inputs and of
    the `storage` argument (a Lithops name such as 'aws_s3', 'ibm_cos', 'ceph', 'gcp_storage',
    'azure_storage', or a Quarry scheme; default s3); `storage_options` Quarry's options for it.
    Other Lithops arguments (backend, config, runtime, log_level, ...) are accepted and unused:
    calls run on Ray when it is initialized, else on a local thread pool."""

    def __init__(self, storage=None, storage_options=None, **lithops_arguments):
        self._scheme = _scheme_for(storage)
        self._storage_options = storage_options
        self.executor_id = f"quarry-{os.getpid()}-{next(_executor_ids)}"
        self.futures = []
        self.last_call = None
        self._jobs = itertools.count()
        self._runner = _Runner()
        self._storage = None
        self._quarry_jobs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.clean()
        self._runner.close()

    @property
    def storage(self):
        if self._storage is None:
            self._storage = Storage(self._scheme, self._storage_options)
        return self._storage

    # --- calls ---
    def call_async(self, func, data, extra_env=None, runtime_memory=None, timeout=None,
                   include_modules=None, exclude_modules=None):
        """One activation of func(data): a tuple is positional arguments, a dict keyword ones."""
        self.last_call = "call_async"
        job_id = f"A{next(self._jobs):03d}"
        (kwargs,) = _call_arguments(func, [data], None)
        future = ResponseFuture(self.executor_id, job_id, 0)
        self.futures.append(future)
        self._runner.run(future, func, kwargs, 0, self._storage_for(func))
        return future

    def map(self, map_function, map_iterdata, chunksize=None, extra_args=None, extra_env=None,
            runtime_memory=None, obj_chunk_size=None, obj_chunk_number=None, obj_newline="\n",
            timeout=None, include_modules=None, exclude_modules=None):
        """One activation per element of map_iterdata, or, for a function taking `obj`, per
        partition of the objects it names (chunks of obj_chunk_size bytes or obj_chunk_number per
        object, lines kept whole at obj_newline). Returns the futures, in order."""
        self.last_call = "map"
        futures = self._map(map_function, map_iterdata, extra_args, obj_chunk_size,
                            obj_chunk_number, obj_newline, produce_output=True)
        self.futures.extend(futures)
        return futures

    def map_reduce(self, map_function, map_iterdata, reduce_function, chunksize=None,
                   extra_args=None, extra_args_reduce=None, extra_env=None,
                   map_runtime_memory=None, reduce_runtime_memory=None, timeout=None,
                   obj_chunk_size=None, obj_chunk_number=None, obj_newline="\n",
                   obj_reduce_by_key=False, spawn_reducer=20, include_modules=None,
                   exclude_modules=None):
        """map, then reduce_function(results) once the map results are in (their plan order);
        with obj_reduce_by_key, one reduce per object over its partitions' results. Returns the
        map futures and the reduce futures; get_result() gives the reduce results."""
        self.last_call = "map_reduce"
        maps = self._map(map_function, map_iterdata, extra_args, obj_chunk_size,
                         obj_chunk_number, obj_newline, produce_output=False)
        job_id = f"R{next(self._jobs):03d}"
        if obj_reduce_by_key and maps and hasattr(maps[0], "_uri"):
            groups = {}
            for f in maps:
                groups.setdefault(f._uri, []).append(f)
            groups = list(groups.values())
        else:
            groups = [maps]
        reduces = FuturesList(ResponseFuture(self.executor_id, job_id, i)
                              for i in range(len(groups)))
        storage = self._storage_for(reduce_function)
        for i, (group, future) in enumerate(zip(groups, reduces)):
            threading.Thread(target=self._reduce_when_ready,
                             args=(reduce_function, group, future, i, storage, extra_args_reduce),
                             daemon=True).start()
        everything = FuturesList(list(maps) + list(reduces))
        self.futures.extend(everything)
        return everything

    def _reduce_when_ready(self, fn, group, future, call_id, storage, extra_args_reduce):
        try:
            results = [f.result() for f in group]
        except BaseException as e:  # noqa: BLE001 - a map failed: so does the reduce
            future._set(exception=e)
            return
        data = (results,) + tuple(extra_args_reduce or ())
        sig_args = _call_arguments(fn, [data], None)[0]
        self._runner.run(future, fn, sig_args, call_id, storage)

    def _storage_for(self, fn):
        return self.storage if _wants(fn, "storage") else None

    def _map(self, fn, iterdata, extra_args, chunk_size, chunk_number, newline, produce_output):
        job_id = f"M{next(self._jobs):03d}"
        if _wants(fn, "obj"):
            return self._map_objects(fn, iterdata, extra_args, chunk_size, chunk_number, newline,
                                     produce_output, job_id)
        calls = _call_arguments(fn, iterdata, extra_args)
        storage = self._storage_for(fn)
        futures = FuturesList()
        for i, kwargs in enumerate(calls):
            future = ResponseFuture(self.executor_id, job_id, i, produce_output)
            futures.append(future)
            self._runner.run(future, fn, kwargs, i, storage)
        return futures

    def _inputs(self, iterdata):
        items = [iterdata] if isinstance(iterdata, str) else list(iterdata)
        out = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidArgument(f"{item!r}: a function taking `obj` is given buckets, "
                                      "prefixes or keys as strings")
            out.append(item if "://" in item else f"{self._scheme}://{item}")
        return out

    def _map_objects(self, fn, iterdata, extra_args, chunk_size, chunk_number, newline,
                     produce_output, job_id):
        from ._executor import submit
        inputs = self._inputs(iterdata)
        plan = Plan(inputs, chunk_size=chunk_size, chunk_number=chunk_number,
                    newline=(newline.encode() if isinstance(newline, str) else newline)
                    if (chunk_size or chunk_number) else None,
                    storage_options=self._storage_options)
        partitions = list(plan)  # Lithops' futures are known when map returns
        storage = self._storage_for(fn)
        kwargs = dict(extra_args) if isinstance(extra_args, dict) else {}
        args = tuple(extra_args) if isinstance(extra_args, (tuple, list)) else ()
        call = _ObjectCall(fn, self._scheme, storage, kwargs, args)
        job = submit(call, _ListedPlan(plan, partitions), progress=False)
        self._quarry_jobs.append(job)
        futures = FuturesList()
        by_partition = {}
        for i, p in enumerate(partitions):
            future = ResponseFuture(self.executor_id, job_id, i, produce_output)
            future._uri = p.uri
            futures.append(future)
            by_partition[(p.uri, p.part)] = future
        threading.Thread(target=_deliver, args=(job, by_partition), daemon=True).start()
        return futures

    # --- waiting ---
    def wait(self, fs=None, throw_except=True, return_when=ALL_COMPLETED,
             download_results=False, timeout=None, threadpool_size=None, wait_dur_sec=None,
             show_progressbar=True):
        return wait(self.futures if fs is None else fs, throw_except=throw_except,
                    return_when=return_when, timeout=timeout)

    def get_result(self, fs=None, throw_except=True, timeout=None, threadpool_size=None,
                   wait_dur_sec=None, show_progressbar=True):
        """The results of `fs`, or of every activation not read yet; one value alone when there
        is one result and the last call was not map (as Lithops does)."""
        chosen = self.futures if fs is None else ([fs] if isinstance(fs, ResponseFuture)
                                                  else fs)
        done, not_done = wait(chosen, throw_except=throw_except, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} activations not finished after {timeout} s")
        result = []
        for f in done:
            if not f._produce_output or (fs is None and f._read):
                continue
            result.append(f.result(throw_except=throw_except))
            if fs is None:
                f._read = True
        if len(result) == 1 and self.last_call != "map":
            return result[0]
        return result

    def clean(self, fs=None, cs=None, clean_cloudobjects=True, clean_fn=False, force=False,
              on_exit=False):
        """Forgets finished activations (all given, or all read), and deletes the cloud objects
        made with put_cloudobject (or those in `cs`)."""
        if clean_cloudobjects and self._storage is not None:
            made = cs if cs is not None else self._storage._cloudobjects
            self._storage.delete_cloudobjects(list(made))
            if cs is None:
                self._storage._cloudobjects.clear()
        gone = set(map(id, fs)) if fs is not None else None
        self.futures = [f for f in self.futures
                        if not f.done or (gone is not None and id(f) not in gone)
                        or (gone is None and not f._read)]

    def plot(self, *args, **kwargs):
        raise NotImplementedError("plot: use the job's progress (progress=True in quarry.map)")


class _ObjectCall:
    """Body of a data-processing activation, picklable for Ray."""

    def __init__(self, fn, backend, storage, kwargs, args):
        self.fn, self.backend, self.storage = fn, backend, storage
        self.kwargs, self.args = kwargs, args

    def __call__(self, partition):
        kwargs = dict(self.kwargs)
        if _wants(self.fn, "storage"):
            kwargs["storage"] = self.storage
        if _wants(self.fn, "id"):
            kwargs["id"] = partition.part
        return self.fn(_LithopsObject(partition, self.backend), *self.args, **kwargs)


class _ListedPlan(Plan):
    """A plan whose partitions were listed already (to make the futures), for quarry.submit."""

    def __init__(self, plan, partitions):  # noqa: super().__init__ would validate again
        self.__dict__.update(plan.__dict__)
        self._partitions = partitions

    def __iter__(self):
        return iter(self._partitions)


def _deliver(job, by_partition):
    """Hands each partition's result (or the job's failure) to its future as it finishes."""
    try:
        for p, value in job.as_completed():
            f = by_partition.pop((p.uri, p.part), None)
            if f is not None:
                f._set(value)
    except BaseException as e:  # noqa: BLE001 - the first failure, for every call left
        for f in by_partition.values():
            f._set(exception=e)
        return
    for f in by_partition.values():
        f._set(exception=RuntimeError("the job ended without this partition's result"))


def wait(fs, throw_except=True, return_when=ALL_COMPLETED, timeout=None, **_lithops_arguments):
    """(done, not_done) once `return_when` is met: ALWAYS (at once), ANY_COMPLETED (one done),
    ALL_COMPLETED, or a percentage of the futures done; or when `timeout` seconds have passed.
    With throw_except, a failed activation among those done raises its error."""
    fs = [fs] if isinstance(fs, ResponseFuture) else list(fs)
    deadline = None if timeout is None else time.monotonic() + timeout
    if return_when == ANY_COMPLETED:
        needed = min(1, len(fs))
    elif return_when == ALWAYS:
        needed = 0
    else:
        needed = -(-len(fs) * max(0, min(100, return_when)) // 100)
    while True:
        done = [f for f in fs if f.done]
        if len(done) >= needed or (deadline is not None and time.monotonic() >= deadline):
            break
        pending = next(f for f in fs if not f.done)
        pending.wait(0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic())))
    if throw_except:
        for f in done:
            if f.error:
                f.result()
    return FuturesList(done), FuturesList(f for f in fs if not f.done)
