"""Registry, typed errors, and the ``lesionseg losses`` command."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from loss_oracles import REFERENCE

from LesionSegLogic.cli import main
from LesionSegLogic.errors import ConfigError, DimensionError, LesionSegError, MaskError
from LesionSegLogic.losses import LOSSES, available_losses, build_loss, loss_table

#: The issue's fifteen losses: each has a NumPy reference in :mod:`loss_oracles`.
ISSUE_NAMES = set(REFERENCE)


def test_all_losses_of_the_issue_are_registered() -> None:
    assert len(ISSUE_NAMES) == 15
    assert set(available_losses()) >= ISSUE_NAMES


def test_unknown_loss_lists_the_available_names() -> None:
    with pytest.raises(ConfigError) as info:
        build_loss("dicee")
    assert isinstance(info.value, LesionSegError)
    for name in ("dice", "tversky", "hytver"):
        assert name in str(info.value)


def test_unknown_parameter_lists_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match="accepted: alpha=0.3, beta=0.7"):
        build_loss("tversky", gama=2)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("tversky", {"pooling": "voxel"}),
        ("focal", {"alpha": 1.5}),
        ("dice", {"smooth": -1.0}),
        ("generalized_dice", {"weights": "cubic"}),
        ("weighted_gradient", {"gamma": 1.5}),
        ("weighted_gradient", {"normalisation": "max"}),
        ("hytver", {"gamma": 2.0}),
        ("unified_focal", {"delta": "high"}),
    ],
)
def test_bad_parameter_values_raise_config_error(name: str, params: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_loss(name, **params)


def test_lambda_alias_and_hyperparameters() -> None:
    loss = build_loss("unified_focal", **{"lambda": 0.3})
    assert loss.hyperparameters()["lambda_"] == 0.3
    assert "lambda_=0.3" in repr(loss)


def test_table_defaults_are_the_constructor_defaults() -> None:
    for name, info in LOSSES.items():
        built = build_loss(name)
        assert built.hyperparameters() == info.params, name
        sig = inspect.signature(info.cls)
        assert {k: p.default for k, p in sig.parameters.items()} == info.params
        assert info.formula and info.source and info.cls.__doc__, name


def test_bad_inputs_raise_typed_errors() -> None:
    loss = build_loss("dice")
    z = torch.zeros(1, 1, 2, 2, 2)
    with pytest.raises(DimensionError):
        loss(z, torch.zeros(1, 1, 2, 2, 3))
    with pytest.raises(DimensionError):
        loss(torch.zeros(1, 2, 2, 2, 2), torch.zeros(1, 2, 2, 2, 2))
    with pytest.raises(DimensionError):
        loss(torch.zeros(2, 2, 2), torch.zeros(2, 2, 2))
    with pytest.raises(MaskError):
        loss(z, torch.full((1, 1, 2, 2, 2), 0.5))


def test_cli_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["losses"]) == 0
    out = capsys.readouterr().out
    for name in ISSUE_NAMES:
        assert f"\n{name}\n" in f"\n{out}"
    assert "Perera" in out and "alpha=0.3, beta=0.7" in out


def test_cli_json_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["losses", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == available_losses()
    assert rows == json.loads(json.dumps(loss_table()))
    assert {"name", "formula", "params", "source", "convention"} <= set(rows[0])


def test_cli_single_loss_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["losses", "weighted_gradient"]) == 0
    assert "Cabezas" in capsys.readouterr().out
    assert main(["losses", "nope"]) == 2
    assert "unknown loss 'nope'" in capsys.readouterr().err


def test_docs_table_lists_every_loss_with_its_code_defaults() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "losses.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for line in doc.splitlines():
        if line.startswith("| `"):
            rows.setdefault(line.split("|")[1].strip().strip("`"), line)  # the first table is the loss table
    for name, info in LOSSES.items():
        assert name in rows, name
        for key, value in info.params.items():
            assert f"{key}={value!r}" in rows[name], (name, key)
