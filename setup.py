"""Build hook for the blueprint catalog; every other piece of metadata is in pyproject.toml.

``connectors/`` at the top of the repository is the catalog's source of truth. Each build ships its
``*.yaml`` as package data of ``opensearch_llm``, installed as ``opensearch_llm/connectors/``: wheels
built from a clone (``pip wheel .``, ``python -m build``) and from the sdist (which carries
``connectors/`` through the same data-file list and MANIFEST.in) hold every shipped blueprint.
Editable installs copy nothing; ``opensearch_llm.catalog`` reads the checkout's ``connectors/``.
"""

from __future__ import annotations

import os
from typing import List, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py

CATALOG = "connectors"  # relative to the project root, where every build runs
PACKAGE = "opensearch_llm"
DataFiles = List[Tuple[str, str, str, List[str]]]


class build_py_with_catalog(build_py):  # noqa: N801 - setuptools command naming
    """``build_py`` that also copies ``connectors/*.yaml`` into ``opensearch_llm/connectors/``."""

    def _catalog(self) -> Tuple[str, str, str, List[str]]:
        names = sorted(n for n in os.listdir(CATALOG) if n.endswith(".yaml")) if os.path.isdir(CATALOG) else []
        return PACKAGE, CATALOG, os.path.join(self.build_lib, PACKAGE, CATALOG), names

    def _get_data_files(self) -> DataFiles:  # wheel builds and `build`
        return list(super()._get_data_files()) + [self._catalog()]

    def get_data_files_without_manifest(self) -> DataFiles:  # the sdist's file list (egg_info)
        return list(super().get_data_files_without_manifest()) + [self._catalog()]


setup(cmdclass={"build_py": build_py_with_catalog})
