"""Fuzzing the readers: mutated NIfTI / NRRD / MetaImage files give an ``Image`` or a ``LesionSegError``.

Run with ``make fuzz`` (``pytest -m fuzz``). Hypothesis mutates small valid files — truncation, flipped
bytes, absurd dimensions / spacings / offsets, wrong datatype codes, edited text header fields — for
4 × 300 = 1200 cases. Every case is read by a long-lived worker process (``io_fuzz_worker.py``) under
an address-space limit; a crash (segfault), a hang (per-case timeout) or any exception other than a
``LesionSegError`` fails the case, and the worker is restarted, so pytest itself never dies.
"""

from __future__ import annotations

import gzip
import json
import os
import select
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image

pytestmark = pytest.mark.fuzz

CASES_PER_FORMAT = int(os.environ.get("LESIONSEG_FUZZ_CASES", "300"))
CASE_TIMEOUT_S = 20.0
MEMORY_LIMIT_BYTES = 3 * 2**30
REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("io_fuzz_worker.py")


@dataclass
class ReaderWorker:
    """One reader process fed paths on stdin; restarted after a crash or a hang."""

    process: subprocess.Popen[str] | None = None
    stats: Counter[str] = field(default_factory=Counter)
    restarts: int = 0

    def _start(self) -> None:
        threads = {"OMP_NUM_THREADS": "1", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1"}
        env = {**os.environ, "PYTHONPATH": str(REPO), **threads}  # the worker's environment only
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(MEMORY_LIMIT_BYTES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        ready = self._answer(120.0)
        assert ready == {"ready": True}, f"fuzz worker did not start: {ready}"

    def _answer(self, timeout: float) -> dict | None:
        assert self.process is not None and self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash", "returncode": self.process.wait()}

    def read(self, path: Path, role: str = "image") -> dict:
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(f"{path}\t{role}\n")
            self.process.stdin.flush()
            answer = self._answer(CASE_TIMEOUT_S)
        except BrokenPipeError:
            answer = {"outcome": "crash", "returncode": self.process.wait()}
        if answer is None:
            answer = {"outcome": "hang", "timeout_s": CASE_TIMEOUT_S}
        if answer["outcome"] in ("hang", "crash"):
            self.stop()
            self.restarts += 1
        self.stats[answer["outcome"]] += 1
        if answer["outcome"] == "error":
            self.stats[f"error:{answer['type']}"] += 1
        return answer

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def worker() -> Iterator[ReaderWorker]:
    reader = ReaderWorker()
    start = time.perf_counter()
    yield reader
    reader.stop()
    elapsed = time.perf_counter() - start
    total = sum(v for k, v in reader.stats.items() if ":" not in k)
    print(f"\nfuzz: {total} cases in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.1f} cases/s), "
          f"worker restarts {reader.restarts}, outcomes {dict(sorted(reader.stats.items()))}")


class Seeds(dict):
    """The seed files by name; a short repr keeps Hypothesis' failure reports readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} seed files>"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    """Small valid files of every format, as bytes (float32 image, int16 image and uint8 mask)."""
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    rng = np.random.default_rng(0)
    theta = np.deg2rad(20)
    oblique = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    images = {
        "f32": Image(rng.normal(100, 20, (6, 7, 8)).astype(np.float32), (2.0, 0.9, 1.1), (4, -5, 6), oblique),
        "i16": Image((rng.random((5, 6, 7)) * 1000).astype(np.int16), (1.0, 1.0, 3.0)),
        "u8": Image((rng.random((6, 5, 4)) > 0.7).astype(np.uint8)),
    }
    found = Seeds()
    for key, image in images.items():
        for ext in (".nii", ".nii.gz", ".nrrd", ".mha"):
            found[f"{key}{ext}"] = write_image(image, folder / f"{key}{ext}").read_bytes()
        raw_nrrd = write_image(image, folder / f"{key}_raw.nhdr")
        header = raw_nrrd.read_text("latin-1").replace("encoding: gzip", "encoding: raw")
        data = (folder / f"{key}_raw.raw.gz").read_bytes()
        found[f"{key}_raw.nrrd"] = header.split("data file:")[0].encode() + b"\n" + gzip.decompress(data)
        meta = write_image(image, folder / f"{key}_raw.mhd")
        text = meta.read_text("latin-1").replace("CompressedData = True", "CompressedData = False")
        text = "\n".join(line for line in text.splitlines() if not line.startswith(("CompressedDataSize",
                                                                                      "ElementDataFile")))
        zraw = (folder / f"{key}_raw.zraw").read_bytes()
        found[f"{key}_raw.mha"] = (text + "\nElementDataFile = LOCAL\n").encode() + zlib.decompress(zraw)
    return found


# --- mutations -----------------------------------------------------------------------------------------------

ABSURD_INTS = [0, -1, 1, 2, 7, 8, 255, 32767, -32768, 65535, 2**31 - 1, -(2**31)]
ABSURD_FLOATS = [0.0, -1.0, 1e-30, 1e30, float("inf"), float("-inf"), float("nan"), 1e-7, 3.4e38]


@st.composite
def byte_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncate, flip bits/bytes (mostly in the first 600 bytes: the header), or splice in absurd numbers."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "int16", "int32", "float32", "int64", "zero_run"]))
        if not buf:
            break
        header_end = min(len(buf), 600)
        pos = draw(st.one_of(st.integers(0, header_end - 1), st.integers(0, len(buf) - 1)))
        if kind == "truncate":
            del buf[draw(st.integers(0, len(buf) - 1)):]
        elif kind == "flip":
            buf[pos] ^= draw(st.integers(1, 255))
        elif kind == "zero_run":
            buf[pos : pos + draw(st.integers(1, 64))] = bytes(min(64, len(buf) - pos))[: len(buf[pos:pos + 64])]
        else:
            fmt, values = {
                "int16": ("h", ABSURD_INTS), "int32": ("i", ABSURD_INTS), "int64": ("q", ABSURD_INTS),
                "float32": ("f", ABSURD_FLOATS),
            }[kind]
            value = draw(st.sampled_from(values))
            if fmt == "h":
                value = max(-32768, min(32767, value))
            order = draw(st.sampled_from("<>"))
            packed = struct.pack(order + fmt, value)
            buf[pos : pos + len(packed)] = packed
    return bytes(buf)


#: NIfTI-1 fields worth corrupting: (offset, struct format, candidate values)
NIFTI_FIELDS = [
    (0, "i", [0, 347, 540, -348]),  # sizeof_hdr
    (40, "h", [0, 2, 4, 5, 8, -1, 7]),  # dim[0]
    (42, "h", [0, 1, -5, 32767, 2000]),  # dim[1]
    (44, "h", [0, 1, -5, 32767, 2000]),
    (46, "h", [0, 1, -5, 32767, 2000]),
    (48, "h", [0, 1, 3, 32767]),  # dim[4]
    (70, "h", [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1536, 1792, 2048, 2304, 99, -1]),
    (72, "h", [0, 1, 7, 8, 16, 32, 64, 128, 255, -8]),  # bitpix
    (76, "f", [0.0, -1.0, 2.0]),  # pixdim[0] (qfac)
    (80, "f", ABSURD_FLOATS),  # pixdim[1..3]
    (84, "f", ABSURD_FLOATS),
    (88, "f", ABSURD_FLOATS),
    (108, "f", [0.0, 100.0, 351.0, 353.0, 1e9, -4.0, float("nan")]),  # vox_offset
    (112, "f", ABSURD_FLOATS),  # scl_slope
    (116, "f", ABSURD_FLOATS),  # scl_inter
    (252, "h", [0, 1, 2, 5, -1]),  # qform_code
    (254, "h", [0, 1, 2, 5, -1]),  # sform_code
    (256, "f", ABSURD_FLOATS), (260, "f", ABSURD_FLOATS), (264, "f", ABSURD_FLOATS),  # quatern b, c, d
    (268, "f", ABSURD_FLOATS),  # qoffset_x
    (280, "f", ABSURD_FLOATS), (284, "f", ABSURD_FLOATS), (300, "f", ABSURD_FLOATS),  # srow_x/y entries
    (344, "4s", [b"n+1\0", b"ni1\0", b"n+2\0", b"xxxx"]),  # magic
]


@st.composite
def nifti_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    compressed = data[:2] == b"\x1f\x8b"
    raw = bytearray(gzip.decompress(data) if compressed else data)
    for _ in range(draw(st.integers(1, 3))):
        offset, fmt, values = draw(st.sampled_from(NIFTI_FIELDS))
        packed = struct.pack("<" + fmt, draw(st.sampled_from(values)))
        raw[offset : offset + len(packed)] = packed
    if draw(st.booleans()):
        raw = bytearray(draw(byte_mutation(bytes(raw))))
    out = bytes(raw)
    if compressed:
        out = gzip.compress(out, compresslevel=1)
        if draw(st.booleans()):
            out = draw(byte_mutation(out))
    return out


TEXT_EDITS = {
    "sizes": ["100000 100000 100000", "0 5 5", "-3 5 5", "5 5", "5 5 5 5", "1 1 1", "x y z", "4294967297 2 2"],
    "dimension": ["0", "1", "2", "4", "17", "-1", "abc"],
    "type": ["block", "double", "uchar", "int64", "complex", "nonsense"],
    "encoding": ["bzip2", "ascii", "hex", "raw", "gzip", "zstd"],
    "space directions": ["(1,0,0) (1,0,0) (0,0,1)", "(0,0,0) (0,1,0) (0,0,1)", "(nan,0,0) (0,1,0) (0,0,1)",
                         "none (0,1,0) (0,0,1)", "(1e300,0,0) (0,1,0) (0,0,1)", "(1,0) (0,1) (0,0)"],
    "space origin": ["(nan,0,0)", "(1e300,0,0)", "(0,0)", "garbage"],
    "data file": ["LIST", "img%03d.raw 0 1000000000 1", "/dev/zero", "/nonexistent.raw", "."],
    "endian": ["big", "middle"],
    "kinds": ["domain domain RGB-color", "3-vector domain domain", "list list list"],
    "NDims": ["0", "2", "4", "99", "-1"],
    "DimSize": ["100000 100000 100000", "0 5 5", "-3 5 5", "5 5", "1 1 1"],
    "ElementType": ["MET_UCHAR", "MET_DOUBLE", "MET_FLOAT_ARRAY", "MET_STRING", "MET_NONE", "bogus"],
    "ElementSpacing": ["0 1 1", "-1 1 1", "nan 1 1", "1e308 1 1", "1 1"],
    "TransformMatrix": ["1 0 0 1 0 0 0 0 1", "0 0 0 0 0 0 0 0 0", "nan 0 0 0 1 0 0 0 1", "1 0 0"],
    "Offset": ["nan 0 0", "1e300 0 0", "0 0"],
    "ElementNumberOfChannels": ["3", "0", "-1"],
    "CompressedData": ["True", "False"],
    "BinaryDataByteOrderMSB": ["True", "False"],
    "ElementDataFile": ["LIST", "img%03d.raw 0 1000000000 1", "/dev/zero", "missing.raw", "LOCAL"],
}


@st.composite
def text_header_mutation(draw: st.DrawFn, data: bytes) -> bytes:
    """Edit key/value lines of a NRRD (``key: value``) or MetaImage (``Key = Value``) header."""
    meta = not data.startswith(b"NRRD")
    split = data.find(b"ElementDataFile = LOCAL\n") + len(b"ElementDataFile = LOCAL\n") if meta else (
        data.find(b"\n\n") + 2)
    header, payload = data[:split].decode("latin-1"), data[split:]
    keys = [k for k in TEXT_EDITS if (k[0].isupper() if meta else k[0].islower())]
    lines = header.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        value = draw(st.sampled_from(TEXT_EDITS[key]))
        new = f"{key} = {value}" if meta else f"{key}: {value}"
        index = next((i for i, line in enumerate(lines) if line.split("=" if meta else ":")[0].strip() == key),
                     None)
        if index is None:
            lines.insert(draw(st.integers(1 if not meta else 0, max(1, len(lines) - 1))), new)
        else:
            lines[index] = new
    text = "\n".join(lines) + ("\n" if meta else "\n\n")
    out = text.encode("latin-1") + payload
    return draw(byte_mutation(out)) if draw(st.booleans()) else out


FUZZ_SETTINGS = settings(
    max_examples=CASES_PER_FORMAT,
    deadline=None,
    database=None,
    derandomize=os.environ.get("LESIONSEG_FUZZ_RANDOM", "") == "",  # set it to explore new cases
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a crashing case costs a worker restart
    suppress_health_check=list(HealthCheck),
)


def check_case(worker: ReaderWorker, folder: Path, name: str, data: bytes, role: str) -> None:
    path = folder / name
    path.write_bytes(data)
    answer = worker.read(path, role)
    if answer["outcome"] not in ("image", "error"):
        kept = folder / "failures" / f"{answer['outcome']}_{len(list(folder.glob('failures/*')))}_{name}"
        kept.parent.mkdir(exist_ok=True)
        kept.write_bytes(data)
        pytest.fail(f"{answer} (case kept as {kept}, role {role})", pytrace=False)
    if answer["outcome"] == "error":
        assert answer["names_file"] and answer["one_line"], answer


def ext_of(seed: str) -> str:
    return "." + seed.split(".", 1)[1]


@FUZZ_SETTINGS
@given(choice=st.data())
def test_fuzz_nifti_header_fields(worker, seeds, tmp_path_factory, choice) -> None:
    name = choice.draw(st.sampled_from(sorted(k for k in seeds if ".nii" in k)))
    data = choice.draw(nifti_mutation(seeds[name]))
    role = "mask" if name.startswith("u8") else choice.draw(st.sampled_from(["image", "probability"]))
    check_case(worker, tmp_path_factory.getbasetemp(), f"case{ext_of(name)}", data, role)


@FUZZ_SETTINGS
@given(choice=st.data())
def test_fuzz_raw_bytes_all_formats(worker, seeds, tmp_path_factory, choice) -> None:
    name = choice.draw(st.sampled_from(sorted(seeds)))
    data = choice.draw(byte_mutation(seeds[name]))
    role = choice.draw(st.sampled_from(["image", "mask", "probability"]))
    check_case(worker, tmp_path_factory.getbasetemp(), f"case{ext_of(name)}", data, role)


@FUZZ_SETTINGS
@given(choice=st.data())
def test_fuzz_nrrd_header_text(worker, seeds, tmp_path_factory, choice) -> None:
    name = choice.draw(st.sampled_from(sorted(k for k in seeds if k.endswith(".nrrd"))))
    seed = seeds[name]
    if seed[:2] == b"\x1f\x8b":
        pytest.skip("unexpected compressed seed")
    data = choice.draw(text_header_mutation(seed))
    check_case(worker, tmp_path_factory.getbasetemp(), "case.nrrd", data, "image")


@FUZZ_SETTINGS
@given(choice=st.data())
def test_fuzz_metaimage_header_text(worker, seeds, tmp_path_factory, choice) -> None:
    name = choice.draw(st.sampled_from(sorted(k for k in seeds if k.endswith("_raw.mha"))))
    data = choice.draw(text_header_mutation(seeds[name]))
    check_case(worker, tmp_path_factory.getbasetemp(), "case.mha", data, "image")
