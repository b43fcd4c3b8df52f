"""quarry.fsspec against the real servers: fsspec's own abstract test suite (copy, get, put,
open, pipe) on RGW (and on the GCS and Azure emulators when this build has those schemes),
listings and folder markers, pandas, pyarrow and Dask-style use, and the bytes a random-access
read moves, counted at the wire by the tests' proxy."""

import io
import os
import pickle
import posixpath
import subprocess
import sys
import uuid

import pytest

fsspec = pytest.importorskip("fsspec")
import fsspec.tests.abstract as abstract  # noqa: E402

import quarry  # noqa: E402
import quarry.fsspec  # noqa: E402
from quarry import _quarry  # noqa: E402

# Schemes the abstract suite runs on, each with the variable that says its server runs.
_SERVERS = {"s3": "QUARRY_TEST_S3", "gs": "QUARRY_TEST_GS", "az": "QUARRY_TEST_AZ"}


def _new_fs(scheme, **options):
    return quarry.fsspec.filesystem_class(scheme)(skip_instance_cache=True, **options)


@pytest.fixture(scope="module", params=sorted(_SERVERS))
def store(request):
    """(filesystem, bucket) of one scheme, the bucket made for this module and emptied after."""
    scheme = request.param
    if scheme not in _quarry.schemes():
        pytest.skip(f"this build of Quarry has no {scheme} backend")
    if os.environ.get(_SERVERS[scheme]) != "1":
        pytest.skip(f"needs the {scheme} server: scripts/test-servers start && "
                    "eval \"$(scripts/test-servers env)\"")
    fs = _new_fs(scheme)
    bucket = "quarry-fsspec-" + uuid.uuid4().hex[:12]
    fs.mkdir(bucket)
    yield fs, bucket
    try:
        fs.rm(bucket, recursive=True)
    except FileNotFoundError:
        pass


class QuarryFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs(self, store):
        return store[0]

    @pytest.fixture
    def fs_path(self, store):
        fs, bucket = store
        path = f"{bucket}/t-{uuid.uuid4().hex[:8]}"
        yield path
        try:
            fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self):
        return False  # a directory exists while keys lie under it


class TestQuarryCopy(abstract.AbstractCopyTests, QuarryFixtures):
    pass


class TestQuarryGet(abstract.AbstractGetTests, QuarryFixtures):
    pass


class TestQuarryPut(abstract.AbstractPutTests, QuarryFixtures):
    pass


class TestQuarryOpen(abstract.AbstractOpenTests, QuarryFixtures):
    pass


class TestQuarryPipe(abstract.AbstractPipeTests, QuarryFixtures):
    pass
