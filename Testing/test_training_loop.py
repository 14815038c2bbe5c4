"""A tiny end-to-end training run: CSV log, checkpoints, resume, reproducibility across losses."""

from __future__ import annotations

import csv

import pytest
import torch
from training_cases import make_dataset

from LesionSegLogic.errors import FileMissingError, InputError
from LesionSegLogic.training.config import TrainConfig
from LesionSegLogic.training.loop import LOG_COLUMNS, initial_model, train


def _config(tmp_path, data, **kw) -> TrainConfig:
    base = dict(
        data=str(data),
        out=str(tmp_path / "run"),
        model_params={"features": [4, 8], "norm": "batch"},
        patch_size=(8, 8, 8),
        batch_size=2,
        iterations_per_epoch=3,
        max_epochs=2,
        val_every=0,
        split_fractions=(0.5, 0.25, 0.0, 0.25),
        progress=False,
        device="cpu",
        loss="dice",
    )
    base.update(kw)
    return TrainConfig(**base)


def _rows(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_writes_log_checkpoint_and_resumes(tmp_path):
    data = make_dataset(tmp_path / "data", n=4, shape=(12, 16, 16))
    cfg = _config(tmp_path, data)
    result = train(cfg)
    out = tmp_path / "run"
    assert {"log.csv", "last.pt", "best.safetensors", "config.json", "splits.json"} <= {
        p.name for p in out.iterdir()
    }
    rows = _rows(out / "log.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert list(rows[0]) == list(LOG_COLUMNS)
    assert all(float(r["train_loss"]) >= 0 and r["val_loss"] for r in rows)
    assert 1 <= result.best_epoch <= 2
    # resume: two more epochs continue the numbering and keep the first two rows
    cfg2 = _config(tmp_path, data, max_epochs=4)
    result2 = train(cfg2, resume=True)
    rows2 = _rows(out / "log.csv")
    assert [int(r["epoch"]) for r in rows2] == [1, 2, 3, 4]
    assert rows2[:2] == rows
    assert len(result2.history) == 4
    # an uninterrupted 4-epoch run sees the same batches: same final weights as the resumed run
    full = train(_config(tmp_path, data, max_epochs=4, out=str(tmp_path / "full")))
    last_resumed = torch.load(out / "last.pt", weights_only=True)["model"]
    last_full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    for k in last_full:
        torch.testing.assert_close(last_resumed[k], last_full[k])
    assert full.best_epoch >= 1


def test_same_seed_same_initial_weights_for_every_loss(tmp_path):
    a = initial_model(_config(tmp_path, "x", loss="dice"))
    b = initial_model(_config(tmp_path, "x", loss="bce"))
    c = initial_model(_config(tmp_path, "x", loss="dice", seed=1))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_bad_data_and_resume_errors(tmp_path):
    with pytest.raises(FileMissingError):
        train(_config(tmp_path, tmp_path / "nowhere"))
    data = make_dataset(tmp_path / "data", n=4, shape=(12, 16, 16))
    with pytest.raises(InputError, match="last.pt"):
        train(_config(tmp_path, data, out=str(tmp_path / "fresh")), resume=True)
