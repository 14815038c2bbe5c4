"""Reader worker for the fuzz test: reads paths from stdin, answers one JSON line per path on stdout.

Run as ``python io_fuzz_worker.py LIMIT_BYTES``. The address-space limit (``RLIMIT_AS``) is set here,
in the worker process only, so that an attempt to allocate gigabytes fails (MemoryError / ITK exception)
instead of swapping the machine; a segfault or a hang kills only this process, which the test restarts.
No test functions live here.
"""

from __future__ import annotations

import json
import resource
import sys


def main() -> None:
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.io import read_image

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        path, _, role = line.rstrip("\n").partition("\t")
        try:
            image = read_image(path, role=role or "image")  # type: ignore[arg-type]
            answer = {"outcome": "image", "shape": list(image.shape), "dtype": str(image.array.dtype)}
        except LesionSegError as error:
            message = str(error)
            answer = {
                "outcome": "error",
                "type": type(error).__name__,
                "names_file": path in message,
                "one_line": "\n" not in message,
                "message": message[:300],
            }
        except BaseException as error:  # everything else is what the fuzzer hunts
            answer = {"outcome": "unexpected", "type": type(error).__name__, "message": str(error)[:500]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
