"""Pick the bundled model for the images at hand (``lesionseg predict`` without ``--model``, ``lesionseg demo``).

The rule is :func:`LesionSegLogic.defaults.pick_model` (the one rule every face uses); this module only gathers
what it needs from files: the bundled cards (:func:`LesionSegLogic.zoo.catalog.list_cards`, torch-free) and the
anatomy — the user's word, else :func:`LesionSegLogic.anatomy.guess_anatomy` on the grid image (the FLAIR, else the
T2) — and turns "no model takes these images" into a one-line :class:`~LesionSegLogic.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike

from LesionSegLogic.defaults import ModelPick, pick_model
from LesionSegLogic.errors import InputError
from LesionSegLogic.image import Image
from LesionSegLogic.zoo.card import IMAGE_ROLES
from LesionSegLogic.zoo.catalog import list_cards


def image_anatomy(images: Mapping[str, str | PathLike[str] | Image | None],
                  anatomy: str | None = None) -> tuple[str | None, str]:
    """``(anatomy, where it came from)``: the user's ``anatomy``, else the guess from the first given image in
    :data:`IMAGE_ROLES` order (``None`` when the field of view does not say)."""
    from LesionSegLogic.anatomy import guess_anatomy

    if anatomy is not None:
        return anatomy, "given"
    role = next((r for r in IMAGE_ROLES if images.get(r) is not None), None)
    if role is None:
        return None, "no image"
    value = images[role]
    if not isinstance(value, Image):
        from LesionSegLogic.io import read_image

        value = read_image(value, role="image")  # type: ignore[arg-type]  # None values are skipped above
    guessed = guess_anatomy(value)
    return guessed, f"guessed from the {role} image's field of view" if guessed else "the field of view does not say"


def pick_for_images(images: Mapping[str, str | PathLike[str] | Image | None], anatomy: str | None = None,
                    extra: Iterable[str | PathLike[str]] = ()) -> ModelPick:
    """The bundled model for these images (role → path or :class:`Image`; ``None`` = not given) and why; an
    :class:`InputError` naming the images when no bundled model takes them."""
    given = {role for role, value in images.items() if value is not None}
    seen, source = image_anatomy(images, anatomy)
    cards = list_cards(extra)
    if seen is None:  # the field of view does not say: a brain model first (most protocols), else any anatomy
        pick = (pick_model(cards, given, "brain", f"{source}; brain assumed")
                or pick_model(cards, given, None, source))
    else:
        pick = pick_model(cards, given, seen, source)
    if pick is None:
        raise InputError(f"no bundled model takes the images given ({', '.join(sorted(given)) or 'none'}) for "
                         f"{seen or 'this'} anatomy; choose one with --model (see `lesionseg models`)")
    return pick


__all__ = ["image_anatomy", "pick_for_images"]
