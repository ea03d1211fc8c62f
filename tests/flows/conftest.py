"""Fixtures flow tests share with the image tests: the loopback registry and the offline base."""

from tests.image.conftest import base_images, image_registry  # noqa: F401 - fixtures
