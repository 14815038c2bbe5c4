"""Issue 19 items 7–8 and issue 18 item 5: both faces read files as carefully as the CLI.

Every file the review session (desktop and web) opens goes through LesionSeg's checked reader in its role before
MRML sees it, with the CLI's messages; references obey the mask rule; a T2 must cover the FLAIR; a file declaring
more voxels than a review can hold is refused from its header; a MetaImage with ``NDims = 99`` (which aborts ITK)
gives a one-line error and the process lives. Item 8: non-finite MetaImage origins, permission problems and empty
arrays get typed errors.
"""

from __future__ import annotations

import builtins
import errno
import gzip
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from tiny_case import SHAPE, grid_image, write_tiny_case

from LesionSegLogic.errors import (
    ConstantImageError,
    DimensionError,
    FileMissingError,
    GeometryError,
    InputError,
    LesionSegError,
    MaskError,
    NonFiniteError,
)
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.threshold import ThresholdEngine

slicer = pytest.importorskip("slicer")

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.nodes import REVIEW_MAX_VOXELS, add_volume_node, read_volume_file  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402

from LesionSegWeb.files import CaseFiles, check_openable  # noqa: E402


def _bad_flairs(folder: Path) -> dict[str, Path]:
    """Files the CLI refuses as a FLAIR (each found accepted by the faces in issue 19's run)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    good = grid_image(rng.normal(300, 30, SHAPE).astype(np.float32))
    files = {}
    files["truncated"] = write_image(good, folder / "truncated.nii.gz")
    data = files["truncated"].read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    nan = good.array.copy()
    nan[2, 3, 4] = np.nan
    files["nan"] = write_image(good.with_array(nan), folder / "nan.nii.gz")
    files["constant"] = write_image(good.with_array(np.full(SHAPE, 7, np.float32)), folder / "constant.nii.gz")
    sitk.WriteImage(sitk.GetImageFromArray(rng.normal(size=(14, 14)).astype(np.float32)), str(folder / "2d.nii.gz"))
    files["2d"] = folder / "2d.nii.gz"
    volumes = [sitk.GetImageFromArray(rng.normal(size=SHAPE).astype(np.float32)) for _ in range(2)]
    sitk.WriteImage(sitk.JoinSeries(volumes), str(folder / "4d.nii.gz"))
    files["4d"] = folder / "4d.nii.gz"
    return files


def _error(call, *args, **kwargs) -> LesionSegError:
    with pytest.raises(LesionSegError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture()
def session_and_case(tmp_path: Path):
    case = write_tiny_case(tmp_path / "case")
    session = ReviewSession(make_scene().scene)
    session.set_inputs(case["flair"], t2=case["t2"])
    return session, case


def test_bad_flairs_are_refused_with_the_cli_message_and_the_review_stays(session_and_case, tmp_path: Path) -> None:
    session, case = session_and_case
    before = session.flair.array.copy()
    nodes = session.scene.GetNumberOfNodes()
    for kind, path in _bad_flairs(tmp_path / "bad").items():
        expected = _error(read_image, path)
        got = _error(session.set_inputs, path)
        assert type(got) is type(expected) and str(got) == str(expected), kind
        assert "\n" not in str(got) and str(path) in str(got)
        web = _error(check_openable, CaseFiles(path))
        assert str(web) == str(expected), kind
    assert np.array_equal(session.flair.array, before) and session.scene.GetNumberOfNodes() == nodes


def test_volume_nodes_and_images_get_the_image_checks_too(session_and_case) -> None:
    """Volumes loaded by Slicer itself (nodes) or built in code (``Image``) get the image role's value checks."""
    session, case = session_and_case
    constant = add_volume_node(session.scene, session.flair.with_array(np.full(SHAPE, 5, np.int16)), "constant")
    assert isinstance(_error(session.set_inputs, constant), ConstantImageError)
    nan = session.flair.array.copy()
    nan[0, 0, 0] = np.nan
    assert isinstance(_error(session.set_inputs, case["flair"], t2=session.flair.with_array(nan)), NonFiniteError)
    session.set_inputs(session.flair_node, t2=session.t2_node)  # good nodes still pass


def test_a_reference_must_be_a_mask(session_and_case) -> None:
    """The FLAIR itself (file or node) or any intensity volume is not "nonzero = lesion"."""
    session, case = session_and_case
    expected = _error(read_image, case["flair"], role="mask")
    assert isinstance(expected, MaskError)
    assert str(_error(session.set_reference, case["flair"])) == str(expected)
    assert isinstance(_error(session.set_reference, session.flair_node), MaskError)
    scalar = add_volume_node(session.scene, session.flair.with_array(np.arange(np.prod(SHAPE)).reshape(SHAPE)), "x")
    assert isinstance(_error(session.set_reference, scalar), MaskError)
    assert str(_error(check_openable, CaseFiles(case["flair"], reference=case["flair"]))) == str(expected)
    session.set_reference(case["lesions"])  # a real mask still works, as does {0, k}
    assert session.reference.sum() == (read_image(case["lesions"], role="mask").array > 0).sum()


def test_a_t2_far_from_the_flair_is_refused(session_and_case, tmp_path: Path) -> None:
    session, case = session_and_case
    t2 = read_image(case["t2"])
    far = write_image(grid_image(t2.array, origin=(500.0, 0.0, 0.0)), tmp_path / "far_t2.nii.gz")
    error = _error(session.set_inputs, case["flair"], t2=far)
    assert isinstance(error, GeometryError) and "covers only 0%" in str(error) and str(far) in str(error)
    assert str(_error(check_openable, CaseFiles(case["flair"], t2=far))) == str(error)


def test_a_probability_file_is_read_as_a_probability(session_and_case, tmp_path: Path) -> None:
    session, case = session_and_case
    nan = read_image(case["probability"], role="probability").array.copy()
    nan[1, 1, 1] = np.nan
    path = write_image(grid_image(nan), tmp_path / "nan_probability.nii.gz")
    expected = _error(read_image, path, role="probability")
    assert isinstance(expected, NonFiniteError)
    assert str(_error(session.load_probability, path)) == str(expected)
    session.load_probability(case["probability"])
    assert session.probability is not None


def _huge_nifti(path: Path, shape_xyz: tuple[int, int, int], payload: int) -> Path:
    """A gzip NIfTI whose header declares ``shape_xyz`` uint8 voxels, followed by ``payload`` random bytes (not
    compressible: the header check's compression-ratio bound lets it through)."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape_xyz)
    header.set_data_dtype(np.uint8)
    header.set_zooms((1.0, 1.0, 1.0))
    header.set_sform(np.eye(4), code=1)
    raw = header.binaryblock + b"\0" * 4 + np.random.default_rng(0).bytes(payload)
    path.write_bytes(gzip.compress(raw, compresslevel=1))
    return path


def test_a_file_declaring_a_billion_voxels_is_refused_before_allocating(tmp_path: Path) -> None:
    path = _huge_nifti(tmp_path / "huge.nii.gz", (1024, 1024, 1000), 1_000_000)
    assert path.stat().st_size < 1_100_000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = _error(read_volume_file, path)
    assert isinstance(error, DimensionError) and f"{REVIEW_MAX_VOXELS:,}" in str(error)
    assert "1,048,576,000 voxels" in str(error)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # kB: nothing near 1 GB allocated


_NDIMS_CHILD = textwrap.dedent("""
    import sys
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession
    from LesionSegWeb.files import CaseFiles, check_openable
    from LesionSegLogic.errors import LesionSegError

    path = sys.argv[1]
    for name, call in (("web", lambda: check_openable(CaseFiles(path))),
                       ("session", lambda: ReviewSession(make_scene().scene).set_inputs(path))):
        try:
            call()
        except LesionSegError as error:
            print(f"{name}: {error}")
    print("still alive")
""")


def test_ndims_99_metaimage_gives_one_line_and_the_process_lives(tmp_path: Path) -> None:
    """Issue 18 item 5: Slicer's storage node aborted the web server on this file (MetaIO heap corruption)."""
    path = tmp_path / "ndims99.mha"
    path.write_bytes(b"ObjectType = Image\nNDims = 99\nDimSize = 4 4 4\nElementType = MET_UCHAR\n"
                     b"ElementDataFile = LOCAL\n" + bytes(64))
    child = subprocess.run([sys.executable, "-c", _NDIMS_CHILD, str(path)], capture_output=True, text=True,
                           timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    lines = child.stdout.strip().splitlines()
    expected = f"{path}: is a 99-D image; expected a 3-D volume"
    assert lines == [f"web: {expected}", f"session: {expected}", "still alive"]


def test_a_metaimage_with_a_non_finite_origin_is_refused(tmp_path: Path) -> None:
    """Item 8: MetaIO reads ``Offset = inf 0 0`` as the origin (0, 0, 0) without a word."""
    path = tmp_path / "offset.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.random.default_rng(1).random(SHAPE).astype(np.float32)), str(path))
    text = path.read_bytes()
    start = text.index(b"Offset = ")
    path.write_bytes(text[:start] + b"Offset = inf 0 0" + text[text.index(b"\n", start):])
    with pytest.raises(GeometryError, match=r"offset\.mha: has a non-finite origin \(offset = inf 0 0\)"):
        read_image(path)


def test_an_unreadable_file_is_reported_as_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 8: a file in a chmod-000 folder was reported as "damaged compressed data". Root ignores permissions,
    so the denial is injected at ``open`` (as the kernel would answer) unless the test runs unprivileged."""
    case = write_tiny_case(tmp_path / "locked")
    if os.geteuid() != 0:
        os.chmod(tmp_path / "locked", 0)
        try:
            with pytest.raises(FileMissingError, match="ermission denied"):
                read_image(case["flair"])
        finally:
            os.chmod(tmp_path / "locked", 0o755)
    real_open = builtins.open

    def denied(file, *args, **kwargs):
        if str(file) == str(case["flair"]):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(FileMissingError, match=r"flair\.nii\.gz: permission denied"):
        read_image(case["flair"])


def test_an_empty_array_is_a_typed_error_in_the_engine() -> None:
    """Item 8: a 0×5×5 array gave an untyped ValueError from numpy."""
    with pytest.raises(DimensionError, match=r"empty \(shape \(0, 5, 5\)\)"):
        ThresholdEngine(np.zeros((0, 5, 5), np.float32), (1.0, 1.0, 1.0))
    with pytest.raises(InputError):
        ThresholdEngine(np.zeros((0, 5, 5), np.float32), (1.0, 1.0, 1.0), reference=np.zeros((0, 5, 5), bool))
