"""Medical image I/O: NIfTI, NRRD and MetaImage files ⇄ :class:`~LesionSegLogic.image.Image`.

See ``docs/io.md`` for the conventions (axis order, LPS/RAS, what each role accepts) and the error table.
"""

from LesionSegLogic.io.convert import from_nibabel, from_sitk, to_nibabel, to_sitk
from LesionSegLogic.io.formats import FORMATS
from LesionSegLogic.io.read import ROLES, Role, read_image
from LesionSegLogic.io.write import write_image

__all__ = [
    "FORMATS",
    "ROLES",
    "Role",
    "from_nibabel",
    "from_sitk",
    "read_image",
    "to_nibabel",
    "to_sitk",
    "write_image",
]
