"""put and get in bounded memory, measured in a child process (peak resident memory, VmHWM),
against the real RGW; and the argument errors of get and put."""

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

import quarry

MiB = 1 << 20
SIZE = 256 * MiB
PART = 16 * MiB
OPTIONS = {"part_size": str(PART), "multipart_threshold": str(PART)}

# Runs in a fresh interpreter: `setup` makes what the measured `action` needs, then the growth
# of the peak resident memory over the action is printed (with the action's result).
CHILD = textwrap.dedent("""
    import json, sys
    import quarry

    def peak():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    def rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024

    args = json.loads(sys.argv[1])
    uri, path, options = args["uri"], args["path"], args["options"]
    scope = {"quarry": quarry, "uri": uri, "path": path, "options": options}
    exec(args["setup"], scope)
    base = max(peak(), rss())
    exec(args["action"], scope)
    print(json.dumps({"grew": peak() - base, "result": scope.get("result")}))
""")


def measure(uri, path, setup, action):
    args = json.dumps({"uri": uri, "path": path, "options": OPTIONS,
                       "setup": textwrap.dedent(setup), "action": textwrap.dedent(action)})
    child = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A SIZE-byte file whose every MiB differs (a misplaced part cannot go unnoticed)."""
    path = tmp_path_factory.mktemp("memory") / "big.bin"
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(SIZE // MiB):
            f.write(i.to_bytes(8, "little") + block[8:])
    return str(path)


def assert_same_bytes(uri, path):
    """The stored object equals the file, byte for byte (streamed: little memory here)."""
    assert quarry.stat(uri).size == os.path.getsize(path)
    with quarry.open(uri) as remote, open(path, "rb") as local:
        while True:
            want = local.read(8 * MiB)
            got = remote.read(len(want)) if want else remote.read(1)
            assert got == want
            if not want:
                return


@pytest.mark.parametrize("how", ["file", "readinto", "read"])
def test_put_of_a_file_object_streams_in_bounded_memory(bucket, big_file, how):
    uri = f"s3://{bucket}/from-{how}.bin"
    wrap = {"file": "f",
            "readinto": "type('R', (), {'readinto': lambda self, b: f.readinto(b)})()",
            "read": "type('R', (), {'read': lambda self, n=-1: f.read(n)})()"}[how]
    got = measure(uri, big_file, f"f = open(path, 'rb'); source = {wrap}",
                  "quarry.put(uri, source, storage_options=options); result = f.tell()")
    # Part buffers: 4 in flight and 1 being filled; the file's whole size would be far more.
    assert got["grew"] < 5 * PART + 48 * MiB, got
    assert got["result"] == SIZE  # the file is left at its end, as read() leaves it
    assert_same_bytes(uri, big_file)
    quarry.delete(uri)


@pytest.mark.parametrize("how", ["bytes", "mmap"])
def test_put_of_a_buffer_sends_it_without_a_copy(bucket, big_file, how):
    uri = f"s3://{bucket}/from-{how}.bin"
    setup = {"bytes": "data = open(path, 'rb').read()",
             # An mmap's pages are resident only as they are read: count them in the bound.
             "mmap": "import mmap; f = open(path, 'rb'); "
                     "data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)"}[how]
    got = measure(uri, big_file, setup, "quarry.put(uri, data, storage_options=options)")
    allowance = (SIZE if how == "mmap" else 0) + 48 * MiB
    assert got["grew"] < allowance, got  # a copy would add the whole size again
    assert_same_bytes(uri, big_file)
    quarry.delete(uri)


def test_get_fills_one_bytes_object_in_place(bucket, big_file):
    uri = f"s3://{bucket}/to-get.bin"
    with open(big_file, "rb") as f:
        quarry.put(uri, f, storage_options=OPTIONS)
    check = """
        data = quarry.get(uri, storage_options=options)
        with open(path, "rb") as f:
            result = all(data[i:i + (8 << 20)] == f.read(8 << 20)
                         for i in range(0, max(len(data), 1), 8 << 20)) and not f.read(1)
    """
    got = measure(uri, big_file, "", check)
    assert got["result"] is True
    # The bytes object itself, and a little more: not a second copy of the object.
    assert SIZE <= got["grew"] < SIZE + 48 * MiB, got
    part = measure(uri, big_file, "",
                   "data = quarry.get(uri, 5, 100 << 20); result = len(data)")
    assert part["result"] == (100 << 20) - 5
    quarry.delete(uri)


def test_put_from_a_file_position_uploads_the_rest(bucket, tmp_path):
    data = os.urandom(3 * MiB + 17)
    path = tmp_path / "part.bin"
    path.write_bytes(data)
    uri = f"s3://{bucket}/rest.bin"
    with open(path, "rb") as f:
        f.read(1000)  # a buffered reader: its descriptor is further on than its position
        quarry.put(uri, f)
        assert f.tell() == len(data)
    assert quarry.get(uri) == data[1000:]
    for source in (io.BytesIO(data), io.BufferedReader(io.BytesIO(data)), bytearray(data)):
        quarry.put(uri, source)
        assert quarry.get(uri) == data


def test_put_of_file_objects_to_mem_and_file_stores(tmp_path):
    data = os.urandom(5 * MiB + 3)
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    for uri in (f"mem://b-{os.getpid()}/k", f"file://{tmp_path}/dst.bin"):
        if uri.startswith("mem://"):
            quarry.create_bucket(uri)
        with open(source, "rb") as f:
            quarry.put(uri, f)
        assert quarry.get(uri) == data
        quarry.put(uri, io.BytesIO(data[:100]))
        assert quarry.get(uri, 10, 20) == data[10:20]


@pytest.mark.parametrize("start, stop, named", [
    (-1, None, "start=-1"), (0, -5, "stop=-5"), (10, 3, "stop=3 is before start=10"),
    (1.5, None, "start=1.5"), ("3", None, "start='3'"), (0, 2.0, "stop=2.0"),
    (True, None, "start=True"),
])
def test_get_refuses_offsets_that_are_not_byte_offsets(start, stop, named):
    with pytest.raises(quarry.InvalidArgument, match=named) as e:
        quarry.get("mem://no-such-bucket/k", start, stop)
    assert "start" in str(e.value) or "stop" in str(e.value)


def test_get_takes_any_integer_and_an_empty_range():
    np = pytest.importorskip("numpy")
    uri = f"mem://ints-{os.getpid()}/k"
    quarry.create_bucket(uri)
    quarry.put(uri, b"0123456789")
    assert quarry.get(uri, np.int64(2), np.uint8(5)) == b"234"
    assert quarry.get(uri, 4, 4) == b""
    assert quarry.get(uri, 8, 1 << 70) == b"89"


@pytest.mark.parametrize("data, named", [
    (None, "data is None"), (42, "data of type int"), ("text", "data is a str"),
    (object(), "data of type object"),
])
def test_put_refuses_what_is_neither_bytes_nor_a_binary_file(data, named):
    with pytest.raises(quarry.InvalidArgument, match=named) as e:
        quarry.put("mem://no-such-bucket/k", data)
    assert "bytes-like" in str(e.value) and "binary" in str(e.value)


def test_put_refuses_text_files_and_non_contiguous_buffers(tmp_path):
    np = pytest.importorskip("numpy")
    path = tmp_path / "t.txt"
    path.write_text("hello")
    with open(path) as text:
        with pytest.raises(quarry.InvalidArgument, match="text mode: open it with 'rb'"):
            quarry.put(f"file://{tmp_path}/out", text)
    with pytest.raises(quarry.InvalidArgument, match="read\\(\\) returns str"):
        quarry.put(f"file://{tmp_path}/out", type("T", (), {"read": lambda self, n=-1: "x"})())
    with pytest.raises(quarry.InvalidArgument, match="not contiguous"):
        quarry.put(f"file://{tmp_path}/out", np.arange(10)[::2])


def test_the_benchmark_runs_at_a_small_size(s3):
    """bench/put_get_memory.py (run by hand at 2 GiB) keeps working: a quick run at 8 MiB."""
    import shutil

    if shutil.which("aws") is None:
        pytest.skip("the benchmark compares with the aws CLI, which is not installed")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    bench = os.path.join(root, "bench", "put_get_memory.py")
    run = subprocess.run([sys.executable, bench, "--size-mib", "8", "--runs", "1",
                          "--quarry-cli", os.path.join(root, "build", "release", "quarry")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "quarry.put(file object)" in run.stdout and "get / read_chunk streaming" in run.stdout
