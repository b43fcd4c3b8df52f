"""What a URI names (README: "Keys, prefixes and local paths"), against the local RGW: a key
without '/' is that object, else the "directory" key/, never sibling keys; a bucket root is not
an object; folder markers are not data; an existing key with glob characters is that key."""

import pytest

import quarry


def _put_all(bucket, keys, data=b"data"):
    for key in keys:
        quarry.put(f"s3://{bucket}/{key}", data)


def _keys(bucket):
    return sorted(o.key for o in quarry.ls(f"s3://{bucket}/"))


SIBLINGS = ["a", "ab-other", "abc/x", "d/1", "d/e/2", "d-sib", "dd/2", "d!3"]


def test_ls_of_a_key_is_that_object_or_its_directory_never_siblings(bucket):
    _put_all(bucket, SIBLINGS)
    assert [o.key for o in quarry.ls(f"s3://{bucket}/a")] == ["a"]
    assert [o.key for o in quarry.ls(f"s3://{bucket}/d")] == ["d/1", "d/e/2"]
    assert [o.key for o in quarry.ls(f"s3://{bucket}/d", recursive=False)] == ["d/1"]
    assert [o.key for o in quarry.ls(f"s3://{bucket}/a/")] == []


def test_recursive_delete_reaches_only_what_was_named(bucket):
    _put_all(bucket, SIBLINGS + ["a/inner"])
    assert quarry.delete(f"s3://{bucket}/d", recursive=True) == 2
    assert _keys(bucket) == ["a", "a/inner", "ab-other", "abc/x", "d!3", "d-sib", "dd/2"]
    assert quarry.delete(f"s3://{bucket}/a", recursive=True) == 1  # the object, not a/inner
    assert _keys(bucket) == ["a/inner", "ab-other", "abc/x", "d!3", "d-sib", "dd/2"]
    assert quarry.delete(f"s3://{bucket}/a", recursive=True) == 1  # now the directory a/
    assert _keys(bucket) == ["ab-other", "abc/x", "d!3", "d-sib", "dd/2"]


@pytest.mark.parametrize("call", [
    lambda uri: quarry.get(uri),
    lambda uri: quarry.stat(uri),
    lambda uri: quarry.open(uri).read(),
])
@pytest.mark.parametrize("form", ["s3://{b}", "s3://{b}/"])
def test_a_bucket_root_is_not_an_object(bucket, call, form):
    quarry.put(f"s3://{bucket}/k", b"data")
    with pytest.raises(quarry.InvalidArgument) as e:
        call(form.format(b=bucket))
    message = str(e.value)
    assert f"'s3://{bucket}/' is a bucket, not an object" in message
    assert "quarry.ls" in message


def test_folder_markers_are_not_partitions_nor_map_inputs(bucket):
    quarry.put(f"s3://{bucket}/m/", b"")  # as consoles create folders
    quarry.put(f"s3://{bucket}/m/sub/", b"")
    quarry.put(f"s3://{bucket}/m/sub/f.txt", b"x\ny\n")
    assert [p.key for p in quarry.plan(f"s3://{bucket}/m/")] == ["m/sub/f.txt"]
    assert [p.key for p in quarry.plan(f"s3://{bucket}/m")] == ["m/sub/f.txt"]
    got = quarry.map(lambda obj: (obj.key, obj.read()), f"s3://{bucket}/m/", executor="local")
    assert got == [("m/sub/f.txt", b"x\ny\n")]
    # A listing still shows them: they are keys.
    assert [o.key for o in quarry.ls(f"s3://{bucket}/m/")] == ["m/", "m/sub/", "m/sub/f.txt"]


def test_an_existing_key_with_glob_characters_is_that_key(bucket):
    _put_all(bucket, ["brack[et]", "bracke", "brackt", "star*x", "starAx"])
    assert [p.key for p in quarry.plan(f"s3://{bucket}/brack[et]")] == ["brack[et]"]
    assert [p.key for p in quarry.plan(f"s3://{bucket}/star*x")] == ["star*x"]
    # Not a key: a pattern, where a one-character class escapes a glob character.
    assert [p.key for p in quarry.plan(f"s3://{bucket}/brack[et]*")] == ["bracke", "brackt"]
    assert [p.key for p in quarry.plan(f"s3://{bucket}/brack[[]et]")] == ["brack[et]"]
    assert [p.key for p in quarry.plan(f"s3://{bucket}/star[*]?")] == ["star*x"]
    assert [o.key for o in quarry.ls(f"s3://{bucket}/star*x")] == ["star*x"]
    assert quarry.stat(f"s3://{bucket}/star*x").key == "star*x"
