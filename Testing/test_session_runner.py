"""Inference runners: in-process (fake predict), and the subprocess runner's progress and cancel."""

from __future__ import annotations

import os
import sys
import textwrap
import time

import numpy as np
import pytest
from LesionSegLib.dependencies import ensure_dependencies, find_missing
from LesionSegLib.parameters import ModelChoice
from LesionSegLib.runner import CancelToken, InferenceRequest, InferenceResult, InProcessRunner, SubprocessRunner
from LesionSegLib.signal import Signal

from LesionSegLogic.errors import Cancelled, InputError, LesionSegError
from LesionSegLogic.image import Image

FLAIR = Image(np.random.default_rng(0).random((6, 7, 8)).astype(np.float32), (2.0, 1.0, 1.0), name="flair")


def request() -> InferenceRequest:
    return InferenceRequest(FLAIR, ModelChoice("fake"))


def test_in_process_runner_checks_grid_and_cancel() -> None:
    runner = InProcessRunner(lambda r, p, c: InferenceResult(r.flair.with_array(r.flair.array), 0.4, "m"))
    assert runner.run(request()).recommended_threshold == 0.4
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        runner.run(request(), cancel=token)
    bad = InProcessRunner(lambda r, p, c: InferenceResult(Image(np.zeros((2, 2, 2), np.float32)), 0.5))
    with pytest.raises(LesionSegError, match="FLAIR grid"):
        bad.run(request())
    with pytest.raises(InputError):
        ModelChoice("x", device="tpu")


def child_script(tmp_path, sleep_s: float) -> str:
    """A fake 'lesionseg predict': prints progress, starts a grandchild, writes probability.nii.gz."""
    return textwrap.dedent(f"""
        import subprocess, sys, time
        from pathlib import Path
        import numpy as np
        from LesionSegLogic.io import read_image, write_image
        out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        Path({str(tmp_path / 'grandchild.pid')!r}).write_text(str(grandchild.pid))
        for i in range(0, 101, 25):
            print(f"predict: {{i}}%", flush=True)
            time.sleep({sleep_s})
        flair = read_image(sys.argv[1])
        write_image(flair.with_array((flair.array > 0.5).astype(np.float32)), out / "probability.nii.gz")
        (out / "summary.json").write_text('{{"threshold": 0.35}}')
        grandchild.kill()
    """)


def make_runner(tmp_path, sleep_s: float) -> SubprocessRunner:
    script = tmp_path / "child.py"
    script.write_text(child_script(tmp_path, sleep_s))
    return SubprocessRunner(lambda req, inputs, out: [sys.executable, str(script), str(inputs["flair"]), str(out)],
                            temp_root=str(tmp_path))


def test_subprocess_runner_reports_progress_and_reads_the_result(tmp_path) -> None:
    progress = Signal()
    seen: list[float] = []
    progress.connect(lambda fraction, line: seen.append(fraction))
    result = make_runner(tmp_path, 0.01).run(request(), progress.emit)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert result.recommended_threshold == 0.35
    assert np.array_equal(result.probability.array, (FLAIR.array > 0.5).astype(np.float32))


@pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")
def test_cancel_kills_the_whole_process_tree(tmp_path) -> None:
    runner = make_runner(tmp_path, 5.0)
    job = runner.start(request())
    pid_file = tmp_path / "grandchild.pid"
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    job.cancel()
    assert job.poll() is not None
    for _ in range(100):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the grandchild survived the cancel")
    with pytest.raises(Cancelled):
        runner.finish(job, request())


def test_dependencies_ask_once_and_never_touch_numpy_or_simpleitk() -> None:
    class FakeInstaller:
        def __init__(self, answer: bool) -> None:
            self.answer, self.asked, self.torch, self.pip = answer, [], 0, []

        def confirm(self, message: str) -> bool:
            self.asked.append(message)
            return self.answer

        def install_torch(self) -> bool:
            self.torch += 1
            return True

        def pip_install(self, requirements) -> None:
            self.pip.append(list(requirements))

    missing = {"torch", "nibabel"}
    installer = FakeInstaller(True)
    assert ensure_dependencies(installer, lambda name: name not in missing)
    assert len(installer.asked) == 1 and installer.torch == 1 and installer.pip == [["nibabel>=5.0"]]
    declined = FakeInstaller(False)
    assert not ensure_dependencies(declined, lambda name: name not in missing)
    assert declined.torch == 0 and declined.pip == []
    everything = find_missing(lambda name: False)
    assert not any(r.lower().startswith(("numpy", "simpleitk")) for r in everything.requirements)
    assert ensure_dependencies(FakeInstaller(True), lambda name: True)


@pytest.mark.heavy
def test_subprocess_runner_with_the_real_cli_and_a_zoo_model(tmp_path) -> None:
    from LesionSegLogic.phantom import generate_case

    case = generate_case(5, fov_mm=(40, 60, 60), spacing=(2.0, 2.0, 2.0), n_lesions=4)
    flair = case.flair.with_array(case.flair.array.astype(np.float32))
    t2 = case.t2.with_array(case.t2.array.astype(np.float32))
    seen: list[float] = []
    result = SubprocessRunner(temp_root=str(tmp_path)).run(
        InferenceRequest(flair, ModelChoice("dice", "cpu"), t2=t2), lambda f, line: seen.append(f))
    assert result.probability.shape == flair.shape and result.model_name == "dice"
    assert 0.0 < result.recommended_threshold < 1.0
