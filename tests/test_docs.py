"""The documentation site covers the whole public API, and the README leads to it.

Building the site (warnings as errors) and running its pages' examples as
doctests is .ci/run's job, with the README's documentation command; these
tests check, without Sphinx, what a build cannot: that no public name is left
out of the API reference and that each has a docstring.
"""
import importlib
import importlib.util
import inspect
import pathlib
import pkgutil
import re

import pytest

import crnn

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api.rst"
pytestmark = pytest.mark.skipif(not API.exists(), reason="run from a source checkout")

# public modules that need an optional peer to import
NEEDS = {"crnn.sklearn": "sklearn"}


def importable(module_name):
    """Whether ``module_name`` imports here: False for a module whose optional
    peer is absent (its names are then checked where the peer is installed)."""
    peer = NEEDS.get(module_name)
    return peer is None or importlib.util.find_spec(peer) is not None


def public_modules():
    names = ["crnn"] + [f"crnn.{m.name}" for m in pkgutil.iter_modules(crnn.__path__)
                        if not m.name.startswith("_")]
    return sorted(names)


def directives(text):
    """[(directive, target, {option: value})] of every auto* directive in ``text``."""
    found = []
    for match in re.finditer(r"^\.\. (auto\w+):: (\S+)\n((?:   :.*\n)*)", text, re.M):
        options = dict(re.findall(r"   :([\w-]+):[ ]?(.*)", match.group(3)))
        found.append((match.group(1), match.group(2), options))
    return found


def documented_objects(text):
    """The objects the API page documents, by id: each automodule's members
    (its ``__all__``, or the names listed after ``:members:``, less
    ``:exclude-members:``) and each autoclass/autofunction target."""
    objects = {}
    for directive, target, options in directives(text):
        if not importable(target if directive == "automodule" else target.rpartition(".")[0]):
            continue
        if directive == "automodule":
            module = importlib.import_module(target)
            objects[id(module)] = target
            if "members" not in options:
                continue
            listed = [n.strip() for n in options["members"].split(",") if n.strip()]
            excluded = {n.strip() for n in options.get("exclude-members", "").split(",")}
            for name in listed or module.__all__:
                if name not in excluded:
                    objects[id(getattr(module, name))] = f"{target}.{name}"
        else:
            module_name, _, name = target.rpartition(".")
            objects[id(getattr(importlib.import_module(module_name), name))] = target
    return objects


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_is_in_the_api_reference(module_name):
    if module_name in NEEDS:
        pytest.importorskip(NEEDS[module_name])
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} must say its public names in __all__"
    documented = documented_objects(API.read_text())
    assert id(module) in documented, f"docs/api.rst has no automodule for {module_name}"
    missing = [name for name in module.__all__ if id(getattr(module, name)) not in documented]
    assert not missing, f"docs/api.rst leaves out {module_name}'s {missing}"


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_has_a_docstring(module_name):
    if module_name in NEEDS:
        pytest.importorskip(NEEDS[module_name])
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} has no docstring"
    bare = [name for name in module.__all__
            if not inspect.ismodule(getattr(module, name))
            and not (inspect.getdoc(getattr(module, name)) or "").strip()]
    assert not bare, f"{module_name}'s {bare} have no docstring"
    # and the public methods and properties of its classes (autodoc skips
    # a member without one, so it would be missing from the reference)
    bare = [f"{name}.{member}" for name in module.__all__
            if inspect.isclass(getattr(module, name))
            for member, value in vars(getattr(module, name)).items()
            if not member.startswith("_")
            and (callable(value) or isinstance(value, (property, classmethod, staticmethod)))
            and not (inspect.getdoc(value) or "").strip()]
    assert not bare, f"{module_name}'s {bare} have no docstring"


def test_the_api_reference_check_sees_a_missing_name():
    # the check above must be able to fail: a page without crnn.GRU leaves it out
    text = API.read_text().replace(".. autoclass:: crnn.GRU\n", "")
    assert id(crnn.GRU) not in documented_objects(text)
    assert id(crnn.LSTM) in documented_objects(text)


def test_every_page_is_in_the_table_of_contents_and_the_readme():
    index = (DOCS / "index.rst").read_text()
    readme = (ROOT / "README.md").read_text()
    toctree = re.search(r"\.\. toctree::\n((?:   .*\n|\n)*)", index).group(1)
    pages = sorted(p.stem for p in DOCS.glob("*.rst") if p.stem != "index")
    listed = re.findall(r"^   (\w+)$", toctree, re.M)
    assert sorted(listed) == pages
    for page in pages:
        assert f"docs/{page}.rst" in readme, f"the README does not link docs/{page}.rst"
