"""How inference runs: a Protocol with an in-process implementation (tests, web app) and a subprocess one
(desktop Slicer: the GUI never blocks, progress comes from the child's output, cancel kills the process tree).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from LesionSegLogic.cancel import CancelToken
from LesionSegLogic.defaults import FALLBACK_THRESHOLD
from LesionSegLogic.errors import Cancelled, LesionSegError
from LesionSegLogic.image import Image

from .parameters import ModelChoice

Progress = Callable[[float, str], None]
#: the ``ModelChoice.extra`` key naming the lesion label of a multi-label nnU-Net model folder
#: (``PredictSettings.nnunet_label``, ``lesionseg predict --nnunet-label``)
NNUNET_LABEL = "nnunet_label"


def predict_settings(model: ModelChoice):
    """The :class:`~LesionSegLogic.predictor.PredictSettings` of a face's model choice (device, nnU-Net label): the
    in-process runner uses it, and :class:`ChildCommand` passes the same values as ``lesionseg predict`` options.
    A face always sends its FLAIR (and any T2/baseline loaded): images the chosen model does not read — the FLAIR for
    a T2-w-only cord model, a T2 for a FLAIR-only one — are left out with a warning the panel shows
    (``ignore_extra_inputs``), so every model the faces' auto-pick chooses runs (issue 12)."""
    from LesionSegLogic.predictor import PredictSettings  # torch: imported on use

    return PredictSettings(device=model.device, nnunet_label=model.extra.get(NNUNET_LABEL) or None,
                           ignore_extra_inputs=True)


@dataclass(frozen=True)
class InferenceRequest:
    """Inputs of one inference: images on their own grids, and the model to run."""

    flair: Image
    model: ModelChoice
    t2: Image | None = None
    baseline: Image | None = None


@dataclass(frozen=True)
class InferenceResult:
    """A probability map on the FLAIR grid and the model card's recommended threshold."""

    probability: Image
    recommended_threshold: float = FALLBACK_THRESHOLD
    model_name: str = ""
    details: dict = field(default_factory=dict)


class InferenceRunner(Protocol):
    def run(
        self, request: InferenceRequest, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> InferenceResult: ...


PredictFunction = Callable[[InferenceRequest, Progress | None, CancelToken | None], InferenceResult]


class InProcessRunner:
    """Runs a predict function in this process (tests: a fake one; default: the library's predictor)."""

    def __init__(self, predict: PredictFunction | None = None) -> None:
        self._predict = predict or library_predict

    def run(
        self, request: InferenceRequest, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> InferenceResult:
        if cancel is not None and cancel.cancelled:
            raise Cancelled("inference cancelled before it started")
        result = self._predict(request, progress, cancel)
        if result.probability.shape != request.flair.shape:
            raise LesionSegError(
                f"runner returned a probability map of shape {result.probability.shape}, "
                f"expected the FLAIR grid {request.flair.shape}"
            )
        return result


def library_predict(
    request: InferenceRequest, progress: Progress | None = None, cancel: CancelToken | None = None
) -> InferenceResult:
    """Zoo model, nnU-Net v2 model folder or ONNX model → probability map on the FLAIR grid through
    ``LesionSegLogic.predictor`` (``Predictor.load``: the same path as ``lesionseg predict --model``; preprocess →
    predict → export, nothing written); imported lazily because torch is heavy."""
    from LesionSegLogic.predictor import Predictor

    predictor = Predictor.load(request.model.spec, predict_settings(request.model))
    images = {"flair": request.flair, "t2": request.t2, "baseline": request.baseline}
    pre = predictor.preprocess({k: v for k, v in images.items() if v is not None})
    on_progress = (lambda p: progress(p.fraction, f"{p.stage} {p.done}/{p.total}")) if progress else None
    probability, facts = predictor.predict(pre, progress=on_progress, cancel=cancel)
    prediction = predictor.export(pre, probability, facts, None)
    return InferenceResult(
        probability=prediction.probability,
        recommended_threshold=float(predictor.card.recommended_threshold),
        model_name=predictor.card.name,
        details=dict(prediction.summary),
    )


# ---------------------------------------------------------------------------------------------- subprocess
CommandFactory = Callable[[InferenceRequest, dict[str, Path], Path], Sequence[str]]
_PERCENT = re.compile(r"(\d{1,3})%")

#: What the child runs, by absolute path (``python -m LesionSegLogic`` fails in Slicer: see predict_child.py).
CHILD_SCRIPT = Path(__file__).resolve().with_name("predict_child.py")

# Win32 process-creation values (winbase.h, winuser.h), written out so the Windows branch is testable anywhere.
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
STARTF_USESHOWWINDOW = 0x00000001
SW_HIDE = 0


@dataclass(frozen=True)
class ChildCommand:
    """``python <LesionSegLib>/predict_child.py predict ...``: the contract of ``lesionseg predict``.

    ``python`` is the running interpreter (in 3D Slicer ``sys.executable`` is ``PythonSlicer``)."""

    python: str = field(default_factory=lambda: sys.executable)
    script: Path = CHILD_SCRIPT

    def __call__(self, request: InferenceRequest, inputs: dict[str, Path], out_dir: Path) -> list[str]:
        command = [self.python, str(self.script), "predict", "--model", request.model.spec,
                   "--flair", str(inputs["flair"]), "--out", str(out_dir), "--device", request.model.device,
                   "--ignore-extra-inputs"]  # as predict_settings: images the model does not read, said
        for key in ("t2", "baseline"):
            if key in inputs:
                command += [f"--{key}", str(inputs[key])]
        if request.model.extra.get(NNUNET_LABEL):
            command += ["--nnunet-label", request.model.extra[NNUNET_LABEL]]
        return command


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's own environment: ``base`` (default: this process's) with unbuffered UTF-8 output, so progress
    lines arrive as they are printed and decode the same on every platform. The parent's is never changed."""
    environment = dict(os.environ if base is None else base)
    environment.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return environment


def popen_options(os_name: str = os.name, startupinfo_type: Callable[[], object] | None = None) -> dict[str, object]:
    """``Popen`` keyword arguments: the child leads its own process group (so cancel can stop the whole tree) and,
    on Windows, opens no console window (``STARTUPINFO`` with ``SW_HIDE``, as Slicer's
    ``slicer.util.launchConsoleProcess`` does, plus ``CREATE_NO_WINDOW``). ``startupinfo_type`` defaults to
    ``subprocess.STARTUPINFO`` (Windows only; tests pass a stand-in)."""
    if os_name != "nt":
        return {"start_new_session": True}
    info = (startupinfo_type or subprocess.STARTUPINFO)()  # type: ignore[attr-defined]
    info.dwFlags |= STARTF_USESHOWWINDOW
    info.wShowWindow = SW_HIDE
    return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW, "startupinfo": info}


def kill_process_tree(process: subprocess.Popen, grace_s: float = 2.0) -> None:
    """Stop ``process`` and every process it started (own session/process group on POSIX, taskkill /T on
    Windows)."""
    if process.poll() is not None:
        return
    if os.name == "nt":  # pragma: no cover - Windows only
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False,
                       creationflags=CREATE_NO_WINDOW)
        process.wait()
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


class SubprocessJob:
    """A running child process in its own work folder; poll it from a GUI timer, or :meth:`wait` for it.

    The work folder holds copies of the user's images: :meth:`close` (called by :meth:`SubprocessRunner.finish`
    and :meth:`cancel`) stops the child if it still runs and removes the folder."""

    def __init__(
        self, command: Sequence[str], work_dir: Path, out_dir: Path, progress: Progress | None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.out_dir = out_dir
        self.fraction = 0.0
        self.lines: list[str] = []
        self.cancelled = False
        self._progress = progress
        try:
            self.process = subprocess.Popen(
                list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                errors="replace", bufsize=1, cwd=work_dir, env=child_environment(environment), **popen_options(),
            )
        except OSError as error:
            raise LesionSegError(f"{command[0]}: cannot start the inference process ({error.strerror})") from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = ""
        while True:
            chunk = self.process.stdout.read(1)
            if not chunk:
                break
            if chunk in "\r\n":
                self._line(buffer)
                buffer = ""
            else:
                buffer += chunk
        if buffer:
            self._line(buffer)

    def _line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        self.lines.append(line)
        match = _PERCENT.search(line)
        if match:
            self.fraction = min(1.0, int(match.group(1)) / 100.0)
            if self._progress is not None:
                self._progress(self.fraction, line)

    def poll(self) -> int | None:
        return self.process.poll()

    def join_reader(self, timeout_s: float = 10.0) -> None:
        """Wait until every line the child printed has been read (after it exited)."""
        self._reader.join(timeout=timeout_s)

    def cancel(self) -> None:
        self.cancelled = True
        self.close()

    def close(self) -> None:
        """Stop the child (and its children) if it still runs and remove the work folder; safe to call twice."""
        kill_process_tree(self.process)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def wait(self, cancel: CancelToken | None = None, interval_s: float = 0.1) -> int:
        while True:
            try:
                code = self.process.wait(timeout=interval_s)
                self.join_reader()
                return code
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.cancelled:
                    self.cancel()


class SubprocessRunner:
    """Writes the inputs to a temporary work folder, runs ``lesionseg predict`` in a child process (by the
    script's absolute path, in the work folder), reads the probability map and removes the work folder.

    ``environment``: the child's base environment (default: this process's); tests pass a clean one."""

    def __init__(
        self, command_factory: CommandFactory | None = None, temp_root: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self._command_factory = command_factory or ChildCommand()
        self._temp_root = temp_root
        self._environment = environment

    def start(self, request: InferenceRequest, progress: Progress | None = None) -> SubprocessJob:
        from LesionSegLogic.io import write_image

        work_dir = Path(tempfile.mkdtemp(prefix="lesionseg-", dir=self._temp_root))
        try:
            inputs = {"flair": work_dir / "flair.nii.gz"}
            write_image(request.flair, inputs["flair"])
            for key in ("t2", "baseline"):
                image = getattr(request, key)
                if image is not None:
                    inputs[key] = work_dir / f"{key}.nii.gz"
                    write_image(image, inputs[key])
            out_dir = work_dir / "out"
            command = self._command_factory(request, inputs, out_dir)
            return SubprocessJob(command, work_dir, out_dir, progress, self._environment)
        except BaseException:
            shutil.rmtree(work_dir, ignore_errors=True)
            raise

    def finish(self, job: SubprocessJob, request: InferenceRequest) -> InferenceResult:
        """Read the child's outputs once it has exited; the work folder is removed whatever the outcome."""
        try:
            return self._read_result(job, request)
        finally:
            job.close()

    @staticmethod
    def _read_result(job: SubprocessJob, request: InferenceRequest) -> InferenceResult:
        from LesionSegLogic.io import read_image

        if job.cancelled:
            raise Cancelled("inference cancelled")
        code = job.process.wait()
        job.join_reader()  # the reader thread may still hold the child's last lines (its error)
        if code != 0:
            reason = job.lines[-1] if job.lines else f"exit status {code}"
            raise LesionSegError(f"inference failed: {reason}")
        probability = read_image(job.out_dir / "probability.nii.gz")
        summary_path = job.out_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        card = summary.get("model") if isinstance(summary.get("model"), dict) else {}
        threshold = card.get("recommended_threshold", summary.get("threshold", FALLBACK_THRESHOLD))
        image = request.flair.with_array(np.asarray(probability.array, dtype=np.float32), name="probability")
        model = str(card.get("name") or summary.get("model") or request.model.spec)
        return InferenceResult(image, float(threshold), model, summary)

    def run(
        self, request: InferenceRequest, progress: Progress | None = None, cancel: CancelToken | None = None
    ) -> InferenceResult:
        job = self.start(request, progress)
        job.wait(cancel)
        return self.finish(job, request)
