"""Inference runners: in-process (fake predict); the subprocess runner's progress, cancel, failure, clean-up,
Popen options; and check (c) of issue 11: the child command runs from a source-checkout layout in a clean
environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from isolated_python import (
    assert_cannot_import,
    clean_environment,
    extras_only_modules,
    make_isolated_python,
    run_python,
)
from LesionSegLib.parameters import ModelChoice
from LesionSegLib.predict_child import prepare_import_path
from LesionSegLib.runner import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    STARTF_USESHOWWINDOW,
    SW_HIDE,
    CancelToken,
    ChildCommand,
    InferenceRequest,
    InferenceResult,
    InProcessRunner,
    SubprocessRunner,
    child_environment,
    popen_options,
)
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
    return runner_for(script, tmp_path / "work")


def runner_for(script: Path, temp_root: Path) -> SubprocessRunner:
    """A runner whose child is ``script FLAIR OUT``; work folders go under ``temp_root``."""
    temp_root.mkdir(exist_ok=True)
    return SubprocessRunner(lambda req, inputs, out: [sys.executable, str(script), str(inputs["flair"]), str(out)],
                            temp_root=str(temp_root))


def leftovers(temp_root: Path) -> list[Path]:
    return sorted(temp_root.iterdir())


def test_subprocess_runner_reports_progress_and_reads_the_result(tmp_path) -> None:
    progress = Signal()
    seen: list[float] = []
    progress.connect(lambda fraction, line: seen.append(fraction))
    result = make_runner(tmp_path, 0.01).run(request(), progress.emit)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    assert leftovers(tmp_path / "work") == [], "the copies of the user's images were left behind"
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
    assert leftovers(tmp_path / "work") == []


def test_a_failed_child_reports_its_last_line_and_leaves_no_copies(tmp_path) -> None:
    """The GUI's way: poll until the child exits, then finish at once. The child prints its progress, then its
    error, and exits while the reader (slowed by a progress callback, as a GUI's can be) is still behind: finish
    must join the reader before it takes the last line as the reason."""
    script = tmp_path / "failing_child.py"
    script.write_text(textwrap.dedent("""
        import sys
        for i in range(2000):
            print(f"predict: {i // 20}%", flush=True)
        print("lesionseg predict: error: flair.nii.gz: the image is constant", file=sys.stderr, flush=True)
        sys.exit(2)
    """))
    runner = runner_for(script, tmp_path / "work")
    job = runner.start(request(), lambda fraction, line: time.sleep(0.0005))
    assert job.work_dir.is_dir() and (job.work_dir / "flair.nii.gz").is_file()
    while job.poll() is None:
        time.sleep(0.01)
    with pytest.raises(LesionSegError, match="inference failed: .*the image is constant$"):
        runner.finish(job, request())
    assert leftovers(tmp_path / "work") == []


def test_a_child_that_cannot_start_is_a_typed_error_and_leaves_no_copies(tmp_path) -> None:
    missing = tmp_path / "no-such-python"
    runner = SubprocessRunner(lambda req, inputs, out: [str(missing), "x"], temp_root=str(tmp_path))
    with pytest.raises(LesionSegError, match="no-such-python: cannot start the inference process"):
        runner.start(request())
    assert [p for p in tmp_path.iterdir()] == []


def test_popen_options_hide_the_console_on_windows_and_group_the_child() -> None:
    class StartupInfo:  # the fields of subprocess.STARTUPINFO that the builder sets
        def __init__(self) -> None:
            self.dwFlags, self.wShowWindow = 0, 1

    windows = popen_options("nt", StartupInfo)
    assert windows["creationflags"] & CREATE_NO_WINDOW and windows["creationflags"] & CREATE_NEW_PROCESS_GROUP
    assert windows["startupinfo"].dwFlags & STARTF_USESHOWWINDOW and windows["startupinfo"].wShowWindow == SW_HIDE
    assert "start_new_session" not in windows
    assert popen_options("posix") == {"start_new_session": True}
    if os.name == "nt":  # pragma: no cover - the written-out values are Python's own
        assert (CREATE_NO_WINDOW, CREATE_NEW_PROCESS_GROUP) == (subprocess.CREATE_NO_WINDOW,
                                                                subprocess.CREATE_NEW_PROCESS_GROUP)


def test_the_child_environment_is_its_own() -> None:
    before = dict(os.environ)
    environment = child_environment()
    assert environment is not os.environ and dict(os.environ) == before
    assert environment["PYTHONUNBUFFERED"] == "1" and environment["PYTHONIOENCODING"] == "utf-8"
    assert child_environment({"PATH": "/bin"}) == {"PATH": "/bin", "PYTHONUNBUFFERED": "1",
                                                   "PYTHONIOENCODING": "utf-8"}


# ------------------------------------------------------------------------ check (c): a source-checkout layout
REPO = Path(__file__).resolve().parents[1]


def source_checkout_layout(root: Path, model: str) -> Path:
    """The README's install route: LesionSegLogic/, LesionSegExtension/ and one model, copied under ``root``."""
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("LesionSegLogic", "LesionSegExtension"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    shutil.copytree(REPO / "Resources" / "Models" / model, root / "Resources" / "Models" / model)
    return root


def smallest_two_contrast_model() -> str:
    from LesionSegLogic.zoo import list_models

    entries = [e for e in list_models() if e.card is not None and e.card.images_needed() == {"flair", "t2"}]
    assert entries, "no bundled FLAIR/T2 model to run"
    return min(entries, key=lambda e: (e.folder / e.card.weights_file).stat().st_size).card.name


def test_prepare_import_path_replaces_the_script_folder_with_the_library_root(tmp_path) -> None:
    layout = source_checkout_layout(tmp_path / "checkout", smallest_two_contrast_model())
    lib_dir = layout / "LesionSegExtension" / "LesionSegLib"
    path = [str(lib_dir), "/elsewhere", str(layout)]
    assert prepare_import_path(str(lib_dir / "predict_child.py"), path) == str(layout)
    assert path == [str(layout), "/elsewhere"], "the script's folder (signal.py!) must not stay on sys.path"


def test_the_child_command_runs_from_a_source_checkout_in_a_clean_environment(tmp_path) -> None:
    """Check (c): a Python in which lesionseg is not installed (nor the extras' packages: pytest, trame, ...), an
    ``env -i``-like environment and a working folder outside the layout; the runner's own command (and its whole
    run) must find LesionSegLogic and the zoo in the layout. The controls show the same set-up fails without them
    (and with ``-m LesionSegLogic``)."""
    model = smallest_two_contrast_model()
    layout = source_checkout_layout(tmp_path / "checkout", model)
    python = make_isolated_python(tmp_path / "venv", blocked=extras_only_modules())  # as in Slicer
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert_cannot_import(python, elsewhere, "LesionSegLogic")
    old_way = run_python(python, ["-m", "LesionSegLogic", "predict", "--help"], elsewhere)
    assert old_way.returncode != 0 and "No module named LesionSegLogic" in old_way.stderr

    command = ChildCommand(python=str(python), script=layout / "LesionSegExtension" / "LesionSegLib" /
                           "predict_child.py")
    helped = run_python(python, [str(command.script), "predict", "--help"], elsewhere)
    assert helped.returncode == 0 and "usage: lesionseg predict" in helped.stdout, helped.stderr

    rng = np.random.default_rng(3)
    zz, yy, xx = np.mgrid[:16, :24, :24]
    centres = rng.uniform(4, 14, (5, 3))
    blobs = sum(np.exp(-((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2) / 6.0) for z, y, x in centres)
    flair = Image((100 + 40 * blobs + rng.normal(0, 2, blobs.shape)).astype(np.float32), (2.0, 2.0, 2.0), name="flair")
    t2 = flair.with_array((80 + 30 * blobs + rng.normal(0, 2, blobs.shape)).astype(np.float32), name="t2")
    work = tmp_path / "work"
    work.mkdir()
    runner = SubprocessRunner(command, temp_root=str(work), environment=clean_environment())
    seen: list[float] = []
    result = runner.run(InferenceRequest(flair, ModelChoice(model, "cpu"), t2=t2), lambda f, line: seen.append(f))
    card = json.loads((layout / "Resources" / "Models" / model / "card.json").read_text())
    assert result.model_name == model and result.recommended_threshold == card["recommended_threshold"]
    assert result.probability.shape == flair.shape and seen and seen[-1] == 1.0
    assert 0.0 <= float(result.probability.array.min()) <= float(result.probability.array.max()) <= 1.0
    assert leftovers(work) == [], "the copies of the user's images were left behind"
