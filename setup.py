"""Build hook; everything else about the package is in ``pyproject.toml``.

The wheel carries the data the code looks for next to itself once installed (issue 11, item 9):

* the bundled model zoo ``Resources/Models/<name>/*`` as ``LesionSegLogic/Resources/Models/<name>/*`` (the first
  folder ``LesionSegLogic.zoo.catalog.zoo_dirs`` looks in);
* the segment terminology ``LesionSegExtension/Resources/Terminology/*`` as ``LesionSegLib/Resources/Terminology/*``
  (the second place ``LesionSegLib.terminology.terminology_file`` looks in).

A source checkout, an editable install and the Slicer extension keep these files one folder above the packages,
the other place each lookup looks in. The sdist carries them too (setuptools adds ``build_py``'s data sources to
it). A build that finds no files to bundle fails rather than ship a wheel without models.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent

#: (folder in the checkout, package that carries it in the wheel, folder inside that package)
BUNDLED_DATA = (
    ("Resources/Models", "LesionSegLogic", "Resources/Models"),
    ("LesionSegExtension/Resources/Terminology", "LesionSegLib", "Resources/Terminology"),
)


def bundled_files(source: str) -> list[str]:
    """Every file under ``source`` (relative to it, sorted), caches left out."""
    folder = ROOT / source
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    if not files:
        raise FileError(f"{folder}: no files to bundle into the wheel")
    return files


class BuildPyWithBundledData(build_py):
    """``build_py`` whose package data also lists :data:`BUNDLED_DATA` (wheel, sdist-built wheel, editable)."""

    def _bundled_data(self) -> list[tuple[str, str, str, list[str]]]:
        return [
            (f"{package}.{inside.replace('/', '.')}", source,
             os.path.join(self.build_lib, package, *inside.split("/")), bundled_files(source))
            for source, package, inside in BUNDLED_DATA
        ]

    def _get_data_files(self):
        return super()._get_data_files() + self._bundled_data()

    def get_data_files_without_manifest(self):
        return super().get_data_files_without_manifest() + self._bundled_data()


setup(cmdclass={"build_py": BuildPyWithBundledData})
