"""House rules of the package layout, checked on the source (no import runs)."""

import ast
import os
from typing import Iterator, List, Tuple

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "pcs_oci")


def _modules(subdir: str) -> List[str]:
    root = os.path.join(PACKAGE, subdir)
    return sorted(
        os.path.join(dirpath, name)
        for dirpath, _, names in os.walk(root)
        for name in names
        if name.endswith(".py")
    )


def _imports(path: str) -> Iterator[Tuple[int, str]]:
    """Every module an import statement names, lazy imports inside functions included."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, "{}.{}".format(node.module, alias.name)


def _within(name: str, packages: Tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize(
    "subdir, forbidden",
    [
        # The library serves the CLI and both agents: it never imports them.
        ("lib", ("pcs_oci.agent", "pcs_oci.fence", "pcs_oci.cli")),
        # What every side shares sits below all of them.
        ("common", ("pcs_oci.lib", "pcs_oci.agent", "pcs_oci.fence", "pcs_oci.cli")),
    ],
)
def test_lower_layers_do_not_import_upper_ones(subdir: str, forbidden: Tuple[str, ...]) -> None:
    found = [
        "{}:{}: {}".format(os.path.relpath(path, PACKAGE), line, name)
        for path in _modules(subdir)
        for line, name in _imports(path)
        if _within(name, forbidden)
    ]
    assert found == []
