"""Running a function over a plan: map, submit (Job), map_reduce; on Ray or a local pool."""

from . import _quarry
from ._api import Plan, resolve_storage_options
from ._checkpoint import Checkpoint
from ._job import OPEN_AHEAD, Job, Output
from .errors import InvalidArgument

# A plan's options as the engine defines them, and its storage options (given per scheme).
_PLAN_KEYS = (*_quarry.plan_option_keys(), "storage_options")


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
    _check_count("open_ahead", run_opts.get("open_ahead", OPEN_AHEAD), 0,
                 "a count of partitions >= 0 (0 turns it off)")
    _check_count("num_threads", run_opts.get("num_threads"), 1,
                 "a number of threads >= 1, or None for the default")
    return plan_opts, ray_opts, run_opts


def _check_job_arguments(fn, extra_args, partitions_per_task, on_error, max_failures):
    if not callable(fn):
        raise InvalidArgument(f"fn={fn!r} is not callable: give a function of one partition")
    if not isinstance(extra_args, (tuple, list)):
        raise InvalidArgument(f"extra_args={extra_args!r} is not allowed: give a tuple of "
                              "arguments passed after the partition")
    _check_count("partitions_per_task", partitions_per_task, 1,
                 "a number of partitions per task >= 1, or None to batch by measured time")
    if on_error not in ("raise", "skip"):
        raise InvalidArgument(f"on_error={on_error!r} is not allowed: give 'raise' (the first "
                              "failure stops the job) or 'skip' (failed partitions are listed "
                              "in job.failed)")
    _check_count("max_failures", max_failures, 0,
                 "a number of failed partitions >= 0 a job with on_error='skip' tolerates, or "
                 "None for any number")


def submit(fn, inputs, *, extra_args=(), executor=None, partitions_per_task=None,
           progress=None, on_error="raise", max_failures=None, checkpoint=None, output=None,
           **options):
    """Starts fn(obj, *extra_args) over every partition of `inputs` and returns a Job at once.
    Options: plan options (chunk_size, chunk_number, newline, header, decompress,
    storage_options), Ray task options (num_cpus, num_gpus, memory, resources, max_retries,
    or ray_options={...}), num_threads (the local pool's size) and open_ahead (partitions of a
    Ray task whose data is opened in the background while the function runs; default 4).
    on_error="skip" lets the job finish past failed partitions (listed in job.failed, None in
    the results), up to max_failures of them. checkpoint="s3://bucket/_jobs/name/" (any scheme)
    records each finished partition with its result there: a rerun of the same plan skips what
    is done and returns the same results. output="s3://bucket/out/" stores each partition's
    result there, named by partition (<bucket>/<key>.part-NNNNN; bytes and str as they are,
    anything else pickled), with the job's credential, and returns those URIs as results.
    progress=True draws the job's progress on stderr (partitions done of those known, objects
    listed while listing runs, bytes, MB/s, partitions/s and the time left), with tqdm where it
    is installed, else as a plain line (progress="plain" asks for that line); a callable is
    given each quarry.Snapshot instead (done, known, listing, objects, bytes_done, bytes_known,
    elapsed; eta()); None (default): on when stderr is a terminal. It is updated 4 times a
    second while the job runs, and once when it ends."""
    _check_job_arguments(fn, extra_args, partitions_per_task, on_error, max_failures)
    if not (progress in (None, True, False, "plain") or callable(progress)):
        raise InvalidArgument(f"progress={progress!r} is not allowed: give True, False, None "
                              "(on in a terminal), 'plain' (a line without tqdm) or a function of a Snapshot")
    plan_opts, ray_opts, run_opts = _split_options(dict(options))
    plan = inputs if isinstance(inputs, Plan) else Plan(inputs, **plan_opts)
    if checkpoint is not None:
        checkpoint = Checkpoint(checkpoint, plan, plan_opts.get("storage_options"))
    if output is not None:
        if not isinstance(output, str) or "://" not in output:
            raise InvalidArgument(f"output={output!r} is not allowed: give a prefix URI such as "
                                  "'s3://bucket/out/'")
        output = Output(output, _output_options(output, plan_opts.get("storage_options")))
    return Job(fn, plan, extra_args, _choose_executor(executor), partitions_per_task, progress,
               ray_opts, run_opts, on_error=on_error, max_failures=max_failures,
               checkpoint=checkpoint, output=output)


def _output_options(prefix, storage_options):
    """The job's resolved credential for the output's scheme (resolved once, here)."""
    from ._api import _scheme_of
    return resolve_storage_options([prefix], storage_options)[_scheme_of(prefix)]


def map(fn, inputs, *, extra_args=(), executor=None, partitions_per_task=None, progress=None,  # noqa: A001
        **options):
    """Runs fn(obj, *extra_args) over every partition of `inputs`; returns the results in plan
    order. Raises TaskError naming the first partition (in plan order) whose call failed.
    Ctrl-C stops the job (no partition starts afterwards) and raises KeyboardInterrupt."""
    return submit(fn, inputs, extra_args=extra_args, executor=executor,
                  partitions_per_task=partitions_per_task, progress=progress,
                  **options).result()


def map_reduce(map_fn, inputs, reduce_fn, *, reduce_by_object=False, extra_args=(),
               executor=None, partitions_per_task=None, progress=None, **options):
    """map, then reduce_fn(list of map results). With reduce_by_object=True, one reduce per
    object (over its partitions' results, in part order); returns a list in object order."""
    job = submit(_tag_with_uri(map_fn), inputs, extra_args=extra_args, executor=executor,
                 partitions_per_task=partitions_per_task, progress=progress, **options)
    tagged = [t for t in job.result() if t is not None]  # None: a partition skipped
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
