"""Every exception a Bakery user can see.

Each message says what went wrong, names the step, package, image or registry involved,
and says what to do next. The hierarchy::

    BakeryError
    ├── SettingsError               a Bakery setting has a value it cannot take
    ├── SpecError                   a decorator asks for something malformed
    │   └── SourceFileError         a file it names (requirements.txt, uv.lock...) is unusable
    ├── PythonNotFoundError         no interpreter on this machine satisfies `python=`
    ├── ResolutionError             uv or rattler cannot resolve a spec
    │   ├── PackageNotFoundError    a package (or channel) does not exist
    │   └── IndexUnreachableError   the package index or channel cannot be reached
    ├── LockError                   the lockfile is unreadable or out of date
    │   ├── FrozenLockError         a frozen run found a step whose spec changed
    │   └── LockIntegrityError      the lockfile disagrees with itself (edited by hand, damaged)
    ├── EnvironmentBuildError       installing a locked environment failed
    │   └── EnvironmentIntegrityError  an environment's files differ from its packages' records
    ├── FetchError                  a locked artifact cannot be downloaded or fails its sha256
    │   └── SnapshotError           packages missing from, or unreadable in, the datastore
    ├── ImageError                  baking an image failed
    │   ├── ImageReferenceError     an image reference is malformed
    │   ├── PlatformNotFoundError   a manifest list has no image for the target platform
    │   ├── BaseImageError          the base image lacks what tasks need (bash, the Python)
    │   └── UnsafePathError         a package would write outside the environment's prefix
    ├── RegistryError               the registry answered with an error
    │   ├── RegistryUnreachableError  the registry cannot be reached at all
    │   ├── RegistryAuthError       the registry refused the credentials (401/403)
    │   ├── RegistryProtocolError   the server's answer breaks the distribution API (not a registry?)
    │   └── RegistryNotFoundError   repository, manifest or blob not found (404)
    ├── ContainerError              running a task in a local container failed
    │   ├── ContainerRuntimeNotFoundError  neither podman nor docker can be run
    │   └── ContainerImageError     the container runtime could not pull the task's image
    │       ├── ContainerImageNotFoundError        the image does not exist (also a RegistryNotFoundError)
    │       ├── ContainerRegistryAuthError         credentials refused (also a RegistryAuthError)
    │       └── ContainerRegistryUnreachableError  registry down (also a RegistryUnreachableError)
    ├── NamedEnvError               a named environment is missing, or a publish is refused
    ├── PolicyFileError             the admin's policy file is missing, unreadable or malformed
    ├── PolicyExportError           a policy cannot be turned into an admission policy
    └── PolicyViolation             an admin policy forbids what the flow asks for
"""

from __future__ import annotations

from collections.abc import Sequence


class BakeryError(Exception):
    """Base of every error Bakery raises on purpose; its message is meant for humans."""

    def __init__(self, message: str, *, step: str | None = None) -> None:
        self.step = step
        super().__init__(message)

    def with_step(self, step: str | Sequence[str]) -> BakeryError:
        """Return the same error, its message prefixed with the step(s) it concerns."""
        if self.step is None:
            steps = [step] if isinstance(step, str) else list(step)
            self.step = ", ".join(steps)
            self.args = (f"{name_steps(steps)}: {self.args[0]}",)
        return self


class SettingsError(BakeryError):
    """Raised when a setting (environment variable or Metaflow config) has an invalid value."""


def name_steps(steps: Sequence[str]) -> str:
    """`step 'a'`, `steps 'a' and 'b'`, `steps 'a', 'b' and 'c'`."""
    quoted = [f"'{s}'" for s in steps]
    if len(quoted) == 1:
        return f"step {quoted[0]}"
    return f"steps {', '.join(quoted[:-1])} and {quoted[-1]}"


class SpecError(BakeryError):
    """Raised when a decorator's packages, versions or python= are malformed."""


class PythonNotFoundError(BakeryError):
    """Raised when no interpreter on this machine satisfies the requested Python version."""


class ResolutionError(BakeryError):
    """Raised when the requirements of an environment cannot be resolved."""


class PackageNotFoundError(ResolutionError):
    """Raised when a requested package or channel does not exist."""


class IndexUnreachableError(ResolutionError):
    """Raised when a package index or conda channel cannot be reached."""


class LockError(BakeryError):
    """Raised when a lockfile cannot be read or does not match the flow."""


class FrozenLockError(LockError):
    """Raised by a frozen run when a step's spec no longer matches the lockfile."""


class LockIntegrityError(LockError):
    """Raised when a lockfile's env ids, records or step entries disagree with its content."""


class EnvironmentBuildError(BakeryError):
    """Raised when creating an environment from its lock fails."""


class EnvironmentIntegrityError(EnvironmentBuildError):
    """Raised when an environment's files differ from what its packages' RECORDs list."""


class FetchError(BakeryError):
    """Raised when a locked artifact cannot be downloaded, or does not match its sha256."""


class SnapshotError(FetchError):
    """Raised when packages cannot be stored in, or restored from, the datastore."""


class ImageError(BakeryError):
    """Raised when an image cannot be baked."""


class ImageReferenceError(ImageError):
    """Raised when an image reference cannot be parsed."""


class PlatformNotFoundError(ImageError):
    """Raised when a base image's manifest list has no entry for the target platform."""


class BaseImageError(ImageError):
    """Raised when a base image lacks what tasks in a baked image need (bash, the env's Python)."""


class UnsafePathError(ImageError):
    """Raised when a package holds a path (file, link, script name) that leaves the image's prefix."""


class RegistryError(BakeryError):
    """Raised when an OCI registry answers with an unexpected error."""


class RegistryUnreachableError(RegistryError):
    """Raised when the registry cannot be reached (connection refused, DNS, timeout)."""


class RegistryAuthError(RegistryError):
    """Raised when the registry refuses the credentials (401 or 403)."""


class RegistryProtocolError(RegistryError):
    """Raised when a server's answer breaks the distribution API: status, digest, content type or body."""


class RegistryNotFoundError(RegistryError):
    """Raised when a repository, manifest or blob does not exist (404)."""


class ContainerError(BakeryError):
    """Raised when a task cannot be run in a local container (podman or docker)."""


class ContainerRuntimeNotFoundError(ContainerError):
    """Raised when neither podman nor docker (nor `$BAKERY_CONTAINER_RUNTIME`) can be run."""


class ContainerImageError(ContainerError):
    """Raised when the container runtime fails to pull the task's image."""


class ContainerImageNotFoundError(ContainerImageError, RegistryNotFoundError):
    """Raised when the runtime reports that the image (repository, tag or digest) does not exist."""


class ContainerRegistryAuthError(ContainerImageError, RegistryAuthError):
    """Raised when the registry refuses the runtime's credentials (401/403, unauthorized, denied)."""


class ContainerRegistryUnreachableError(ContainerImageError, RegistryUnreachableError):
    """Raised when the runtime cannot reach the registry (connection refused, unknown host, timeout)."""


class PolicyFileError(BakeryError):
    """Raised when a configured policy file is missing, unreadable, or not a valid policy."""


class PolicyExportError(BakeryError):
    """Raised when `bakery policy export` has nothing to export or is asked for an unknown format."""


class PolicyViolation(BakeryError):
    """Raised before launch when an admin policy forbids what a flow asks for."""


class SourceFileError(SpecError):
    """Raised when a file a decorator names (requirements.txt, uv.lock, ...) is missing,
    unreadable, malformed, or asks for something Bakery does not support."""


class NamedEnvError(BakeryError):
    """Raised when a named environment does not exist, or a publish or alias is refused."""
