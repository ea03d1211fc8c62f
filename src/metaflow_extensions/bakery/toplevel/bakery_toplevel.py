"""What `import metaflow` gains from Bakery: `metaflow.profilers` and `metaflow.gpu_profile`.

Kept to imports: every public name here is copied into the `metaflow` namespace. The profilers
package imports nothing heavy until a profiled task starts. `__mf_extensions__` and
`__version__` are what Metaflow prints after its own version (`2.19.x+bakery(0.1.0)`).
"""

from . import profilers  # noqa: F401 - becomes metaflow.profilers
from .profilers import gpu_profile  # noqa: F401 - becomes metaflow.gpu_profile


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("metaflow-bakery")
    except Exception:  # a remote task: the extension came in the code package, not installed
        return "unknown"


__mf_extensions__ = "bakery"
__version__ = _version()
del _version
