"""Jobs a person can steer: cancel and Ctrl-C stop them, results come as partitions finish,
every CPU gets work, the driver stays bounded, failures are named (also when a worker dies), and
on_error="skip" lets a job finish past them."""

import gc
import os
import signal
import threading
import time
import tracemalloc
import uuid

import pytest

import quarry


def _objects(prefix, n, data=b"x"):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: quarry.put(f"{prefix}{i:04d}", data), range(n)))
    return prefix


@pytest.fixture
def mem_prefix():
    name = "jobs-" + uuid.uuid4().hex[:8]
    quarry.create_bucket(f"mem://{name}")
    yield f"mem://{name}/p/"
    quarry.delete(f"mem://{name}/", recursive=True)


class _Starts:
    """Records when each call starts, in a file every process can append to."""

    def __init__(self, tmp_path):
        self.path = str(tmp_path / f"starts-{uuid.uuid4().hex[:6]}")
        open(self.path, "w").close()

    def times(self):
        with open(self.path) as f:
            return [float(line) for line in f if line.strip()]


def _sleeper(starts_path, seconds):
    def fn(obj):
        with open(starts_path, "a") as f:
            f.write(f"{time.time()}\n")
        time.sleep(seconds)
        return obj.key
    return fn


def test_cancel_stops_a_local_job_at_once(mem_prefix, tmp_path):
    _objects(mem_prefix, 200)
    starts = _Starts(tmp_path)
    job = quarry.submit(_sleeper(starts.path, 0.05), mem_prefix, executor="local", num_threads=2)
    time.sleep(0.5)
    t_cancel = time.time()
    job.cancel()
    with pytest.raises(quarry.Cancelled):
        job.result(timeout=2)
    assert time.time() - t_cancel < 2
    time.sleep(0.3)
    later = [t for t in starts.times() if t > t_cancel + 0.01]
    assert len(later) == 0, f"{len(later)} calls started after cancel"
    assert len(starts.times()) < 60  # it stopped: 200 were planned


def test_ctrl_c_in_map_stops_the_job(mem_prefix, tmp_path):
    _objects(mem_prefix, 100)
    starts = _Starts(tmp_path)
    timer = threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT))
    # A KeyboardInterrupt raised while the collector runs a finalizer (garbage of the tests
    # before) is printed as ignored, not raised: collect now and keep the collector off.
    gc.collect()
    gc.disable()
    t0 = time.time()
    try:
        with pytest.raises(KeyboardInterrupt):
            timer.start()
            quarry.map(_sleeper(starts.path, 0.05), mem_prefix, executor="local", num_threads=2)
    finally:
        gc.enable()
    assert time.time() - t0 < 3
    time.sleep(0.3)
    assert len(starts.times()) < 40


def test_as_completed_yields_while_a_slow_partition_runs(mem_prefix):
    _objects(mem_prefix, 30)

    def fn(obj):
        if obj.key.endswith("0000"):
            time.sleep(1.5)
        return obj.key

    job = quarry.submit(fn, mem_prefix, executor="local", num_threads=4)
    t0 = time.time()
    seen = []
    for partition, key in job.as_completed():
        assert partition.key == key
        seen.append((time.time() - t0, key))
    assert len(seen) == 30
    slow_at = [t for t, k in seen if k.endswith("0000")][0]
    assert sum(1 for t, _ in seen if t < slow_at) >= 25
    assert seen[-1][1].endswith("0000")
    # result() keeps plan order.
    assert job.result() == sorted(k for _, k in seen)


def test_the_driver_keeps_nothing_for_results_it_need_not_return(mem_prefix):
    _objects(mem_prefix, 3000, b"")
    quarry.map(lambda obj: None, mem_prefix, executor="local")  # warm up
    tracemalloc.start()
    try:
        job = quarry.submit(lambda obj: None, mem_prefix, executor="local", num_threads=4)
        job.wait()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert job.result() == [None] * 3000
    # The whole plan submitted at once held ~3 KiB a partition (9 MB here); in flight now: a
    # few tasks per thread and the listing's bounded queue.
    assert peak < 4 << 20, f"driver peak {peak / 1e6:.1f} MB"


def test_on_error_skip_finishes_and_lists_the_failed_partitions(mem_prefix):
    _objects(mem_prefix, 20)

    def fn(obj):
        if obj.key[-2:] in ("03", "11", "17"):
            raise ValueError(f"bad record in {obj.key}")
        return obj.key

    job = quarry.submit(fn, mem_prefix, executor="local", on_error="skip")
    results = job.result()
    assert [r is None for r in results] == [i in (3, 11, 17) for i in range(20)]
    assert sorted(e.uri[-2:] for e in job.failed) == ["03", "11", "17"]
    assert all(isinstance(e.cause, ValueError) for e in job.failed)
    assert job.stats["failed_partitions"] == 3
    with pytest.raises(quarry.TaskError, match="bad record"):
        quarry.map(fn, mem_prefix, executor="local", on_error="skip", max_failures=1)
    with pytest.raises(quarry.InvalidArgument, match="on_error='ignore'"):
        quarry.map(fn, mem_prefix, executor="local", on_error="ignore")


def test_the_first_failure_in_plan_order_is_raised(mem_prefix):
    _objects(mem_prefix, 40)

    def fn(obj):
        i = int(obj.key[-4:])
        if i == 5:
            time.sleep(0.5)  # fails last, but first in plan order
            raise KeyError("five")
        if i > 30:
            raise KeyError("late")
        return i

    with pytest.raises(quarry.TaskError) as e:
        quarry.map(fn, mem_prefix, executor="local", num_threads=8)
    assert e.value.uri.endswith("0005")


@pytest.mark.usefixtures("local_ray")
class TestOnRay:
    def test_small_jobs_keep_every_cpu_busy(self, bucket):
        prefix = _objects(f"s3://{bucket}/b/", 20)
        quarry.map(lambda obj: None, prefix)  # workers started
        job = quarry.submit(lambda obj: time.sleep(0.3), prefix)
        job.result()
        # One task of 20 took 6+ s; spread over the 2 CPUs it is ~3 s of sleeping.
        assert job.stats["tasks"] >= 8
        assert job.stats["wall_seconds"] < 5.5

    def test_as_completed_on_ray_while_a_slow_partition_runs(self, bucket):
        prefix = _objects(f"s3://{bucket}/a/", 40)

        def fn(obj):
            if obj.key.endswith("0000"):
                time.sleep(3)
            return obj.key

        job = quarry.submit(fn, prefix)
        t0 = time.time()
        early = 0
        for _, key in job.as_completed():
            if time.time() - t0 < 2.5:
                early += 1
        assert early >= 30
        assert len(job.result()) == 40

    def test_cancel_cancels_running_tasks_and_starts_no_more(self, bucket, tmp_path):
        prefix = _objects(f"s3://{bucket}/c/", 40)
        starts = _Starts(tmp_path)
        job = quarry.submit(_sleeper(starts.path, 0.5), prefix)
        time.sleep(2.0)
        t_cancel = time.time()
        job.cancel()
        with pytest.raises(quarry.Cancelled):
            job.result(timeout=2)
        assert time.time() - t_cancel < 2
        time.sleep(1.0)
        later = [t for t in starts.times() if t > t_cancel + 0.05]
        assert later == [], f"{len(later)} calls started after cancel"

    def test_a_partition_that_kills_its_worker_is_named_with_its_tries(self, bucket):
        prefix = _objects(f"s3://{bucket}/k/", 12)

        def fn(obj):
            if obj.key.endswith("0007"):
                os._exit(3)
            return obj.key

        t0 = time.time()
        job = quarry.submit(fn, prefix, partitions_per_task=4)
        with pytest.raises(quarry.TaskError) as e:
            job.result()
        assert e.value.uri.endswith("/0007") and e.value.part == 0
        assert "worker died" in str(e.value) and "tried 2 times" in str(e.value)
        assert time.time() - t0 < 30
        # The batch of four died, then 0007 alone twice; each of the batch's four was sent again.
        assert job.stats["lost_tasks"] == 3 and job.stats["retried_tasks"] >= 4, job.stats

    def test_an_unpicklable_result_is_named(self, bucket):
        prefix = _objects(f"s3://{bucket}/u/", 6)

        def fn(obj):
            return threading.Lock() if obj.key.endswith("0004") else obj.key

        with pytest.raises(quarry.TaskError) as e:
            quarry.map(fn, prefix, partitions_per_task=3)
        assert e.value.uri.endswith("/0004")
        assert "tried 2 times" in str(e.value)


def _counting(log_path, seconds=0.0):
    def fn(obj):
        with open(log_path, "a") as f:
            f.write(obj.key + "\n")
        if seconds:
            time.sleep(seconds)
        return obj.key.upper()
    return fn


def _calls(log_path):
    try:
        with open(log_path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test_a_checkpointed_job_rerun_skips_what_is_done(bucket, tmp_path):
    prefix = _objects(f"s3://{bucket}/ck/", 30)
    ckpt = f"s3://{bucket}/_jobs/upper/"
    log = str(tmp_path / "calls")

    def fn(obj):
        if obj.key.endswith("0020") and not os.path.exists(str(tmp_path / "fixed")):
            raise RuntimeError("not yet")
        return _counting(log)(obj)

    with pytest.raises(quarry.TaskError, match="not yet"):
        quarry.map(fn, prefix, executor="local", num_threads=2, checkpoint=ckpt)
    first = len(_calls(log))
    assert 0 < first < 30
    open(str(tmp_path / "fixed"), "w").close()
    job = quarry.submit(fn, prefix, executor="local", num_threads=2, checkpoint=ckpt)
    want = [f"CK/{i:04d}" for i in range(30)]
    assert job.result() == want
    assert len(_calls(log)) == 30  # every partition ran once over both runs
    assert job.stats["skipped_partitions"] == first
    # Everything is done: a third run runs nothing and returns the same results.
    job = quarry.submit(fn, prefix, executor="local", checkpoint=ckpt)
    assert job.result() == want and job.stats["skipped_partitions"] == 30
    assert len(_calls(log)) == 30
    # Another plan is refused rather than mixed in.
    with pytest.raises(quarry.InvalidArgument, match="written by another plan"):
        quarry.submit(fn, prefix, executor="local", checkpoint=ckpt, chunk_size=1 << 20)


def test_a_killed_driver_reruns_only_what_was_not_recorded(tmp_path):
    import subprocess
    import sys
    data = tmp_path / "data"
    data.mkdir()
    for i in range(60):
        (data / f"{i:04d}").write_bytes(b"x")
    log = tmp_path / "calls"
    script = f"""
import quarry, time
def fn(obj):
    with open({str(log)!r}, "a") as f:
        f.write(obj.key + "\\n")
    time.sleep(0.2)
    return obj.key[-4:]
print(quarry.map(fn, {str(data) + '/'!r}, executor="local", num_threads=2,
                 checkpoint={'file://' + str(tmp_path / 'ckpt') + '/'!r}))
"""
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    time.sleep(3.5)
    driver.kill()
    driver.wait()
    killed_after = len(_calls(str(log)))
    assert 10 <= killed_after < 60, killed_after
    done = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, check=True)
    assert eval(done.stdout) == [f"{i:04d}" for i in range(60)]
    calls = _calls(str(log))
    # Redone: at most what finished in the last second before the kill, and what was running.
    assert len(calls) - 60 <= 2 * 5 + 2, (killed_after, len(calls))
    assert set(calls) == {str(data / f"{i:04d}")[1:] for i in range(60)}


@pytest.mark.usefixtures("local_ray")
def test_output_stores_each_result_once_named_by_partition(bucket):
    prefix = _objects(f"s3://{bucket}/o/", 6, b"abc\n" * 10)
    out = f"s3://{bucket}/results/"
    uris = quarry.map(lambda obj: obj.read().upper(), prefix, output=out, chunk_size=16,
                      newline=b"\n")
    assert len(uris) == 6 * 3
    assert uris[0] == f"{out}{bucket}/o/0000.part-00000"
    assert b"".join(quarry.get(u) for u in uris[:3]) == b"ABC\n" * 10
    # Anything that is not bytes or str is pickled.
    import pickle
    uris = quarry.map(lambda obj: {"key": obj.key}, prefix, output=out, executor="local")
    assert uris[1].endswith(".part-00000.pickle")
    assert pickle.loads(quarry.get(uris[1])) == {"key": "o/0001"}
    stored = [o.key for o in quarry.ls(out)]
    assert len(stored) == len(set(stored)) == 6 * 3 + 6


def test_a_local_output_never_leaves_its_folder(tmp_path):
    data = tmp_path / "in"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "x").write_bytes(b"x")
    out = tmp_path / "out"
    uris = quarry.map(lambda obj: b"r", str(data) + "/", output=f"file://{out}/", executor="local")
    assert uris[0].startswith(f"file://{out}/")
    assert (out / (str(data / "sub" / "x")[1:] + ".part-00000")).read_bytes() == b"r"


def test_obj_put_writes_beside_the_partition_with_the_jobs_credential(bucket):
    prefix = _objects(f"s3://{bucket}/p/", 4)

    def fn(obj):
        return obj.put(f"derived/{obj.key}.len", str(obj.size).encode())

    uris = quarry.map(fn, prefix, executor="local")
    assert uris[2] == f"s3://{bucket}/derived/p/0002.len"
    assert quarry.get(uris[2]) == b"1"
    with pytest.raises(quarry.TaskError, match="writes with the job's s3 credential"):
        quarry.map(lambda obj: obj.put("gs://elsewhere/x", b""), prefix, executor="local")


def _read_slowly(obj):
    data = obj.read()
    time.sleep(0.02)  # the jobs overlap
    return len(data)


def test_concurrent_local_jobs_count_only_their_own_requests(bucket):
    prefixes = [_objects(f"s3://{bucket}/j{j}/", 25, b"y" * 1000) for j in range(4)]
    jobs = [quarry.submit(_read_slowly, p, executor="local", num_threads=4) for p in prefixes]
    for job in jobs:
        assert job.result() == [1000] * 25
    for job in jobs:
        # One GET per object of its own; the other three jobs' requests are not its.
        assert job.stats["requests"] == 25, job.stats
        assert job.stats["bytes_read"] == 25 * 1000, job.stats
        assert job.stats["retries"] == 0
        assert job.stats["driver_requests"] >= 1  # its listing


@pytest.mark.usefixtures("local_ray")
def test_bytes_read_means_the_same_on_ray_and_locally(bucket):
    prefix = _objects(f"s3://{bucket}/r/", 12, b"z" * 3000)
    for executor in ("ray", "local"):
        job = quarry.submit(lambda obj: len(obj.read()), prefix, executor=executor)
        assert job.result() == [3000] * 12
        assert job.stats["requests"] == 12 and job.stats["bytes_read"] == 12 * 3000, executor


def test_progress_describes_listing_then_the_time_left():
    from quarry._progress import Snapshot
    listing = Snapshot(done=10, known=40, listing=True, objects=35, bytes_done=2_000_000,
                       bytes_known=8_000_000, elapsed=2.0)
    assert listing.eta() is None
    assert "listing: 35 objects so far" in listing.describe()
    assert "1.0 MB/s" in listing.describe() and "5.0 part/s" in listing.describe()
    listed = Snapshot(done=10, known=40, listing=False, objects=40, bytes_done=2_000_000,
                      bytes_known=8_000_000, elapsed=2.0)
    assert listed.eta() == pytest.approx(6.0)  # 6 MB left at 1 MB/s
    assert "ETA 0:06" in listed.describe()
    no_bytes = Snapshot(done=5, known=20, listing=False, objects=20, bytes_done=0,
                        bytes_known=0, elapsed=1.0)
    assert no_bytes.eta() == pytest.approx(3.0)  # by partitions: 15 left at 5 per second


def test_plain_progress_without_tqdm_ends_with_the_totals(mem_prefix, capsys, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    _objects(mem_prefix, 30, b"abc")
    assert quarry.map(lambda obj: obj.size, mem_prefix, executor="local", progress=True) == [3] * 30
    err = capsys.readouterr().err
    assert "quarry: 30/30 partitions, 90 B" in err, err
    with pytest.raises(quarry.InvalidArgument, match="progress='bar'"):
        quarry.submit(len, mem_prefix, progress="bar")


@pytest.mark.usefixtures("local_ray")
def test_progress_moves_every_second_on_ray_and_counts_what_was_listed(bucket):
    prefix = _objects(f"s3://{bucket}/p/", 24, b"x" * 100)
    seen = []
    job = quarry.submit(lambda obj: time.sleep(0.3) or obj.size, prefix, executor="ray",
                        partitions_per_task=4, progress=seen.append)
    assert job.result() == [100] * 24
    times = [s.elapsed for s in seen]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(seen) >= 5 and max(gaps) <= 1.0, gaps
    last = seen[-1]
    assert (last.done, last.known, last.listing, last.objects) == (24, 24, False, 24)
    assert last.bytes_done == last.bytes_known == 2400
    assert any(s.done < 24 and s.eta() is not None for s in seen)
