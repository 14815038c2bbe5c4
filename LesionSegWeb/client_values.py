"""The one validator of every state value a browser may set (issue 18 item 4).

A client can write any state variable with any msgpack value — a threshold of ``"abc"``, ``[]`` or ``{}``, an
opacity of ``-5``, a demo name that is an absolute path, a path with a NUL byte. Each client-settable name has
one :class:`ValueRule` in :data:`CLIENT_VALUES`; :class:`CheckedState` runs it before the binding's handler sees
the value. A refused value is never stored: the variable goes back to its last good value and the panel says
why in one line. The allowed choices (rules, overlay modes, edit tools, demo names, models) are read from the
state lists the page itself shows, so there is one source for each vocabulary.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from LesionSegLogic.errors import ConfigError, InputError

#: The longest path a client may type (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096


class ClientValueError(InputError):
    """A value a client set that the app does not accept (shown in the panel; the value reverts)."""


class UnruledHandlerError(ConfigError, ValueError):
    """A change handler for a state name that has no rule in :data:`CLIENT_VALUES` (a ``ValueError`` too)."""


@dataclass(frozen=True)
class ValueRule:
    """How one client-set value is checked: ``check(value, state)`` returns the clean value or raises
    :class:`ClientValueError`; ``none_ok`` lets ``None`` through (nothing selected)."""

    describe: str
    check: Callable[[Any, Any], Any]
    none_ok: bool = False


def _number(low: float, high: float) -> ValueRule:
    def check(value: Any, _state: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ClientValueError(f"must be a number, got {type(value).__name__} {_short(value)}")
        if not (math.isfinite(value) and low <= value <= high):
            raise ClientValueError(f"must be between {low:g} and {high:g}, got {_short(value)}")
        return float(value)
    return ValueRule(f"a number in [{low:g}, {high:g}]", check)


def _boolean() -> ValueRule:
    def check(value: Any, _state: Any) -> bool:
        if not isinstance(value, bool):
            raise ClientValueError(f"must be true or false, got {_short(value)}")
        return value
    return ValueRule("true or false", check)


def _one_of(choices: Callable[[Any], list[Any]], what: str, none_ok: bool = False) -> ValueRule:
    def check(value: Any, state: Any) -> Any:
        allowed = choices(state)
        if not isinstance(value, str) or value not in allowed:
            listed = ", ".join(map(str, allowed)) or "none available"
            raise ClientValueError(f"must be one of the listed {what} ({listed}), got {_short(value)}")
        return value
    return ValueRule(f"one of the listed {what}", check, none_ok)


def _path_text() -> ValueRule:
    def check(value: Any, _state: Any) -> str:
        if not isinstance(value, str):
            raise ClientValueError(f"must be text, got {type(value).__name__}")
        if "\0" in value:
            raise ClientValueError("contains a NUL character; type the path again")
        if len(value) > MAX_PATH_CHARS:
            raise ClientValueError(f"is {len(value)} characters long; at most {MAX_PATH_CHARS}")
        return value
    return ValueRule("a path (text without NUL)", check, none_ok=True)  # a cleared field


def _optional_number(low: float, integer: bool, what: str) -> ValueRule:
    """An optional number ≥ ``low`` (``None``/empty: not given) — the probability-map format (channel, scale) of
    :func:`LesionSegLogic.cli.add_probability_format`, as a text field sends it."""
    def check(value: Any, _state: Any) -> float | int | None:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = float(value)
            except ValueError:
                raise ClientValueError(f"must be {what}, got {_short(value)}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ClientValueError(f"must be {what}, got {_short(value)}")
        if value < low or (integer and value != int(value)):
            raise ClientValueError(f"must be {what}, got {_short(value)}")
        return int(value) if integer else float(value)
    return ValueRule(what, check, none_ok=True)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _items(name: str) -> Callable[[Any], list[Any]]:
    return lambda state: list(state[name] or [])


def _model_values(state: Any) -> list[Any]:
    return [item.get("value") for item in state.models or [] if isinstance(item, dict)]


#: Every state variable a client may set, and its rule. The binding's other variables are server-set.
CLIENT_VALUES: dict[str, ValueRule] = {
    "threshold": _number(0.0, 1.0),
    "opacity": _number(0.0, 1.0),
    "accepted_opacity": _number(0.0, 1.0),
    "accepted_visible": _boolean(),
    "rule": _one_of(_items("rules"), "matching rules"),
    "mode": _one_of(_items("modes"), "overlay modes"),
    "edit_tool": _one_of(_items("edit_tools"), "edit tools"),
    "demo_name": _one_of(_items("demo_names"), "demo cases", none_ok=True),
    "model": _one_of(_model_values, "models", none_ok=True),
    #: the lesion label of a multi-label nnU-Net model (the labels the selected model's dataset.json lists)
    "model_label": _one_of(_items("model_labels"), "lesion labels", none_ok=True),
    **{f"path_{role}": _path_text() for role in ("case", "flair", "t2", "reference", "probability", "model",
                                                  "review", "compare")},
    "threshold_b": _number(0.0, 1.0),  # map B's slider (side by side, :mod:`.compare`)
    "compare_model": _one_of(_model_values, "models", none_ok=True),  # the model run for map B
    #: how to read another tool's probability map (``lesionseg app/evaluate/sweep --channel/--scale``)
    "probability_channel": _optional_number(0, True, "a channel number 0, 1, 2, ... (or empty)"),
    "probability_scale": _optional_number(1e-9, False, "a positive number such as 255 or 1000 (or empty)"),
    #: export the mask as DICOM SEG / the probability as a DICOM Parametric Map (DICOM inputs only)
    "export_dicom_seg": _boolean(),
    "export_dicom_pmap": _boolean(),
}


def check_client_value(name: str, value: Any, state: Any) -> Any:
    """The clean value of ``name``, or a :class:`ClientValueError` naming the setting and the problem."""
    rule = CLIENT_VALUES[name]
    if value is None and rule.none_ok:
        return None
    if value is None:
        raise ClientValueError(f"{name.replace('_', ' ')} must be {rule.describe}, got nothing")
    try:
        return rule.check(value, state)
    except ClientValueError as error:
        raise ClientValueError(f"{name.replace('_', ' ')} {error}") from None


class CheckedState:
    """Registers one change listener per client-set name on a trame ``state``: the value is checked first, then
    ``handlers[name]`` (if any) gets the clean value; a refused value goes back to the last good one and
    ``refused(message)`` is called."""

    def __init__(self, state: Any, handlers: dict[str, Callable[..., Any]], refused: Callable[[str], None]) -> None:
        unknown = set(handlers) - set(CLIENT_VALUES)
        if unknown:
            raise UnruledHandlerError(f"CheckedState: handlers for client values without a rule in CLIENT_VALUES: "
                                      f"{', '.join(sorted(unknown))}")
        self.state = state
        self._refused = refused
        self._good = {name: state[name] for name in CLIENT_VALUES}
        for name in CLIENT_VALUES:
            state.change(name)(self._listener(name, handlers.get(name)))

    def _listener(self, name: str, handler: Callable[..., Any] | None) -> Callable[..., Any]:
        def on_change(**values: Any) -> Any:
            try:
                clean = check_client_value(name, values.get(name), self.state)
            except ClientValueError as error:
                self.state[name] = self._good[name]
                self._refused(str(error))
                return None
            self._good[name] = clean
            return None if handler is None else handler(**{**values, name: clean})
        return on_change
