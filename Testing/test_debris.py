"""Issue 19 items 5–6: nothing half-written is left (full disk, SIGTERM, SIGKILL), earlier results stay intact,
and written files get the mode a plain write gives (``0o666 & ~umask``, not ``mkstemp``'s 0600)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_case import SHAPE, grid_image, lesion_mask, tree_digest, write_tiny_case

import LesionSegLogic.io as io_package
from LesionSegLogic.cli import main
from LesionSegLogic.errors import OutputError
from LesionSegLogic.io import write as write_module
from LesionSegLogic.io.write import staged_file, write_image, write_json
from LesionSegLogic.io.write_policy import STAGING_PREFIX, TERMINATED_STATUS, claim_outputs, terminate_as_exit
from LesionSegLogic.phantom.case import PhantomCase, write_case
from LesionSegLogic.zoo.card import ModelCard
from LesionSegLogic.zoo.weights import save_weights

EARLIER = b"earlier result\n"
BUNDLED_CARD = Path(__file__).resolve().parent.parent / "Resources" / "Models" / "dice_ce" / "card.json"


def _debris(folder: Path) -> list[Path]:
    return [p for p in Path(folder).rglob("*") if p.name.startswith(STAGING_PREFIX) or p.name.endswith(".tmp")]


def _full_disk(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", ["evaluate", "sweep"])
def test_json_on_a_full_disk_leaves_no_temp_and_keeps_the_earlier_file(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write_tiny_case(tmp_path / "case")
    out = tmp_path / "out" / "m.json"
    out.parent.mkdir()
    out.write_bytes(EARLIER)
    monkeypatch.setattr(write_module, "_write_all", _full_disk)
    code = main([command, "--prob", str(case["probability"]), "--ref", str(case["lesions"]), "--json", str(out),
                 "--force"])
    assert code == 2
    assert "no space left on device" in capsys.readouterr().err
    assert out.read_bytes() == EARLIER
    assert _debris(tmp_path) == [] and sorted(p.name for p in out.parent.iterdir()) == ["m.json"]


def _tiny_phantom() -> PhantomCase:
    mask = lesion_mask()
    flair = grid_image((300 + 400 * mask.astype(np.int16)).astype(np.int16))
    return PhantomCase(seed=1, anatomy="brain", flair=flair, t2=flair, lesions=grid_image(mask),
                       lesion_labels=grid_image(mask), records=(), snr=30.0)


@pytest.mark.parametrize("failing", ["second image", "phantom.json"])
def test_phantom_on_a_full_disk_leaves_no_partial_case(
    tmp_path: Path, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    if failing == "phantom.json":
        monkeypatch.setattr(write_module, "_write_all", _full_disk)
    else:
        real = write_module.sitk.WriteImage

        def second_fails(*args: object, **kwargs: object) -> None:
            calls.append(1)
            if len(calls) == 2:
                _full_disk()
            real(*args, **kwargs)

        monkeypatch.setattr(write_module.sitk, "WriteImage", second_fails)
    earlier = tmp_path / "case_001"
    earlier.mkdir()
    (earlier / "flair.nii.gz").write_bytes(EARLIER)
    for folder in (tmp_path / "case_000", earlier):
        calls.clear()
        with pytest.raises(OutputError, match="no space left on device"):
            write_case(_tiny_phantom(), folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case_001"]  # no partial case_000, no staging
    assert sorted(p.name for p in earlier.iterdir()) == ["flair.nii.gz"]
    assert (earlier / "flair.nii.gz").read_bytes() == EARLIER


def test_sigterm_during_predicts_final_write_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SIGTERM, delivered while ``write_outputs`` writes its second map: the staging folder goes, the
    earlier results stay byte for byte, the exit status is 143 (the CLI wraps this write in terminate_as_exit)."""
    from LesionSegLogic.predictor import OUTPUT_FILES, Prediction, write_outputs

    out = tmp_path / "prediction"
    out.mkdir()
    for name in OUTPUT_FILES:
        (out / name).write_bytes(EARLIER)
    before = tree_digest(out)
    real = io_package.write_image
    calls = []

    def signalled(*args: object, **kwargs: object) -> Path:
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(io_package, "write_image", signalled)
    probability = grid_image(np.full(SHAPE, 0.2, np.float32))
    result = Prediction(probability, grid_image(lesion_mask()), [], {"model": {"name": "x"}})
    with pytest.raises(SystemExit) as stopped, terminate_as_exit():
        write_outputs(result, out)
    assert stopped.value.code == TERMINATED_STATUS and len(calls) == 2
    assert tree_digest(out) == before and _debris(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is not None  # handler restored (not ours)


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from LesionSegLogic.io import write as w
    from LesionSegLogic.io.write_policy import terminate_as_exit

    def slow(stream, data):
        stream.write(data[:4]); stream.flush()
        Path(sys.argv[2]).write_text("writing")
        time.sleep(60)

    w._write_all = slow
    with terminate_as_exit():
        w.write_text(sys.argv[1], "new result")
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signalled_writer_leaves_nothing_the_next_run_does_not_remove(tmp_path: Path, sig: int) -> None:
    """SIGTERM: the writer cleans up itself (exit 143). SIGKILL cannot be caught: its staging file stays until the
    next run claims the folder, which removes the debris of dead processes and keeps the earlier result."""
    target, ready = tmp_path / "out" / "result.json", tmp_path / "ready"
    target.parent.mkdir()
    target.write_bytes(EARLIER)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(target), str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the child never started writing"
    assert len(_debris(target.parent)) == 1  # its staging file, mid-write
    child.send_signal(sig)
    code = child.wait(timeout=30)
    assert target.read_bytes() == EARLIER
    if sig == signal.SIGTERM:
        assert code == TERMINATED_STATUS and _debris(target.parent) == []
    else:
        assert code == -signal.SIGKILL and len(_debris(target.parent)) == 1
        claim_outputs([target], force=True)  # the next run
        assert _debris(target.parent) == [] and target.read_bytes() == EARLIER


def _umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    pytest.skip("no /proc/self/status")


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_get_the_mode_a_plain_write_gives(tmp_path: Path, umask: int) -> None:
    import torch
    from safetensors.torch import save_file

    previous = os.umask(umask)
    try:
        assert _umask() == umask
        files = [
            write_json(tmp_path / "m.json", {"a": 1}),
            write_image(grid_image(lesion_mask()), tmp_path / "mask.nii.gz"),
            *(p for p in write_case(_tiny_phantom(), tmp_path / "case").iterdir()),
        ]
        with staged_file(tmp_path / "best.safetensors") as staged:
            save_file({"w": torch.zeros(2)}, staged)
        files.append(tmp_path / "best.safetensors")
        save_weights({"w": torch.zeros(2)}, tmp_path / "model" / "model.safetensors")  # train --export
        files.append(tmp_path / "model" / "model.safetensors")
        files.append(ModelCard.from_json(BUNDLED_CARD).to_json(tmp_path / "model" / "card.json"))
        plain = tmp_path / "plain"
        plain.write_text("x")
    finally:
        os.umask(previous)
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    for path in files:
        assert path.stat().st_mode & 0o777 == expected, path
