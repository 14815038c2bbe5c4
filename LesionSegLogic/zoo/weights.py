"""Weights files: safetensors only, checked against the card's sha256 before a byte is parsed.

Model files are data, never code. Weights stored in float16 or bfloat16 (the zoo v2 saves space that way) are
loaded as float32 (:func:`upcast`). A safetensors file is an 8-byte little-endian header length, a JSON header
and raw tensor bytes; nothing in it can run. Pickle-based files (``torch.save``'s zip or a bare pickle) are
refused **without being opened by pickle**: we only look at their first bytes to say what they are.
"""

from __future__ import annotations

import json
import struct
from os import PathLike
from pathlib import Path

import torch

from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.provenance import file_sha256

#: Hex sha256 of a file (the one implementation: :func:`LesionSegLogic.provenance.file_sha256`, torch-free).
sha256_of = file_sha256


def _describe_non_safetensors(head: bytes) -> str | None:
    """Why ``head`` (the first bytes of a file) is not a safetensors file, or None when it looks like one."""
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (torch.save's pickle format); pickled weights are refused: they can run code"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "a pickle; pickled weights are refused: they can run code"
    if len(head) < 10:
        return "too short to be a safetensors file"
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len < 2 or header_len > 100_000_000 or head[8:9] != b"{":
        return "not a safetensors file (bad header)"
    return None


def save_weights(state_dict: dict[str, torch.Tensor], path: str | PathLike[str]) -> str:
    """Write ``state_dict`` as safetensors atomically and return its sha256.

    Tensors are moved to CPU, made contiguous and un-aliased (safetensors refuses shared storage).
    """
    from safetensors.torch import save_file

    from LesionSegLogic.io.write import staged_file  # the one atomic writer (normal file mode, no debris)

    path = Path(path)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    with staged_file(path, what="weights") as staged:
        save_file(tensors, staged, metadata={"format": "pt"})
    return sha256_of(path)


def load_weights(path: str | PathLike[str], expected_sha256: str | None) -> dict[str, torch.Tensor]:
    """Load a safetensors file on CPU after checking its format and (when given) its sha256.

    Raises :class:`FileMissingError` when absent, :class:`ModelFileError` for a pickle/zip file, a sha256
    mismatch or a corrupt file — always naming ``path``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileMissingError("weights file not found", path)
    with open(path, "rb") as handle:
        head = handle.read(16)
    reason = _describe_non_safetensors(head)
    if reason is not None:
        raise ModelFileError(reason, path)
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256.lower():
            raise ModelFileError(
                f"sha256 mismatch: the card expects {expected_sha256}, the file has {actual} "
                "(corrupt or replaced weights)",
                path,
            )
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as error:
        raise ModelFileError(f"corrupt safetensors file ({error})", path) from None
    return {name: upcast(tensor) for name, tensor in tensors.items()}


#: floating dtypes a weights file may store to save space; they are loaded as float32 (the models run in float32)
HALF_DTYPES = (torch.float16, torch.bfloat16)


def upcast(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float32 when it is stored in half precision (:data:`HALF_DTYPES`); other dtypes (float32,
    BatchNorm's int64 ``num_batches_tracked``) unchanged. The zoo v2 stores its weights in float16 to stay under
    50 MB; ``load_state_dict`` would copy them into float32 parameters anyway, but a state dict handed to other code
    (ONNX export, ``torch.func``) must not carry float16 tensors into float32 arithmetic."""
    return tensor.float() if tensor.dtype in HALF_DTYPES else tensor
