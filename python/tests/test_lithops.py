"""quarry.lithops: programs written for Lithops' FunctionExecutor, run through Quarry (on the
local pool, and on a local Ray), in the shapes Lithops documents: data processing over buckets,
prefixes and keys with obj, chunked map_reduce with one reducer or one per object, call_async
with the storage argument, plain maps with tuples, dicts and extra_args, wait and get_result."""

import collections
import time

import pytest

import quarry
import quarry.lithops as lithops

TEXT = [b"the quick brown fox\njumps over the lazy dog\n" * 300,
        b"to be or not to be\nthat is the question\n" * 500,
        b"lorem ipsum dolor sit amet\n" * 700]


def words(data):
    return collections.Counter(w for line in data.splitlines() for w in line.decode().split())


def count_words(obj):
    counter = {}
    for line in obj.data_stream.read().splitlines():
        for word in line.decode("utf-8").split():
            counter[word] = counter.get(word, 0) + 1
    return counter


def merge(results):
    total = {}
    for counts in results:
        for word, n in counts.items():
            total[word] = total.get(word, 0) + n
    return total


@pytest.fixture
def texts(bucket):
    for i, data in enumerate(TEXT):
        quarry.put(f"s3://{bucket}/texts/obj{i}.txt", data)
    quarry.put(f"s3://{bucket}/other.txt", b"not in the prefix\n")
    return bucket


def _all_words(indices=range(len(TEXT))):
    total = collections.Counter()
    for i in indices:
        total += words(TEXT[i])
    return dict(total)


def test_map_over_a_prefix_gives_one_result_per_object(texts):
    fexec = lithops.FunctionExecutor()
    futures = fexec.map(count_words, f"s3://{texts}/texts/")
    assert len(futures) == 3
    assert fexec.get_result() == [dict(words(d)) for d in TEXT]
    # Read once: a second get_result has nothing left.
    assert fexec.get_result() == []


def test_map_reduce_in_chunks_over_a_bucket_and_per_key(texts):
    fexec = lithops.FunctionExecutor()
    # A bucket without a scheme: the executor's storage (s3) is used.
    fexec.map_reduce(count_words, texts, merge, obj_chunk_size=4096)
    want = collections.Counter(_all_words()) + words(b"not in the prefix\n")
    assert fexec.get_result() == dict(want)
    keys = [f"s3://{texts}/texts/obj{i}.txt" for i in range(3)]
    fexec = lithops.FunctionExecutor()
    futures = fexec.map_reduce(count_words, keys, merge, obj_chunk_number=5,
                               obj_reduce_by_key=True)
    assert len(futures) == 15 + 3  # the map activations, then one reducer per object
    assert fexec.get_result() == [dict(words(d)) for d in TEXT]


def test_obj_has_lithops_fields_and_chunks_keep_lines_whole(texts):
    def fields(obj):
        data = obj.data_stream.read()
        return (obj.bucket, obj.key, obj.part, obj.data_byte_range, obj.chunk_size, data)

    fexec = lithops.FunctionExecutor()
    fexec.map(fields, [f"{texts}/texts/obj1.txt"], obj_chunk_size=1000)
    parts = fexec.get_result()
    assert [p[2] for p in parts] == list(range(len(parts))) and len(parts) > 5
    assert all(p[0] == texts and p[1] == "texts/obj1.txt" for p in parts)
    assert parts[0][3] == (0, 999) and parts[0][4] == 1000
    assert b"".join(p[5] for p in parts) == TEXT[1]
    assert all(p[5].endswith(b"\n") for p in parts)


def test_call_async_with_the_storage_argument(texts):
    def count_object(bucket_name, obj_key, storage):
        return dict(words(storage.get_object(bucket_name, obj_key)))

    fexec = lithops.FunctionExecutor()
    fexec.call_async(count_object, (texts, "texts/obj2.txt"))
    assert fexec.get_result() == dict(words(TEXT[2]))  # one value, not a list

    def storage_calls(storage):
        storage.put_object(texts, "made/by-task", "written in a task")
        head = storage.head_object(texts, "made/by-task")
        part = storage.get_object(texts, "made/by-task", extra_get_args={"Range": "bytes=0-6"})
        with storage.get_object(texts, "made/by-task", stream=True) as f:
            streamed = f.read()
        keys = storage.list_keys(texts, "texts/")
        listed = storage.list_objects(texts, "made/")
        storage.delete_object(texts, "made/by-task")
        return head["content-length"], part, streamed, keys, listed, storage.list_keys(texts,
                                                                                       "made/")

    fexec.call_async(storage_calls, {})
    length, part, streamed, keys, listed, after = fexec.get_result()
    assert (length, part, streamed) == ("17", b"written", b"written in a task")
    assert keys == [f"texts/obj{i}.txt" for i in range(3)]
    assert [(o["Key"], o["Size"]) for o in listed] == [("made/by-task", 17)]
    assert after == []
    assert "secret" not in repr(fexec.storage).lower()


def test_plain_maps_take_tuples_dicts_and_extra_args():
    def add(x, y):
        return x + y

    fexec = lithops.FunctionExecutor()
    fexec.map(add, [(1, 2), (3, 4), (5, 6)])
    assert fexec.get_result() == [3, 7, 11]
    fexec.map(add, [{"x": 1, "y": 2}, {"x": 3, "y": 4}])
    assert fexec.get_result() == [3, 7]
    fexec.map(add, [1, 2, 3], extra_args=(10,))
    assert fexec.get_result() == [11, 12, 13]

    def total(numbers):
        return sum(numbers)

    fexec.map(total, [([1, 2],), ([3, 4],)])
    assert fexec.get_result() == [3, 7]

    def numbered(id, x):  # noqa: A002 - Lithops' reserved name
        return (id, x + 7)

    fexec.map(numbered, range(2))
    fexec.map(numbered, range(3))
    # Every activation not read yet, in the order they were made.
    assert fexec.get_result() == [(0, 7), (1, 8), (0, 7), (1, 8), (2, 9)]
    with pytest.raises(quarry.InvalidArgument, match="do not name every parameter"):
        fexec.map(add, [{"x": 1}])


def test_plain_map_reduce_wait_and_failures():
    def slow(x):
        time.sleep(0.05 * x)
        return x + 7

    def reduce_sum(results):
        return sum(results)

    fexec = lithops.FunctionExecutor()
    fexec.map_reduce(slow, [1, 2, 3, 4, 5], reduce_sum)
    assert fexec.get_result() == 8 + 9 + 10 + 11 + 12
    futures = fexec.map(slow, [0, 20])
    done, not_done = fexec.wait(futures, return_when=lithops.ANY_COMPLETED)
    assert len(done) >= 1
    done, not_done = fexec.wait(futures, return_when=lithops.ALL_COMPLETED)
    assert len(done) == 2 and not not_done
    assert [f.result() for f in futures] == [7, 27]

    def boom(x):
        raise ValueError(f"bad {x}")

    fexec = lithops.FunctionExecutor()
    fexec.map(boom, [1])
    with pytest.raises(ValueError, match="bad 1"):
        fexec.get_result()
    assert fexec.get_result(throw_except=False) == [None]
    with lithops.FunctionExecutor() as fexec:
        fexec.call_async(lambda x: x * 2, 21)
        assert fexec.get_result() == 42


@pytest.mark.usefixtures("local_ray")
def test_on_ray_the_same_programs_run(texts):
    fexec = lithops.FunctionExecutor()
    fexec.map_reduce(count_words, f"s3://{texts}/texts/", merge, obj_chunk_size=2048)
    assert fexec.get_result() == _all_words()
    fexec.map(lambda x, y: x * y, [(2, 3), (4, 5)])
    assert fexec.get_result() == [6, 20]

    def count_object(bucket_name, obj_key, storage):
        return len(storage.get_object(bucket_name, obj_key))

    fexec.call_async(count_object, (texts, "texts/obj0.txt"))
    assert fexec.get_result() == len(TEXT[0])
