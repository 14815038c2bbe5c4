"""What the whole suite shares: the phantoms (one of each kind, generated once per session), the MNI brain maps
they are drawn from, two tiny untrained zoo models, and the per-test time limits.

Helpers that are not fixtures live in modules whose names do not start with ``test_`` (``phantom_cases``,
``web_cases``, ``training_cases``, …); test modules import those, not each other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_cases import save_tiny_model
from phantom_cases import WrittenPhantom, make_phantom

from LesionSegLogic.phantom import BrainMaps, load_brain_maps

#: Seconds a test with one of these marks may run (setup included) unless it has its own ``timeout`` mark; the
#: default suite's limit is pyproject's ``timeout``.
MARK_TIMEOUTS_S = {"heavy": 900, "fuzz": 1800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The modules that drive Chromium take the longest (an app process, a browser, a person's pace): first, so that
    # under `make test`'s workers (pytest-xdist, one module at a time, in this order) none is left to run alone at
    # the end. Otherwise the collection order.
    browser_modules = {item.path for item in items if item.get_closest_marker("browser")}
    items.sort(key=lambda item: item.path not in browser_modules)
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        limits = [seconds for mark, seconds in MARK_TIMEOUTS_S.items() if item.get_closest_marker(mark)]
        if limits:
            item.add_marker(pytest.mark.timeout(max(limits)))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for the session (its setting restored at the end), as the suite has run since a dozen
    modules each set it when imported: the suite runs on 2-core machines where tests also start DataLoader
    workers, DDP ranks and CLI subprocesses next to the pytest process.

    Set at the first test, after collection, when a collected module has imported torch (every module that uses
    torch at import, directly or through LesionSegLogic's training, models or predictor); a session that imports
    no torch does not pay its import (3-5 s) for this."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def brain_maps() -> BrainMaps:
    """The bundled MNI152 maps (read-only), loaded once: every brain phantom of the session is drawn from them."""
    return load_brain_maps()


@pytest.fixture(scope="session")
def phantom_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("phantoms")


@pytest.fixture(scope="session")
def brain_phantom(phantom_root: Path, brain_maps: BrainMaps) -> WrittenPhantom:
    """The ``brain`` phantom of :data:`phantom_cases.KINDS` (a crop like the zoo's training data)."""
    return make_phantom("brain", phantom_root, brain_maps)


@pytest.fixture(scope="session")
def cord_phantom(phantom_root: Path) -> WrittenPhantom:
    """The ``cord`` phantom of :data:`phantom_cases.KINDS` (the generator's cord field of view)."""
    return make_phantom("cord", phantom_root)


@pytest.fixture(scope="session")
def longitudinal_phantom(phantom_root: Path, brain_maps: BrainMaps) -> WrittenPhantom:
    """The ``longitudinal`` phantom of :data:`phantom_cases.KINDS` (baseline, follow-up, new and enlarging lesions)."""
    return make_phantom("longitudinal", phantom_root, brain_maps)


@pytest.fixture(scope="session")
def small_cord_phantom(phantom_root: Path) -> WrittenPhantom:
    """The ``small_cord`` phantom of :data:`phantom_cases.KINDS` (a small field of view, 2 lesions)."""
    return make_phantom("small_cord", phantom_root)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder ``tiny`` (alone in its zoo folder): an untrained tiny FLAIR model (:mod:`model_cases`)."""
    return save_tiny_model(tmp_path_factory.mktemp("zoo"), "tiny", ("flair",))


@pytest.fixture(scope="session")
def tiny_model_flair_t2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder ``tiny2`` (alone in its zoo folder): an untrained tiny FLAIR + T2 model."""
    return save_tiny_model(tmp_path_factory.mktemp("zoo"), "tiny2", ("flair", "t2"))
