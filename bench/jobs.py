"""Jobs at scale, each figure in one run on this machine:

1. a job of N partitions (one mem:// object planned in 1-byte chunks; the function returns None):
   time from submit() to the first result of as_completed(), total time, driver peak RSS;
2. 20 partitions of 0.5 s each on a local Ray with 2 CPUs, against the ideal 5 s;
3. Ctrl-C (SIGINT) in quarry.map over partitions of 0.05 s: time until map returns, and calls
   that started afterwards;
4. a checkpointed job of 60 partitions of 0.2 s whose driver is killed (SIGKILL) at about half
   way, then rerun: partitions the rerun skipped and ran, its time, the results equal to a
   plain run's.

    python bench/jobs.py                # N = 1,000,000
    python bench/jobs.py --n 100000     # a quick look
"""

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import quarry


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def many_partitions(n):
    quarry.create_bucket("mem://bench-jobs")
    quarry.put("mem://bench-jobs/obj", b"x" * n)
    quarry.map(lambda obj: None, "mem://bench-jobs/obj", chunk_size=max(1, n // 100),
               executor="local", progress=False)  # warmed up
    base = peak_rss_mib()
    t0 = time.perf_counter()
    job = quarry.submit(lambda obj: None, "mem://bench-jobs/obj", chunk_size=1,
                        executor="local", progress=False)
    first = None
    count = 0
    for _ in job.as_completed():
        if first is None:
            first = time.perf_counter() - t0
        count += 1
    total = time.perf_counter() - t0
    assert count == n == job.stats["partitions"]
    peak = peak_rss_mib()
    quarry.delete("mem://bench-jobs/", recursive=True)
    return {"first": first, "total": total, "peak": peak, "above": peak - base}


def spread_on_ray():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as d:
            for i in range(20):
                pathlib.Path(d, f"{i:02d}").write_bytes(b"x")
            quarry.map(lambda obj: None, d + "/", executor="ray", progress=False)  # workers up
            t0 = time.perf_counter()
            job = quarry.submit(lambda obj: time.sleep(0.5), d + "/", executor="ray",
                                progress=False)
            job.result()
            return {"wall": time.perf_counter() - t0, "tasks": job.stats["tasks"]}
    finally:
        ray.shutdown()


CTRL_C = textwrap.dedent("""
    import sys, time, quarry
    quarry.create_bucket("mem://b")
    for i in range(400):
        quarry.put(f"mem://b/{i:04d}", b"x")
    log = sys.argv[1]
    def fn(obj):
        with open(log, "a") as f:
            f.write(f"{time.time()}\\n")
        time.sleep(0.05)
    print("ready", flush=True)
    t = time.time()
    try:
        quarry.map(fn, "mem://b/", executor="local", num_threads=4, progress=False)
    except KeyboardInterrupt:
        print(time.time(), flush=True)
""")


def ctrl_c():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "starts")
        open(log, "w").close()
        child = subprocess.Popen([sys.executable, "-c", CTRL_C, log], stdout=subprocess.PIPE,
                                 text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.time()
        child.send_signal(signal.SIGINT)
        returned = float(child.stdout.readline())
        child.wait()
        starts = [float(x) for x in open(log) if x.strip()]
    return {"returned": returned - sent, "later": sum(1 for t in starts if t > sent + 0.01),
            "ran": len(starts)}


RESUME = textwrap.dedent("""
    import sys, time, quarry
    data, ckpt, log = sys.argv[1:4]
    def fn(obj):
        with open(log, "a") as f:
            f.write(obj.key + "\\n")
        time.sleep(0.2)
        return obj.key[-4:]
    t = time.time()
    print(repr(quarry.map(fn, data, executor="local", num_threads=2, checkpoint=ckpt,
                          progress=False)))
    print(time.time() - t)
""")


def resume():
    with tempfile.TemporaryDirectory() as d:
        data = pathlib.Path(d, "data")
        data.mkdir()
        for i in range(60):
            (data / f"{i:04d}").write_bytes(b"x")
        log = os.path.join(d, "calls")
        args = [sys.executable, "-c", RESUME, str(data) + "/", f"file://{d}/ckpt/", log]
        driver = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        while not os.path.exists(log) or sum(1 for _ in open(log)) < 30:
            time.sleep(0.05)
        driver.kill()
        driver.wait()
        before = sum(1 for _ in open(log))
        out = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n")
        results, seconds = eval(out[0]), float(out[1])
        assert results == [f"{i:04d}" for i in range(60)]
        calls = sum(1 for _ in open(log))
    return {"killed_after": before, "rerun_ran": calls - before, "rerun_seconds": seconds,
            "redone": calls - 60}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    big = many_partitions(args.n)
    print(f"| {args.n:,} partitions, local: submit to first result | {big['first']:.2f} s |")
    print(f"| {args.n:,} partitions, local: total | {big['total']:.1f} s "
          f"({args.n / big['total']:,.0f} partitions/s) |")
    print(f"| {args.n:,} partitions, local: driver peak RSS | {big['peak']:.0f} MiB "
          f"({big['above']:.0f} MiB above the warmed-up interpreter) |")
    spread = spread_on_ray()
    print(f"| 20 x 0.5 s on Ray, 2 CPUs | {spread['wall']:.2f} s = {spread['wall'] / 5:.2f}x "
          f"the ideal 5 s ({spread['tasks']} tasks) |")
    c = ctrl_c()
    print(f"| Ctrl-C in map (400 x 0.05 s, 4 threads) | returned {c['returned']:.2f} s after "
          f"SIGINT; {c['later']} calls started after it; {c['ran']} of 400 ran |")
    r = resume()
    print(f"| driver killed after {r['killed_after']} of 60 calls, rerun | ran {r['rerun_ran']} "
          f"({r['redone']} redone), {r['rerun_seconds']:.1f} s; results equal |")


if __name__ == "__main__":
    sys.exit(main())
