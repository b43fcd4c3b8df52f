"""The extension's type stubs are generated from it at build time (nanobind's stubgen)."""

import inspect
import pathlib

from quarry import _quarry


def test_the_installed_stubs_name_everything_the_module_has():
    stub = pathlib.Path(_quarry.__file__).with_name("_quarry.pyi")
    assert stub.is_file(), f"{stub} was not installed with the module"
    text = stub.read_text()
    public = [n for n in dir(_quarry) if not n.startswith("_")]
    assert public
    for name in public:
        obj = getattr(_quarry, name)
        if inspect.isclass(obj):
            assert f"class {name}" in text, name
        elif callable(obj):
            assert f"def {name}(" in text, name
    # What the bindings return, as they return it: head() gives 8 fields.
    line = next(ln for ln in text.splitlines() if ln.startswith("def head("))
    assert line.count(",") - line.split("->")[0].count(",") == 7, line
