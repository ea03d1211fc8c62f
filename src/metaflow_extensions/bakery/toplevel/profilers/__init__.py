"""`metaflow.profilers`: decorators that profile a step on a card of their own.

from metaflow.profilers import gpu_profile
"""

from .gpu_profile import gpu_profile

__all__ = ["gpu_profile"]
