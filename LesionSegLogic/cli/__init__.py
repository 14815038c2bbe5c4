"""The ``lesionseg`` command line.

Each subcommand lives in its own module ``LesionSegLogic.cli.<name>`` exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Modules import heavy packages (torch, scipy) inside ``run`` so ``--help`` stays fast.
A :class:`~LesionSegLogic.errors.LesionSegError` (and an ``OSError``, ``MemoryError`` or ``RecursionError`` caused by
the input) becomes a one-line reason on stderr and exit status 2 (:func:`main`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from LesionSegLogic import __version__
from LesionSegLogic.errors import LesionSegError

#: Subcommands in the order ``--help`` lists them. A name whose module does not exist yet is left out.
SUBCOMMANDS = (
    "demo",
    "phantom",
    "montage",
    "models",
    "losses",
    "predict",
    "export_onnx",
    "evaluate",
    "sweep",
    "train",
    "study",
    "report",
)
#: The entry-point group through which another installed package adds a subcommand: its value names a module with
#: ``add_parser(subparsers)`` and ``run(args)``, like the built-in ones. The web app adds ``app`` this way
#: (``pyproject.toml``), so this Slicer-free library never imports its web face.
COMMAND_GROUP = "lesionseg.commands"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line too (``lesionseg <command>: error: <reason> (see ... --help)``,
    exit status 2), like every other error of the CLI; subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="lesionseg",
        description="MS lesion segmentation with a live, lesion-wise review of the decision threshold.",
    )
    parser.add_argument("--version", action="version", version=f"lesionseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    modules = [importlib.import_module(f"{__name__}.{name}") for name in SUBCOMMANDS
               if importlib.util.find_spec(f"{__name__}.{name}") is not None]
    for module in [*modules, *plugin_commands()]:
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
        plain_help(sub)
    return parser


def plugin_commands() -> list[Any]:
    """The modules of the installed :data:`COMMAND_GROUP` entry points, by name. One whose import fails (its
    package's optional dependencies are missing) is left out, so the other commands still work."""
    from importlib.metadata import entry_points

    modules = []
    for point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
        try:
            module = point.load()
        except ImportError:
            continue
        if callable(getattr(module, "add_parser", None)) and callable(getattr(module, "run", None)):
            modules.append(module)
    return modules


#: ``--json JSON_TO_STDOUT`` prints the JSON on stdout instead of writing a file (``evaluate``, ``sweep``)
JSON_TO_STDOUT = "-"


def emit_result(data: dict[str, Any], json_target: str | None, table: Callable[[dict[str, Any]], str] | None) -> None:
    """Where ``evaluate``/``sweep`` put their result: ``--json -`` prints only the JSON on stdout; ``--json OUT``
    writes it through the one atomic writer (``io.write.write_json``) and the table is printed too; without
    ``--json`` only the table (``table=None``: nothing on stdout)."""
    from LesionSegLogic.io.write import write_json
    from LesionSegLogic.jsonfile import json_text

    if json_target == JSON_TO_STDOUT:
        sys.stdout.write(json_text(data))
        return
    if json_target:
        write_json(json_target, data)
    if table is not None:
        sys.stdout.write(table(data))


_LITERAL = re.compile(r"``(.+?)``", re.S)
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]+?)(?:\s*<[^>]*>)?`")
_TILDE_TARGET = re.compile(r"^(?:[\w]+\.)+(\w+)$")
_STRONG = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*", re.S)
_EMPHASIS = re.compile(r"(?<![\w*/])\*(\S(?:[^*]*?\S)?)\*(?![\w*])")
_INTERPRETED = re.compile(r"`([^`\n]+)`")


def plain_text(text: str | None) -> str | None:
    """A docstring's reStructuredText as plain text for ``--help``: ````code```` and :role:`targets` lose their
    markup (``:func:`~a.b.c``` → ``c``), ``**strong**`` and ``*emphasis*`` their stars, ```quoted``` text is
    ``'quoted'``, a trailing ``::`` becomes ``:``; literal text (file patterns such as ``sub-*/anat``) is kept as
    written."""
    if text is None:
        return None
    pieces = _LITERAL.split(text)  # even: prose, odd: literal text
    for i in range(0, len(pieces), 2):
        prose = _ROLE.sub(_role_text, pieces[i])
        prose = _INTERPRETED.sub(r"'\1'", _EMPHASIS.sub(r"\1", _STRONG.sub(r"\1", prose)))
        pieces[i] = re.sub(r"(?<=\S)::(?=\s*$|\n)", ":", prose, flags=re.M)
    return "".join(pieces)


def _role_text(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    short = _TILDE_TARGET.match(target) if match.group(0).split("`", 1)[1].startswith("~") else None
    return short.group(1) if short else target


def plain_help(parser: argparse.ArgumentParser) -> None:
    """:func:`plain_text` over a parser's description, epilog and every argument's help (every subcommand's
    ``--help`` reads as plain text, whatever its module's docstring uses)."""
    parser.description = plain_text(parser.description)
    parser.epilog = plain_text(parser.epilog)
    for action in parser._actions:
        if isinstance(action.help, str) and action.help != argparse.SUPPRESS:
            action.help = plain_text(action.help)


ALLOW_EXTERNAL_DATA_HELP = (
    "read the voxels of a detached header (.nhdr/.mhd) even when its data file lies outside the header's own "
    "folder (refused by default: a header can name any file, see docs/security.md)"
)


def add_allow_external_data(parser: argparse.ArgumentParser) -> None:
    """The ``--allow-external-data`` option of every subcommand that reads images given on its command line."""
    parser.add_argument("--allow-external-data", action="store_true", help=ALLOW_EXTERNAL_DATA_HELP)


def add_rule_and_json(parser: argparse.ArgumentParser, *, maps: str, result: str) -> None:
    """``--rule``, ``--json OUT`` and ``--force`` of ``evaluate``/``sweep`` (``maps``: what the rule is recorded
    beside; ``result``: what the JSON holds)."""
    from LesionSegLogic.defaults import DEFAULT_RULE, RULE_NAMES

    parser.add_argument("--rule", choices=RULE_NAMES,
                        help=f"lesion matching rule (default: recorded beside the {maps}, else {DEFAULT_RULE})")
    parser.add_argument("--json", metavar="OUT", help=f"also write {result} as JSON to OUT; `--json -` prints the "
                        "JSON on stdout instead of the table")
    parser.add_argument("--force", action="store_true", help="replace an existing --json file")


def add_probability_format(parser: argparse.ArgumentParser) -> None:
    """``--channel``/``--scale``: how to read a probability map another tool wrote (a 4-D or vector softmax: which
    channel; an integer map: what to divide by) — :func:`LesionSegLogic.io.read_image`'s ``channel``/``scale``."""
    group = parser.add_argument_group("probability maps from other tools (docs/models.md)")
    group.add_argument("--channel", type=int, metavar="K",
                       help="the lesion channel of a 4-D or vector (softmax) probability map")
    group.add_argument("--scale", type=float, metavar="S",
                       help="divide an integer probability map by S (default: 255 or 1000 detected from the file's "
                            "storage and maximum, said on stderr)")


def probability_format(args: argparse.Namespace) -> dict[str, Any]:
    """The ``read_image`` keywords :func:`add_probability_format` collected."""
    return {"channel": getattr(args, "channel", None), "scale": getattr(args, "scale", None)}


#: longest file name an error message repeats in full (longer ones are elided in the middle)
MAX_SHOWN_PATH = 160


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Every error the user can cause is one line on stderr and exit status 2: a
    :class:`LesionSegError`, an :class:`OSError` (permission denied, a file name too long, a full disk), a
    :class:`MemoryError` and a :class:`RecursionError` (absurdly nested input). Anything else is a bug and keeps
    its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except LesionSegError as error:
        return _fail(args.command, str(error))
    except OSError as error:
        return _fail(args.command, os_error_line(error))
    except MemoryError as error:
        return _fail(args.command, f"out of memory ({error or 'no detail'}); try a smaller input or a machine "
                                   "with more memory")
    except RecursionError:
        return _fail(args.command, "input nested too deeply to process")
    except KeyboardInterrupt:
        print(f"lesionseg {args.command}: interrupted", file=sys.stderr)
        return 130


def os_error_line(error: OSError) -> str:
    """``"<file>: <reason>"`` for an operating-system error, on one line (long names elided)."""
    reason = error.strerror or type(error).__name__
    if error.filename is None:
        return _one_line(f"{reason} ({error})" if str(error) and str(error) != reason else reason)
    name = shorten_path(str(error.filename))
    other = f" -> {shorten_path(str(error.filename2))}" if error.filename2 is not None else ""
    return _one_line(f"{name}{other}: {reason}")


def shorten_path(text: str, limit: int = MAX_SHOWN_PATH) -> str:
    """``text`` itself, or its start and end around ``…`` when it is longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(command: str, message: str) -> int:
    print(f"lesionseg {command}: error: {_one_line(message)}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
