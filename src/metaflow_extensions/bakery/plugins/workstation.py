"""The workstation's own image as the default for remote steps.

Whoever provisions workstations sets `METAFLOW_BAKERY_WORKSTATION_IMAGE` to the image the
workstation itself runs. A remote step (`@kubernetes`, `@container`) that names no image then
runs in that image rather than a bare python:X.Y, so what works on the workstation works in the
cluster. An image the user names always wins, and `--environment=fast-bakery` still replaces the
default with the image it bakes for a step's environment.
"""

from __future__ import annotations

from . import compat

_announced = set()  # one log line per image and process


def workstation_image():
    from .settings import optional_setting

    return optional_setting("workstation_image")


def apply(decorator, logger=None) -> None:
    """Give `decorator` the workstation image unless the user named one."""
    image = workstation_image()
    if not image or compat.user_defined(decorator, "image"):
        return
    decorator.attributes["image"] = image
    if image not in _announced and logger is not None:
        _announced.add(image)
        logger(
            "Remote steps without an image of their own run in the workstation image %s "
            "(METAFLOW_BAKERY_WORKSTATION_IMAGE)" % image
        )
