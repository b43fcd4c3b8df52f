"""Whole-object upload and download: speed and peak memory, against `aws s3 cp` and streaming.

Each measured operation runs in a fresh process, timed from inside (the operation alone) and from
outside (the whole process, as a user at a shell sees it); its peak resident memory is the
process's (ru_maxrss, interpreter included) and, for Quarry, the growth over the operation
(VmHWM after minus VmRSS before).

    python bench/put_get_memory.py                 # 2 GiB, best of 2 runs
    python bench/put_get_memory.py --size-mib 64   # a quick check

Needs: the quarry package installed, awscli, and the S3 server of `scripts/test-servers env`
(AWS_ENDPOINT_URL and keys in the environment). The bucket it makes is deleted at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import quarry

MiB = 1 << 20

# Runs one operation in a fresh interpreter and prints its time and memory growth.
CHILD = textwrap.dedent("""
    import json, sys, time
    import quarry

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    args = json.loads(sys.argv[1])
    scope = dict(args, quarry=quarry)
    exec(args["setup"], scope)
    base = status("VmRSS")
    t0 = time.perf_counter()
    exec(args["action"], scope)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "grew": status("VmHWM") - base,
                      "result": scope.get("result")}))
""")

PYTHON_CASES = {
    # name: (setup, action)
    "quarry.put(file object)": ("f = open(path, 'rb')",
                                "quarry.put(uri, f, storage_options=options)"),
    "quarry.put(bytes)": ("data = open(path, 'rb').read()",
                          "quarry.put(uri, data, storage_options=options)"),
    "quarry.put(mmap)": ("import mmap; f = open(path, 'rb'); "
                         "data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)",
                         "quarry.put(uri, data, storage_options=options)"),
    "quarry.get": ("", "result = len(quarry.get(uri, storage_options=options))"),
    "quarry.open().read_chunk loop": (
        "",
        "s = quarry.open(uri, storage_options=options)\n"
        "result = 0\n"
        "while True:\n"
        "    n = len(s.read_chunk())\n"
        "    if not n: break\n"
        "    result += n"),
}


def measured(argv):
    """Runs argv as a child of a small waiter that reports its rusage (Popen reaps children
    itself, so the waiter uses os.wait4 to get the child's peak RSS)."""
    waiter = textwrap.dedent("""
        import json, os, sys, time
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 2)
            out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.execvp(sys.argv[2], sys.argv[2:])
        _, status, usage = os.wait4(pid, 0)
        print(json.dumps({"wall": time.perf_counter() - t0, "maxrss": usage.ru_maxrss * 1024,
                          "code": os.waitstatus_to_exitcode(status)}))
    """)
    with tempfile.NamedTemporaryFile(mode="r") as out:
        proc = subprocess.run([sys.executable, "-c", waiter, out.name, *argv],
                              capture_output=True, text=True, check=True)
        report = json.loads(proc.stdout)
        if report["code"] != 0:
            sys.exit(f"bench: {' '.join(argv)} failed with exit code {report['code']}")
        report["stdout"] = out.read()
    return report


def make_file(path, size):
    """size bytes, every MiB different (so that misplaced parts show)."""
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            f.write(i.to_bytes(8, "little") + block[8:])
        f.write(block[: size % MiB])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=2, help="best of this many runs")
    parser.add_argument("--part-mib", type=int, default=16, help="Quarry's part_size")
    parser.add_argument("--only", default="", help="run only operations whose name has this")
    parser.add_argument("--quarry-cli", default="build/release/quarry",
                        help="also time `quarry cat URI > /dev/null` with this binary, if present")
    args = parser.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        sys.exit('bench: no AWS_ENDPOINT_URL: eval "$(scripts/test-servers env)" first')
    if shutil.which("aws") is None:
        sys.exit("bench: the aws CLI is not installed")
    size = args.size_mib * MiB
    options = {"part_size": str(args.part_mib * MiB)}
    bucket = "quarry-bench-" + uuid.uuid4().hex[:10]
    work = tempfile.mkdtemp(prefix="quarry-bench-")
    path = os.path.join(work, "object.bin")
    uri = f"s3://{bucket}/object.bin"
    quarry.create_bucket(f"s3://{bucket}")
    rows = {}
    try:
        make_file(path, size)

        def keep_best(name, report):
            if name not in rows or report["wall"] < rows[name]["wall"]:
                rows[name] = report

        def python_case(name, target):
            setup, action = PYTHON_CASES[name]
            child = {"uri": target, "path": path, "options": options, "setup": setup,
                     "action": action}
            report = measured([sys.executable, "-c", CHILD, json.dumps(child)])
            report.update(json.loads(report.pop("stdout").splitlines()[-1]))
            keep_best(name, report)
            return report

        def put_case(name):
            python_case(name, uri)
            if quarry.stat(uri).size != size:
                sys.exit(f"bench: {name} stored {quarry.stat(uri).size} bytes, not {size}")

        def get_case(name):
            if python_case(name, uri)["result"] != size:
                sys.exit(f"bench: {name} read a wrong number of bytes")

        aws_uri = f"s3://{bucket}/aws.bin"
        cases = {
            "quarry.put(file object)": put_case,
            "quarry.put(bytes)": put_case,
            "quarry.put(mmap)": put_case,
            "aws s3 cp (upload)": lambda name: keep_best(name, measured(
                ["aws", "--endpoint-url", endpoint, "s3", "cp", "--quiet", path, aws_uri])),
            "quarry.get": get_case,
            "quarry.open().read_chunk loop": get_case,
            "quarry cat > /dev/null": lambda name: keep_best(name, measured(
                ["sh", "-c", f'exec "$0" cat "{uri}" >/dev/null', args.quarry_cli])),
            "aws s3 cp (download to -)": lambda name: keep_best(name, measured(
                ["sh", "-c", f'exec aws --endpoint-url "{endpoint}" s3 cp "{aws_uri}" - >/dev/null'])),
        }
        if not os.path.exists(args.quarry_cli):
            del cases["quarry cat > /dev/null"]
        chosen = [n for n in cases if args.only in n]
        if any(n.startswith("quarry.get") or "read_chunk" in n or "cat" in n for n in chosen):
            with open(path, "rb") as f:  # what the reads read
                quarry.put(uri, f, storage_options=options)
        if "aws s3 cp (download to -)" in chosen:
            cases["aws s3 cp (upload)"]("aws s3 cp (upload)")
        for _ in range(args.runs):
            for name in chosen:
                cases[name](name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        quarry.delete(f"s3://{bucket}/", recursive=True)

    mb = size / 1e6
    print(f"{args.size_mib} MiB object, Quarry part_size {args.part_mib} MiB, best of {args.runs}")
    print(f"{'operation':32} {'op s':>7} {'MB/s':>7} {'proc s':>7} {'MB/s':>7} "
          f"{'peak RSS MiB':>12} {'grew MiB':>9}")
    for name, r in rows.items():
        op = r.get("seconds")
        print(f"{name:32} {op or 0:7.2f} {mb / op if op else 0:7.0f} {r['wall']:7.2f} "
              f"{mb / r['wall']:7.0f} {r['maxrss'] / MiB:12.0f} "
              f"{r['grew'] / MiB if 'grew' in r else float('nan'):9.0f}")

    def ratio(what, a, b, key="wall"):
        if a in rows and b in rows:
            print(f"{what}: {rows[b][key] / rows[a][key]:.2f}")

    ratio("put(file object) / aws s3 cp upload, whole processes", "quarry.put(file object)",
          "aws s3 cp (upload)")
    ratio("put(bytes) / aws s3 cp upload, whole processes", "quarry.put(bytes)",
          "aws s3 cp (upload)")
    ratio("get / read_chunk streaming, operations", "quarry.get",
          "quarry.open().read_chunk loop", "seconds")
    ratio("get / quarry cat > /dev/null, whole processes", "quarry.get",
          "quarry cat > /dev/null")


if __name__ == "__main__":
    main()
