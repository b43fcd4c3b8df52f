"""A job: a plan's partitions run through a runner (Ray tasks, or a concurrent.futures pool),
steered from one driver thread.

The driver consumes the plan as it sends work (listing runs on a thread of its own and fills a
bounded queue), keeps a few tasks per CPU in flight, handles each task as it finishes (in any
order), and stops sending work the moment the job is cancelled or fails. Memory on the driver is
bounded by the queue, the tasks in flight and the results `result()` must return (a function that
returns None keeps nothing)."""

import collections
import concurrent.futures
import math
import os
import pickle
import threading
import time
import traceback

from . import _quarry
from ._checkpoint import MISSING
from ._progress import Progress, Snapshot
from .errors import Cancelled, InvalidArgument, TaskError

# Completions buffered for as_completed() before it is first called; past that the job stops
# buffering (a job nobody iterates must not keep every partition).
_BUFFERED_COMPLETIONS = 65536
# Tasks kept in flight per CPU slot: enough that a CPU never waits for the driver.
_IN_FLIGHT_PER_SLOT = 2
# Partitions listed ahead of the tasks that will run them.
_LISTED_AHEAD = 4096
# A Ray task should run long enough to amortise its scheduling (a few ms) and short enough that
# no CPU idles while another works through a long queue: batches aim at this many seconds, and
# hold at most this many bytes or partitions.
_TASK_SECONDS = 0.25
_TASK_BYTES = 32 << 20
_TASK_PARTITIONS = 64
# Partitions of a Ray task whose data is opened while the function runs on an earlier one.
OPEN_AHEAD = 4
# A partition whose task died (worker crash, out of memory, unpicklable result) is tried this
# many times in all before the job reports it.
_TRIES = 2


def _call(fn, partition, extra_args):
    try:
        return True, fn(partition, *extra_args)
    except KeyboardInterrupt:
        raise  # the task is being cancelled
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


class _Counting:
    """Counts the requests made on this thread, and on the threads Quarry starts from it, into
    `counters` (a _quarry.RequestCounters) while the block runs; other work of the process (other
    jobs, other tasks) is not counted."""

    def __init__(self, counters):
        self.counters = counters
        self._previous = None

    def __enter__(self):
        self._previous = _quarry.set_request_counters(self.counters)
        return self.counters

    def __exit__(self, *exc):
        _quarry.set_request_counters(self._previous)
        self._previous = None


class _OpenAhead:
    """Opens the data of a task's next `depth` partitions in the background while the function
    runs on the current one, so their requests' round trips overlap its work instead of adding
    up. Opens more only while the function reads the data it is given (a function that only
    looks at keys costs no request, one that skips some partitions stops the opening until it
    reads again); the streams opened ahead hold at most readahead x read_window each."""

    def __init__(self, partitions, depth, counters=None):
        self._partitions = partitions
        self._depth = depth
        self._counters = counters
        self._pool = None

    def before(self, i):
        if self._depth <= 0 or i == 0 or not self._partitions[i - 1]._data_used:
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self._depth, thread_name_prefix="quarry-ahead",
                initializer=_quarry.set_request_counters, initargs=(self._counters,))
        for p in self._partitions[i + 1:i + 1 + self._depth]:
            p._open_ahead(self._pool)

    def close(self):
        if self._pool is None:
            return
        for p in self._partitions:
            p._drop_ahead()
        self._pool.shutdown(wait=True, cancel_futures=True)


class Output:
    """Where a job stores each partition's result: `prefix` (a URI ending in '/') and the
    resolved storage options of its scheme. A partition's result goes to
    <prefix><bucket>/<key>.part-<part> (bytes and str as they are, anything else pickled, with
    ".pickle" added); the job's result for the partition is then that URI. A retried partition
    writes the same name again, so each result is stored once."""

    def __init__(self, prefix, options):
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.options = options

    def __repr__(self):
        return f"Output({self.prefix!r})"  # never the options: they hold the credential

    def name_of(self, partition, pickled):
        name = (partition.bucket + "/" if partition.bucket else "") + partition.key
        name += f".part-{partition.part:05d}" + (".pickle" if pickled else "")
        if self.prefix.startswith("file://"):
            # A local name must stay inside the output folder, whatever the key holds.
            root = os.path.normpath(self.prefix[len("file://"):])
            path = os.path.normpath(os.path.join(root, name))
            if os.path.commonpath([root, path]) != root:
                raise InvalidArgument(f"the result of {partition.uri} part {partition.part} "
                                      f"would be written outside {self.prefix}: its key "
                                      "climbs out with '..'")
            return "file://" + path
        return self.prefix + name

    def write(self, partition, value):
        from . import _api
        if isinstance(value, str):
            value = value.encode()
        pickled = not isinstance(value, (bytes, bytearray, memoryview))
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if pickled else value
        uri = self.name_of(partition, pickled)
        _api.put(uri, data, storage_options=self.options)
        return uri


def run_batch(fn, partitions, extra_args, open_ahead=0, cancel=None, output=None):
    """Body of one task: runs fn on each partition in order; stops at the first failure, or
    before the next partition once `cancel` (a threading.Event, in-process runs only) is set.
    With `output` (an Output), each result is stored there and its URI returned instead.
    Returns (results, failure or None, the task's request counters, seconds spent in fn): the
    requests made for this task alone, whatever else the process runs at the same time."""
    counters = _quarry.RequestCounters()
    fetches = _quarry.credential_fetch_count()
    results = []
    failure = None
    ahead = _OpenAhead(partitions, open_ahead, counters)
    t0 = time.perf_counter()
    try:
        with _Counting(counters):
            for i, p in enumerate(partitions):
                if cancel is not None and cancel.is_set():
                    break
                ahead.before(i)
                ok, value = _call(fn, p, extra_args)
                if ok and output is not None:
                    ok, value = _call(output.write, p, (value,))
                if not ok:
                    failure = value
                    break
                results.append(value)
    finally:
        ahead.close()
    seconds = time.perf_counter() - t0
    delta = counters.snapshot()
    # Token exchanges are counted by process: a worker's own refreshes mid-job.
    delta["credential_fetches"] = _quarry.credential_fetch_count() - fetches
    return results, failure, delta, seconds


class _TaskLost(Exception):
    """A task ended without its results: its worker died, ran out of memory, or its results could
    not be sent back."""


class _RayRunner:
    """Tasks as Ray remote functions. Ray's own retries are off by default: a task that dies is
    handled by the job (its partitions run alone, then each is tried _TRIES times)."""

    name = "ray"
    batches = True

    def __init__(self, fn, extra_args, ray_options, open_ahead, output):
        import ray
        self._ray = ray
        self._output = output
        options = {"num_cpus": 1, "max_retries": 0, **ray_options}
        self._remote = ray.remote(run_batch).options(**options)
        self._fn_ref = ray.put(fn)
        self._args_ref = ray.put(tuple(extra_args))
        self._open_ahead = open_ahead
        cpus = ray.cluster_resources().get("CPU", 1)
        self.slots = max(1, int(cpus // max(options.get("num_cpus") or 1, 1e-9)))

    def submit(self, partitions):
        return self._remote.remote(self._fn_ref, partitions, self._args_ref, self._open_ahead,
                                   None, self._output)

    def wait(self, handles, timeout):
        ready, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._ray.wait(handles, num_returns=len(handles), timeout=0)
        return ready

    def outcome(self, handle):
        try:
            return self._ray.get(handle)
        except self._ray.exceptions.RayError as e:
            raise _TaskLost(_ray_cause(e)) from e

    def cancel(self, handles):
        """Cancels the tasks (running ones are interrupted); returns those cancelled: all."""
        for h in handles:
            try:
                self._ray.cancel(h)
            except Exception:  # noqa: BLE001 - finished meanwhile
                pass
        return list(handles)

    def close(self, cancelled):
        pass


def _ray_cause(e):
    """What a Ray failure means to the user, without Ray's internal traceback."""
    import ray
    if isinstance(e, ray.exceptions.OutOfMemoryError):
        return "its worker ran out of memory (OutOfMemoryError)"
    if isinstance(e, ray.exceptions.WorkerCrashedError):
        return "its worker died (WorkerCrashedError)"
    if isinstance(e, ray.exceptions.TaskCancelledError):
        return "the task was cancelled"
    text = str(e).strip().splitlines()
    last = text[-1] if text else type(e).__name__
    if "pickl" in str(e).lower() or "serializ" in str(e).lower():
        return f"its result could not be sent back ({last})"
    return f"{type(e).__name__}: {last}"


class _PoolRunner:
    """One call per partition on a concurrent.futures-style executor: the job's own thread pool
    ("local") or any object with submit() the caller gives."""

    batches = False

    def __init__(self, pool, fn, extra_args, slots, in_process, owns_pool, cancel_event,
                 output):
        self._output = output
        self._pool = pool
        self._fn = fn
        self._args = tuple(extra_args)
        self.slots = max(1, slots)
        self._in_process = in_process
        self._owns_pool = owns_pool
        self._cancel_event = cancel_event if in_process else None

    def submit(self, partitions):
        return self._pool.submit(run_batch, self._fn, partitions, self._args, 0,
                                 self._cancel_event, self._output)

    def wait(self, handles, timeout):
        done, _ = concurrent.futures.wait(handles, timeout=timeout,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        return list(done)

    def outcome(self, handle):
        try:
            return handle.result()
        except concurrent.futures.CancelledError as e:
            raise _TaskLost("the call was cancelled") from e
        except Exception as e:  # noqa: BLE001 - a broken process pool, an unpicklable result
            raise _TaskLost(f"{type(e).__name__}: {e}") from e

    def cancel(self, handles):
        """Cancels the calls that have not started; returns those (running ones go on)."""
        return [h for h in handles if h.cancel()]

    def close(self, cancelled):
        if self._owns_pool:
            # On cancel, do not wait for calls already running: the job returns now.
            self._pool.shutdown(wait=not cancelled, cancel_futures=True)


class Job:
    """A running job. `result()` waits and returns the results in plan order (or raises the
    first failure as TaskError); `as_completed()` yields (partition, result) as partitions
    finish; `cancel()` stops it (Ctrl-C in result() and map does too); `stats`, `progress` and
    `failed` can be read while it runs."""

    def __init__(self, fn, plan, extra_args, executor, partitions_per_task, progress,
                 ray_options, run_options=None, on_error="raise", max_failures=None,
                 checkpoint=None, output=None):
        self._fn = fn
        self._plan = plan
        self._extra_args = tuple(extra_args)
        self._per_task = partitions_per_task
        self._ray_options = ray_options or {}
        self._run_options = run_options or {}
        self._on_error = on_error
        self._max_failures = max_failures
        self._checkpoint = checkpoint
        self._output = output
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._done = threading.Event()
        self._cancel = threading.Event()
        self._results = {}          # plan index -> result, for results that are not None
        self._result_list = None    # built once by result()
        self._total = 0             # partitions listed
        self._completed = 0
        self._failed = []           # TaskError of each partition skipped (on_error="skip")
        self._error = None          # what result() raises
        self._error_index = None    # plan index of the TaskError in _error
        self._listing_done = False
        self._completions = collections.deque()  # (partition, result) not yet yielded
        self._keep_completions = True
        self._consumer = False       # as_completed() was called
        self._dropped = False        # completions were dropped before it was
        self._seconds = 0.0          # spent in fn, over finished partitions
        self._timed = 0              # partitions those seconds cover
        self._bytes_done = 0
        self._executor = executor
        name = executor if isinstance(executor, str) else type(executor).__name__
        self._stats = {"partitions": 0, "tasks": 0, "bytes_read": 0, "requests": 0,
                       "retries": 0, "connections_opened": 0,
                       "credential_fetches": plan.credential_fetches, "list_pages": 0,
                       "wall_seconds": 0.0, "failed_partitions": 0, "lost_tasks": 0, "retried_tasks": 0,
                       "skipped_partitions": 0,
                       "executor": name}
        # Requests of the driver for this job: listing the plan, the checkpoint's records.
        self._driver_counters = _quarry.RequestCounters()
        self._objects_listed = 0
        self._bytes_listed = 0
        self._bar = Progress.make(progress)
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="quarry-job", daemon=True)
        self._thread.start()

    # --- public ---
    def result(self, timeout=None):
        """The results in plan order (None for partitions skipped by on_error="skip"). Raises the
        job's first failure (in plan order among those seen) as TaskError, or Cancelled.
        KeyboardInterrupt while waiting cancels the job."""
        with self._lock:
            self._keep_completions = False
            self._completions.clear()
        self._wait_interruptibly(timeout)
        if self._error is not None:
            raise self._error
        if self._result_list is None:
            results = self._results
            self._result_list = [results.get(i) for i in range(self._total)]
            self._results = {}
        return self._result_list

    def as_completed(self):
        """Yields (partition, result) as partitions finish, in any order, while listing goes on;
        raises the job's failure (or Cancelled) once what finished before it has been yielded.
        Completions before the first call are buffered, up to 65,536 of them; call it sooner for
        larger jobs (InvalidArgument says so when it is too late)."""
        with self._lock:
            self._consumer = True
            if self._dropped:
                raise InvalidArgument(
                    "as_completed() was called after more than 65,536 partitions had finished, "
                    "and those were not kept: call it right after submit()")
            if not self._keep_completions:
                raise InvalidArgument("as_completed() after result(): the results are in "
                                      "result()")
        while True:
            with self._changed:
                while not self._completions and not self._done.is_set():
                    self._changed.wait(0.2)
                if self._completions:
                    item = self._completions.popleft()
                else:
                    break
            yield item
        if self._error is not None:
            raise self._error

    __iter__ = as_completed

    def cancel(self):
        """Stops the job: no partition starts afterwards, running Ray tasks are cancelled, and
        result() raises Cancelled. Returns at once."""
        self._cancel.set()

    def wait(self, timeout=None):
        return self._done.wait(timeout)

    def done(self):
        return self._done.is_set()

    def cancelled(self):
        return self._cancel.is_set() and isinstance(self._error, Cancelled)

    @property
    def failed(self):
        """TaskError of every partition skipped so far (on_error="skip")."""
        with self._lock:
            return list(self._failed)

    @property
    def stats(self):
        """The job's own counters, whatever else the process runs: partitions, tasks, the
        requests its tasks made (wherever they ran; retries included), bytes_read (response
        bytes they received), retries, connections_opened, credential_fetches, list_pages and
        driver_requests (listing the plan, checkpoint records), failed and skipped partitions,
        lost tasks (their worker died), retried tasks (partitions sent again alone after a lost
        task or a failure in a batch), wall_seconds, and the executor's name."""
        driver = self._driver_counters.snapshot()
        with self._lock:
            s = dict(self._stats)
        s["driver_requests"] = driver["requests"]
        if not self._done.is_set():
            s["wall_seconds"] = time.perf_counter() - self._t0
        return s

    @property
    def progress(self):
        """(completed partitions, partitions known so far, listing finished)."""
        with self._lock:
            return self._completed, self._stats["partitions"], self._listing_done

    def __repr__(self):
        state = "done" if self._done.is_set() else "running"
        done, known, listed = self.progress
        return f"<quarry.Job {state}: {done}/{known} partitions{'' if listed else '+'}>"

    # --- waiting ---
    def _wait_interruptibly(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.wait(0.1):
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job not finished after {timeout} s")
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait(2.0)
            raise

    # --- the driver ---
    def _run(self):
        _quarry.set_request_counters(self._driver_counters)
        runner = None
        listing = _Listing(self._plan, self)
        try:
            runner = self._make_runner()
            self._drive(runner, listing)
        except BaseException as e:  # noqa: BLE001 - listing, submission or a task failed
            self._stop_with(e, None)
        finally:
            listing.stop()
            if runner is not None:
                runner.close(self._cancel.is_set() or self._error is not None)
            if self._checkpoint is not None:
                try:
                    self._checkpoint.flush()  # what finished, however the job ends
                except BaseException as e:  # noqa: BLE001
                    if self._error is None:
                        self._error = e
            if self._error is None and self._cancel.is_set():
                self._error = Cancelled("the job was cancelled")
            with self._lock:
                self._stats["list_pages"] = self._plan.list_pages
                self._stats["wall_seconds"] = time.perf_counter() - self._t0
            if self._bar is not None:
                self._bar.close(self._snapshot())
            with self._changed:
                self._done.set()
                self._changed.notify_all()

    def _make_runner(self):
        if self._executor == "ray":
            return _RayRunner(self._fn, self._extra_args, self._ray_options,
                              self._run_options.get("open_ahead", OPEN_AHEAD), self._output)
        if self._executor == "local":
            workers = self._run_options.get("num_threads") or min(32, (os.cpu_count() or 1) * 4)
            pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="quarry")
            return _PoolRunner(pool, self._fn, self._extra_args, workers, True, True, self._cancel,
                               self._output)
        in_process = isinstance(self._executor, concurrent.futures.ThreadPoolExecutor)
        slots = getattr(self._executor, "_max_workers", None) or os.cpu_count() or 1
        return _PoolRunner(self._executor, self._fn, self._extra_args, slots, in_process, False,
                           self._cancel, self._output)

    def _drive(self, runner, listing):
        in_flight = {}   # handle -> [(index, partition), ...]
        retry = collections.deque()   # (index, partition, tries so far), run alone
        tries = {}
        max_in_flight = runner.slots * _IN_FLIGHT_PER_SLOT
        while not self._cancel.is_set():
            if self._error_index is not None:
                # A partition failed: nothing more starts, tasks of later partitions stop, and
                # those of earlier ones finish (one of them may fail first in plan order).
                later = [h for h, b in in_flight.items() if b[0][0] > self._error_index]
                for h in runner.cancel(later):
                    del in_flight[h]  # calls already running finish, and count as done
                if not in_flight:
                    break
            while (len(in_flight) < max_in_flight and not self._cancel.is_set()
                   and self._error_index is None):
                batch = self._next_batch(runner, listing, retry, len(in_flight))
                if not batch:
                    break
                handle = runner.submit([p for _, p in batch])
                in_flight[handle] = batch
                with self._lock:
                    self._stats["tasks"] += 1
            if not in_flight:
                if listing.finished() and not retry:
                    break
                listing.wait_for_more(0.1)
                self._update_bar()
                continue
            for handle in runner.wait(list(in_flight), 0.1):
                batch = in_flight.pop(handle)
                self._finish(runner, handle, batch, retry, tries)
            if self._checkpoint is not None:
                self._checkpoint.maybe_flush()
            self._update_bar()
        if self._cancel.is_set() or self._error is not None:
            runner.cancel(list(in_flight))
        listing.raise_if_failed()

    def _next_batch(self, runner, listing, retry, in_flight):
        """The partitions of the next task, or [] when nothing should be sent now."""
        if retry:
            index, p, _ = retry[0]
            retry.popleft()
            with self._lock:
                self._stats["retried_tasks"] += 1
            return [(index, p)]
        if self._per_task:
            size = self._per_task
        elif not runner.batches:
            size = 1
        else:
            size = self._batch_size(runner, listing, in_flight)
        batch = listing.take(size, wait=in_flight == 0)
        if len(batch) < size and not listing.finished() and (self._per_task
                                                             or in_flight >= runner.slots):
            # More partitions are coming, and the batch size is the caller's or every CPU is
            # busy: wait for a full batch.
            listing.give_back(batch)
            return []
        return batch

    def _batch_size(self, runner, listing, in_flight):
        with self._lock:
            timed, seconds = self._timed, self._seconds
        if self._stats["tasks"] < runner.slots or timed == 0:
            return 1  # every CPU gets work first; then the measured time per partition decides
        per_partition = seconds / timed
        size = _TASK_PARTITIONS if per_partition <= 0 else int(_TASK_SECONDS / per_partition)
        size = max(1, min(_TASK_PARTITIONS, size))
        if listing.finished():
            # The tail: spread what is left over every CPU.
            size = max(1, min(size, math.ceil(listing.queued() / runner.slots)))
        return size

    def _finish(self, runner, handle, batch, retry, tries):
        try:
            results, failure, delta, seconds = runner.outcome(handle)
        except _TaskLost as lost:
            if self._cancel.is_set():
                return
            with self._lock:
                self._stats["lost_tasks"] += 1
            if len(batch) > 1:
                # Which partition killed it is unknown: each runs alone from now on.
                for index, p in batch:
                    retry.append((index, p, tries.get(index, 0)))
                return
            index, p = batch[0]
            tries[index] = tries.get(index, 0) + 1
            if tries[index] < _TRIES:
                retry.append((index, p, tries[index]))
                return
            tries.pop(index, None)
            error = TaskError(p.uri, p.part, f"{lost} (tried {_TRIES} times)")
            self._record_failure(index, p, error)
            return
        self._add_stats(delta)
        with self._changed:
            self._seconds += seconds
            self._timed += len(results) + (1 if failure else 0)
            for (index, p), value in zip(batch, results):
                tries.pop(index, None)
                if self._checkpoint is not None:
                    self._checkpoint.record(p, value)
                if value is not None:
                    self._results[index] = value
                self._keep_completion(p, value)
                self._completed += 1
                self._bytes_done += p.byte_range[1] - p.byte_range[0]
            self._changed.notify_all()
        if failure is not None:
            index, p = batch[len(results)]
            uri, part, message, tb, cause = failure
            self._record_failure(index, p, TaskError(uri, part, message, tb, cause))
            # The partitions after it in the batch did not run.
            for later in batch[len(results) + 1:]:
                retry.append((later[0], later[1], 0))

    def _keep_completion(self, partition, value):
        """Buffers a completion for as_completed() (the lock held)."""
        if not self._keep_completions:
            return
        self._completions.append((partition, value))
        if not self._consumer and len(self._completions) > _BUFFERED_COMPLETIONS:
            self._keep_completions = False
            self._dropped = True
            self._completions.clear()

    def _complete_from_checkpoint(self, index, partition, value):
        """A partition the checkpoint has: its recorded result, without running it."""
        with self._changed:
            if value is not None:
                self._results[index] = value
            self._keep_completion(partition, value)
            self._completed += 1
            self._stats["skipped_partitions"] += 1
            self._changed.notify_all()

    def _record_failure(self, index, partition, error):
        with self._changed:
            self._completed += 1
            self._stats["failed_partitions"] += 1
            if self._on_error == "skip":
                self._failed.append(error)
                self._keep_completion(partition, None)
                too_many = (self._max_failures is not None
                            and len(self._failed) > self._max_failures)
                self._changed.notify_all()
                if not too_many:
                    return
            self._changed.notify_all()
        self._stop_with(error, index)

    def _stop_with(self, error, index):
        """Stops the job with `error`. A partition's failure (index set) lets the tasks of
        earlier partitions finish, so that of several failures the first in plan order stands;
        any other error stops everything at once."""
        with self._lock:
            if index is not None and (self._error_index is None or index < self._error_index):
                if self._error is None or self._error_index is not None:
                    self._error, self._error_index = error, index
            elif index is None and self._error is None:
                self._error = error
        if index is None:
            self._cancel.set()

    def _add_stats(self, delta):
        with self._lock:
            self._stats["bytes_read"] += delta.get("bytes_received", 0)
            self._stats["requests"] += delta.get("requests", 0)
            self._stats["retries"] += delta.get("retries", 0)
            self._stats["connections_opened"] += delta.get("connections_opened", 0)
            # Exchanges workers had to make themselves (a token neared expiry mid-job).
            self._stats["credential_fetches"] += delta.get("credential_fetches", 0)

    def _snapshot(self):
        with self._lock:
            return Snapshot(self._completed, self._stats["partitions"], not self._listing_done,
                            self._objects_listed, self._bytes_done, self._bytes_listed,
                            time.perf_counter() - self._t0)

    def _update_bar(self):
        if self._bar is not None:
            self._bar.update(self._snapshot())


class _Listing:
    """The plan, listed on a thread of its own into a bounded queue of (index, partition)."""

    def __init__(self, plan, job):
        self._plan = plan
        self._job = job
        self._queue = collections.deque()
        self._cv = threading.Condition()
        self._finished = False
        self._failure = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="quarry-listing", daemon=True)
        self._thread.start()

    def _run(self):
        _quarry.set_request_counters(self._job._driver_counters)
        checkpoint = self._job._checkpoint
        try:
            for index, p in enumerate(self._plan):
                with self._job._lock:
                    self._job._stats["partitions"] += 1
                    self._job._total = index + 1
                    self._job._objects_listed += p.part == 0
                    self._job._bytes_listed += p.byte_range[1] - p.byte_range[0]
                if checkpoint is not None:
                    value = checkpoint.lookup(p)
                    if value is not MISSING:
                        self._job._complete_from_checkpoint(index, p, value)
                        continue
                with self._cv:
                    while len(self._queue) >= _LISTED_AHEAD and not self._stopped:
                        self._cv.wait(0.2)
                    if self._stopped:
                        return
                    self._queue.append((index, p))
                    self._cv.notify_all()
        except BaseException as e:  # noqa: BLE001 - reported by the driver
            self._failure = e
        finally:
            with self._job._lock:
                self._job._listing_done = True
            with self._cv:
                self._finished = True
                self._cv.notify_all()

    def take(self, n, wait):
        """Up to n partitions; with `wait`, waits a little for the first."""
        with self._cv:
            if wait and not self._queue and not self._finished:
                self._cv.wait(0.1)
            out = []
            while self._queue and len(out) < n:
                out.append(self._queue.popleft())
            self._cv.notify_all()
            return out

    def give_back(self, batch):
        with self._cv:
            self._queue.extendleft(reversed(batch))

    def queued(self):
        with self._cv:
            return len(self._queue)

    def finished(self):
        """Listing is over and every listed partition was taken."""
        with self._cv:
            return self._finished and not self._queue

    def wait_for_more(self, timeout):
        """Waits until another partition is listed (or listing ends), at most `timeout`."""
        with self._cv:
            if not self._finished:
                self._cv.wait(timeout)

    def raise_if_failed(self):
        if self._failure is not None:
            raise self._failure

    def stop(self):
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
