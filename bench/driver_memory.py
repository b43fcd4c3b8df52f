"""Driver memory of a job with many partitions: one mem:// object of N bytes planned in 1-byte
chunks gives N partitions; the function returns None, so the driver keeps no results. Prints the
driver's peak RSS (VmHWM) above the interpreter with Quarry imported, and the wall time.

    python bench/driver_memory.py [N] [local|ray]      (default 1,000,000 local)
"""

import sys
import time

import quarry


def rss_peak_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    executor = sys.argv[2] if len(sys.argv) > 2 else "local"
    if executor == "ray":
        import ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    quarry.create_bucket("mem://driver-memory")
    quarry.put("mem://driver-memory/obj", b"x" * n)
    quarry.map(lambda obj: None, "mem://driver-memory/obj", chunk_size=max(1, n // 100),
               executor=executor)  # warm up
    base = rss_peak_mib()
    t0 = time.perf_counter()
    job = quarry.submit(lambda obj: None, "mem://driver-memory/obj", chunk_size=1,
                        executor=executor, progress=False)
    results = job.result()
    wall = time.perf_counter() - t0
    assert len(results) == n and job.stats["partitions"] == n
    peak = rss_peak_mib()
    print(f"{n} partitions ({executor}): driver peak RSS {peak:.0f} MiB, {peak - base:.0f} MiB "
          f"above the warmed-up interpreter ({base:.0f} MiB); {wall:.1f} s, "
          f"{n / wall:,.0f} partitions/s, {job.stats['tasks']} tasks")


if __name__ == "__main__":
    main()
