"""Running a function over a plan: map, submit (Job), map_reduce; on Ray or a local pool."""

import concurrent.futures
import os
import sys
import threading
import time
import traceback

from . import _quarry
from ._api import Plan
from .errors import InvalidArgument, TaskError

_PLAN_KEYS = ("chunk_size", "chunk_number", "newline", "header", "decompress", "storage_options",
              "part_size", "readahead", "read_window")

# A Ray task should run long enough to amortise its scheduling (~ms): batch partitions until a
# task holds this many bytes or partitions.
_TASK_BYTES = 32 << 20
_TASK_PARTITIONS = 64
# Partitions of a task whose data is opened while the function runs on an earlier one.
_OPEN_AHEAD = 4


def _call(fn, partition, extra_args):
    try:
        return True, fn(partition, *extra_args)
    except BaseException as e:  # noqa: BLE001 - carried back to the driver, re-raised there
        return False, (partition.uri, partition.part, f"{type(e).__name__}: {e}",
                       traceback.format_exc(), _picklable(e))


def _picklable(e):
    import pickle
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001
        return None


def _stats_delta(before, after):
    return {k: after[k] - before[k] for k in after}


class _OpenAhead:
    """Opens the data of a task's next `depth` partitions in the background while the function
    runs on the current one, so their requests' round trips overlap its work instead of adding
    up. Opens more only while the function reads the data it is given (a function that only
    looks at keys costs no request, one that skips some partitions stops the opening until it
    reads again); the streams opened ahead hold at most readahead x read_window each."""

    def __init__(self, partitions, depth):
        self._partitions = partitions
        self._depth = depth
        self._pool = None

    def before(self, i):
        if self._depth <= 0 or i == 0 or not self._partitions[i - 1]._data_used:
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self._depth, thread_name_prefix="quarry-ahead")
        for p in self._partitions[i + 1:i + 1 + self._depth]:
            p._open_ahead(self._pool)

    def close(self):
        if self._pool is None:
            return
        for p in self._partitions:
            p._drop_ahead()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _run_batch(fn, partitions, extra_args, open_ahead=0):
    """Body of one Ray task: runs fn on each partition, in order; stops at the first failure."""
    before = _quarry.stats()
    before["credential_fetches"] = _quarry.credential_fetch_count()
    results = []
    failure = None
    ahead = _OpenAhead(partitions, open_ahead)
    try:
        for i, p in enumerate(partitions):
            ahead.before(i)
            ok, value = _call(fn, p, extra_args)
            if not ok:
                failure = value
                break
            results.append(value)
    finally:
        ahead.close()
    after = _quarry.stats()
    after["credential_fetches"] = _quarry.credential_fetch_count()
    return results, failure, _stats_delta(before, after)


class Job:
    """A running job. `result()` waits and returns the results in plan order (or raises the
    first failure as TaskError); `stats` and `progress` can be read while it runs."""

    def __init__(self, fn, plan, extra_args, executor, partitions_per_task, progress,
                 ray_options, run_options=None):
        self._fn = fn
        self._plan = plan
        self._extra_args = tuple(extra_args)
        self._partitions_per_task = partitions_per_task
        self._ray_options = ray_options or {}
        self._run_options = run_options or {}
        self._results = []
        self._error = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._completed = 0
        self._submitted = 0
        self._listing_done = False
        # "ray", "local", or an executor object of the caller's (anything with submit()).
        self._executor = executor
        name = executor if isinstance(executor, str) else type(executor).__name__
        self._stats = {"partitions": 0, "tasks": 0, "bytes_read": 0, "requests": 0,
                       "retries": 0, "connections_opened": 0,
                       "credential_fetches": plan.credential_fetches,
                       "list_pages": 0, "wall_seconds": 0.0, "executor": name}
        self._bar = _progress_bar(progress)
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="quarry-job", daemon=True)
        self._thread.start()

    # --- public ---
    def result(self, timeout=None):
        if not self._done.wait(timeout):
            raise TimeoutError(f"job not finished after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._results

    def wait(self, timeout=None):
        return self._done.wait(timeout)

    def done(self):
        return self._done.is_set()

    @property
    def stats(self):
        with self._lock:
            s = dict(self._stats)
        if not self._done.is_set():
            s["wall_seconds"] = time.perf_counter() - self._t0
        return s

    @property
    def progress(self):
        """(completed partitions, partitions known so far, listing finished)."""
        with self._lock:
            return self._completed, self._stats["partitions"], self._listing_done

    # --- execution ---
    def _run(self):
        try:
            if self._executor == "ray":
                self._run_ray()
            elif self._executor == "local":
                workers = self._run_options.get("num_threads") or min(32, (os.cpu_count() or 1) * 4)
                with concurrent.futures.ThreadPoolExecutor(workers,
                                                           thread_name_prefix="quarry") as pool:
                    self._run_on_pool(pool, in_process=True)
            else:
                self._run_on_pool(self._executor, in_process=isinstance(
                    self._executor, concurrent.futures.ThreadPoolExecutor))
        except TaskError as e:
            self._error = e
        except BaseException as e:  # noqa: BLE001 - listing or submission failed
            self._error = e
        finally:
            with self._lock:
                self._stats["list_pages"] = self._plan.list_pages
                self._stats["wall_seconds"] = time.perf_counter() - self._t0
            if self._bar is not None:
                self._bar.close()
            self._done.set()

    def _advance(self, n):
        with self._lock:
            self._completed += n
        if self._bar is not None:
            self._bar.total = self._stats["partitions"]
            self._bar.update(n)

    def _add_stats(self, delta):
        with self._lock:
            self._stats["bytes_read"] += delta.get("bytes_received", 0)
            self._stats["requests"] += delta.get("requests", 0)
            self._stats["retries"] += delta.get("retries", 0)
            self._stats["connections_opened"] += delta.get("connections_opened", 0)
            # Exchanges workers had to make themselves (a token neared expiry mid-job).
            self._stats["credential_fetches"] += delta.get("credential_fetches", 0)

    def _run_on_pool(self, pool, in_process):
        """One call per partition on `pool` (a concurrent.futures-style executor: submit()
        returning futures with result()). Stats: one delta over the job when the calls run in
        this process (their deltas would overlap), else each call's own."""
        if in_process:
            before = _quarry.stats()
            before["credential_fetches"] = _quarry.credential_fetch_count()
        futures = []
        for p in self._plan:
            with self._lock:
                self._stats["partitions"] += 1
                self._stats["tasks"] += 1
            f = pool.submit(_run_batch, self._fn, [p], self._extra_args)
            if hasattr(f, "add_done_callback"):
                f.add_done_callback(lambda _: self._advance(1))
            futures.append(f)
        with self._lock:
            self._listing_done = True
        results = []
        for i, f in enumerate(futures):
            values, failure, delta = f.result()
            if not in_process:
                self._add_stats(delta)
            if failure is not None:
                for later in futures[i + 1:]:
                    later.cancel()
                raise _task_error(failure)
            results.extend(values)
        if in_process:
            after = _quarry.stats()
            after["credential_fetches"] = _quarry.credential_fetch_count()
            self._add_stats(_stats_delta(before, after))
        self._results = results

    def _run_ray(self):
        import ray
        remote = ray.remote(_run_batch)
        options = {"num_cpus": 1, **self._ray_options}
        remote = remote.options(**options)
        fn_ref = ray.put(self._fn)
        args_ref = ray.put(self._extra_args)
        refs = []
        batch, batch_bytes = [], 0

        def submit():
            nonlocal batch, batch_bytes
            refs.append((remote.remote(fn_ref, batch, args_ref, open_ahead), len(batch)))
            with self._lock:
                self._stats["tasks"] += 1
            batch, batch_bytes = [], 0

        per_task = self._partitions_per_task
        open_ahead = self._run_options.get("open_ahead", _OPEN_AHEAD)
        # Listing goes on while the first tasks run.
        for p in self._plan:
            with self._lock:
                self._stats["partitions"] += 1
            batch.append(p)
            batch_bytes += p.byte_range[1] - p.byte_range[0]
            if per_task:
                if len(batch) >= per_task:
                    submit()
            elif batch_bytes >= _TASK_BYTES or len(batch) >= _TASK_PARTITIONS:
                submit()
        if batch:
            submit()
        with self._lock:
            self._listing_done = True
        # Gathered in plan order: the first failure raised is the first in plan order.
        results = []
        for i, (ref, count) in enumerate(refs):
            values, failure, delta = ray.get(ref)
            self._add_stats(delta)
            self._advance(count)
            if failure is not None:
                for later, _ in refs[i + 1:]:
                    ray.cancel(later)
                raise _task_error(failure)
            results.extend(values)
        self._results = results


def _task_error(info):
    uri, part, message, tb, cause = info
    return TaskError(uri, part, message, tb, cause)


def _progress_bar(progress):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=0, unit="part", desc="quarry")


def _choose_executor(executor):
    if isinstance(executor, str) and executor in ("ray", "local"):
        return executor
    if executor is None:
        try:
            import ray
            return "ray" if ray.is_initialized() else "local"
        except ImportError:
            return "local"
    if not isinstance(executor, str) and callable(getattr(executor, "submit", None)):
        return executor  # concurrent.futures.Executor or alike: one call per partition
    raise InvalidArgument(f"executor={executor!r}: use None, 'ray', 'local', or an executor "
                          "object with submit() (such as concurrent.futures.ThreadPoolExecutor)")


def _check_count(name, value, minimum, allowed):
    """A whole number >= minimum (None passes: the default); InvalidArgument otherwise."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} is not allowed: give {allowed}")


def _split_options(kwargs):
    """Plan options, Ray task options, and Quarry's own execution options (num_threads for the
    local pool, open_ahead for Ray tasks)."""
    plan_opts = {k: kwargs.pop(k) for k in list(kwargs) if k in _PLAN_KEYS}
    ray_opts = dict(kwargs.pop("ray_options", None) or {})
    for k in ("num_cpus", "num_gpus", "memory", "resources", "max_retries"):
        if k in kwargs:
            ray_opts[k] = kwargs.pop(k)
    run_opts = {k: kwargs.pop(k) for k in ("num_threads", "open_ahead") if k in kwargs}
    if kwargs:
        raise TypeError(f"unexpected keyword arguments: {sorted(kwargs)}")
    _check_count("open_ahead", run_opts.get("open_ahead"), 0,
                 "a count of partitions >= 0 (0 turns it off)")
    _check_count("num_threads", run_opts.get("num_threads"), 1,
                 "a number of threads >= 1, or None for the default")
    return plan_opts, ray_opts, run_opts


def _check_job_arguments(fn, extra_args, partitions_per_task):
    if not callable(fn):
        raise InvalidArgument(f"fn={fn!r} is not callable: give a function of one partition")
    if not isinstance(extra_args, (tuple, list)):
        raise InvalidArgument(f"extra_args={extra_args!r} is not allowed: give a tuple of "
                              "arguments passed after the partition")
    _check_count("partitions_per_task", partitions_per_task, 1,
                 "a number of partitions per task >= 1, or None to batch by size")


def submit(fn, inputs, *, extra_args=(), executor=None, partitions_per_task=None,
           progress=None, **options):
    """Starts fn(obj, *extra_args) over every partition of `inputs` and returns a Job at once.
    Options: plan options (chunk_size, chunk_number, newline, header, decompress,
    storage_options), Ray task options (num_cpus, num_gpus, memory, resources, max_retries,
    or ray_options={...}), num_threads (the local pool's size) and open_ahead (partitions of a
    Ray task whose data is opened in the background while the function runs; default 4)."""
    _check_job_arguments(fn, extra_args, partitions_per_task)
    plan_opts, ray_opts, run_opts = _split_options(dict(options))
    plan = inputs if isinstance(inputs, Plan) else Plan(inputs, **plan_opts)
    return Job(fn, plan, extra_args, _choose_executor(executor), partitions_per_task, progress,
               ray_opts, run_opts)


def map(fn, inputs, *, extra_args=(), executor=None, partitions_per_task=None, progress=None,  # noqa: A001
        **options):
    """Runs fn(obj, *extra_args) over every partition of `inputs`; returns the results in plan
    order. Raises TaskError naming the first partition (in plan order) whose call failed."""
    return submit(fn, inputs, extra_args=extra_args, executor=executor,
                  partitions_per_task=partitions_per_task, progress=progress,
                  **options).result()


def map_reduce(map_fn, inputs, reduce_fn, *, reduce_by_object=False, extra_args=(),
               executor=None, partitions_per_task=None, progress=None, **options):
    """map, then reduce_fn(list of map results). With reduce_by_object=True, one reduce per
    object (over its partitions' results, in part order); returns a list in object order."""
    job = submit(_tag_with_uri(map_fn), inputs, extra_args=extra_args, executor=executor,
                 partitions_per_task=partitions_per_task, progress=progress, **options)
    tagged = job.result()
    chosen = job.stats["executor"]
    if not reduce_by_object:
        return _reduce(reduce_fn, [r for _, r in tagged], chosen)
    groups, order = {}, []
    for uri, r in tagged:
        if uri not in groups:
            groups[uri] = []
            order.append(uri)
        groups[uri].append(r)
    if chosen == "ray":
        import ray
        remote = ray.remote(_apply)
        return ray.get([remote.remote(reduce_fn, groups[u]) for u in order])
    return [reduce_fn(groups[u]) for u in order]


class _tag_with_uri:
    """Wraps a map function so its result carries the partition's object URI."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, obj, *args):
        return obj.uri, self.fn(obj, *args)


def _apply(fn, arg):
    return fn(arg)


def _reduce(reduce_fn, results, chosen):
    if chosen == "ray":
        import ray
        return ray.get(ray.remote(_apply).remote(reduce_fn, results))
    return reduce_fn(results)
