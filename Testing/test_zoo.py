"""Model cards, safetensors weights with sha256 checks, and the zoo registry."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.zoo import (
    CARD_FILE,
    ModelCard,
    list_models,
    load_model,
    load_weights,
    resolve_model,
    save_model,
    save_weights,
    sha256_of,
)
from LesionSegLogic.zoo.card import TASKS
from LesionSegLogic.zoo.sets import set_of


def _card(**kw) -> ModelCard:
    base = dict(
        name="tiny",
        architecture="unet3d",
        architecture_params={"in_channels": 1, "features": [4, 8], "norm": "batch"},
        inputs=("flair",),
        patch_size=(16, 16, 16),
        loss="dice",
        recommended_threshold=0.35,
        threshold_objective="median voxel F1 on the threshold set",
        validation={"at_0.5": {"dice": 0.5}, "at_recommended": {"dice": 0.6}},
        training={"data": "phantoms", "seeds": [0], "epochs": 1},
        command="lesionseg train ...",
    )
    base.update(kw)
    return ModelCard(**base)


def _model() -> torch.nn.Module:
    from LesionSegLogic.models import build_model

    torch.manual_seed(0)
    return build_model("unet3d", in_channels=1, features=(4, 8), norm="batch")


def test_save_load_roundtrip(tmp_path: Path) -> None:
    model = _model()
    written = save_model(model, _card(), tmp_path / "tiny")
    assert written.weights_sha256 == sha256_of(tmp_path / "tiny" / "model.safetensors")
    loaded, card = load_model(tmp_path / "tiny")
    assert card == written
    assert not loaded.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    # JSON is plain data with the demonstration note
    data = json.loads((tmp_path / "tiny" / CARD_FILE).read_text())
    assert "not for clinical use" in data["note"]
    assert data["patch_size"] == [16, 16, 16]


def test_resolve_by_card_weights_or_folder(tmp_path: Path) -> None:
    save_model(_model(), _card(), tmp_path / "m")
    folder = (tmp_path / "m").resolve()
    assert resolve_model(tmp_path / "m") == folder
    assert resolve_model(tmp_path / "m" / CARD_FILE) == folder
    assert resolve_model(tmp_path / "m" / "model.safetensors") == folder
    with pytest.raises(ModelFileError, match="unknown model 'no_such_model'"):
        resolve_model("no_such_model")
    with pytest.raises(FileMissingError):
        resolve_model(tmp_path / "absent" / "card.json")


def test_zoo_listing_with_extra_dir(tmp_path: Path) -> None:
    save_model(_model(), _card(name="a"), tmp_path / "zoo" / "a")
    (tmp_path / "zoo" / "broken").mkdir()
    (tmp_path / "zoo" / "broken" / CARD_FILE).write_text("{not json")
    entries = {e.folder.name: e for e in list_models([tmp_path / "zoo"])}
    assert entries["a"].card is not None and entries["a"].card.name == "a"
    assert entries["broken"].card is None and "JSON" in entries["broken"].problem
    assert resolve_model("a", [tmp_path / "zoo"]) == (tmp_path / "zoo" / "a").resolve()


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    save_model(_model(), _card(), tmp_path / "m")
    card_path = tmp_path / "m" / CARD_FILE
    data = json.loads(card_path.read_text())
    data["weights_sha256"] = "0" * 64
    card_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="sha256 mismatch") as info:
        load_model(tmp_path / "m")
    assert info.value.path is not None and info.value.path.endswith("model.safetensors")


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    save_model(_model(), _card(), tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="sha256"):
        load_model(tmp_path / "m")


class _Evil:
    """Unpickling this would create ``marker``: the test proves the loader never unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickle_weights_refused_without_unpickling(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    weights = tmp_path / "evil.pt"
    if kind == "pickle":
        weights.write_bytes(pickle.dumps({"w": _Evil(marker)}, protocol=4))
    else:
        torch.save({"w": _Evil(marker)}, weights)
    digest = sha256_of(weights)
    with pytest.raises(ModelFileError, match="refused"):
        load_weights(weights, digest)
    assert not marker.exists()
    # the same through a card that names the pickle with its correct sha256
    save_model(_model(), _card(), tmp_path / "m")
    card_path = tmp_path / "m" / CARD_FILE
    data = json.loads(card_path.read_text())
    data.update(weights_file="evil.pt", weights_sha256=digest)
    card_path.write_text(json.dumps(data))
    (tmp_path / "m" / "evil.pt").write_bytes(weights.read_bytes())
    with pytest.raises(ModelFileError, match="refused"):
        load_model(tmp_path / "m")
    assert not marker.exists()


def test_weights_that_do_not_fit_architecture(tmp_path: Path) -> None:
    save_model(_model(), _card(), tmp_path / "m")
    card_path = tmp_path / "m" / CARD_FILE
    data = json.loads(card_path.read_text())
    data["architecture_params"]["features"] = [8, 16]
    card_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recommended_threshold": 1.5}, "recommended_threshold"),
        ({"patch_size": [16, 16]}, "patch_size"),
        ({"inputs": ["flair", "pd"]}, "unknown input"),
        ({"normalisation": {"method": "magic"}}, "normalisation"),
        ({"normalisation": {"method": "nyul"}}, "landmarks"),
        ({"weights_sha256": "xyz"}, "weights_sha256"),
        ({"weights_file": "../x.safetensors"}, "weights_file"),
        ({"surprise": 1}, "unknown field"),
        ({"inference": {"fusion": "median"}}, "inference.fusion"),
        ({"anatomy": "knee"}, "anatomy must be one of"),
    ],
)
def test_invalid_cards_name_the_file(tmp_path: Path, change: dict, message: str) -> None:
    data = _card(weights_sha256="a" * 64).to_dict()
    data.update(change)
    path = tmp_path / CARD_FILE
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=message) as info:
        ModelCard.from_json(path)
    assert str(path) in str(info.value)


def test_missing_required_field(tmp_path: Path) -> None:
    data = _card(weights_sha256="a" * 64).to_dict()
    del data["patch_size"]
    (tmp_path / CARD_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="missing"):
        ModelCard.from_json(tmp_path / CARD_FILE)


def test_save_weights_returns_file_digest(tmp_path: Path) -> None:
    digest = save_weights({"a": torch.arange(6.0).reshape(2, 3)[:, ::2]}, tmp_path / "w.safetensors")
    assert digest == sha256_of(tmp_path / "w.safetensors")
    state = load_weights(tmp_path / "w.safetensors", digest)
    assert torch.equal(state["a"], torch.tensor([[0.0, 2.0], [3.0, 5.0]]))


def test_card_anatomy_defaults_to_brain_for_cards_written_before_the_field(tmp_path: Path) -> None:
    data = _card(weights_sha256="a" * 64).to_dict()
    del data["anatomy"]
    (tmp_path / CARD_FILE).write_text(json.dumps(data))
    assert ModelCard.from_json(tmp_path / CARD_FILE).anatomy == "brain"
    cord = _card(anatomy="cord", weights_sha256="a" * 64)
    assert ModelCard.from_json(cord.to_json(tmp_path / "cord" / CARD_FILE)).anatomy == "cord"


@pytest.mark.parametrize(
    ("inputs", "images"),
    [(("flair",), {"flair"}), (("t2", "flair"), {"flair", "t2"}), (("flair", "baseline_flair"), {"flair", "baseline"}),
     (("difference",), {"flair", "baseline"}), (("t2",), {"t2"})],  # a T2-w-only (cord) model reads no FLAIR
)
def test_images_needed_maps_card_inputs_to_images(inputs: tuple[str, ...], images: set[str]) -> None:
    assert _card(inputs=inputs).images_needed() == images


def test_bundled_cards_state_their_anatomy_and_their_weights_still_match() -> None:
    """Adding ``anatomy`` to card.json must not touch the weights: their sha256 is the file's, not the card's."""
    entries = [e for e in list_models() if e.card is not None]
    if not entries:
        pytest.skip("no bundled zoo in this checkout")
    for entry in entries:
        raw = json.loads((entry.folder / CARD_FILE).read_text())
        assert raw["anatomy"] in ANATOMIES, entry.folder
        assert sha256_of(entry.folder / entry.card.weights_file) == entry.card.weights_sha256, entry.folder
        if entry.card.format_version >= 2:  # zoo v2: task, provenance, held-out metrics and calibration
            assert raw["task"] in TASKS and set_of(entry.card) is not None, entry.folder
            assert {"commit", "config", "data", "iterations", "device", "wall_seconds"} <= set(raw["training"])
            assert raw["validation"]["at_recommended"]["mean"]["voxel_dice"] is not None
            assert 0.0 <= raw["calibration"]["ece"] <= 1.0, entry.folder
