"""Run a task's command in a local container with podman or docker.

`run_container(RunSpec(image=..., command=[...]))` pulls the image first (so a missing image, refused
credentials or an unreachable registry is a clear `ContainerImageError` before the task starts), then
runs `RUNTIME run --rm ...` with output streamed; `command_line(spec)` shows what would run. No value of
the container's environment is ever on a command line (`envfile`: a private env file, or the runtime's
own environment).
"""

from __future__ import annotations

from .credentials import RuntimeAuth, auth_config, env_credentials, runtime_auth
from .envfile import ENV_FILE_LINE_LIMIT, EnvHandoff, env_handoff, fits_env_file
from .pull import image_exists, pull, pull_command, runtime_image_name
from .pull_errors import classify_pull_failure, condense
from .run import (
    EXTRA_ARGS_ENV,
    ContainerResult,
    command_line,
    display_command,
    extra_args_from_env,
    run_container,
)
from .runtime import RUNTIME_ENV, ContainerRuntime, RuntimeKind, find_runtime
from .spec import (
    DEFAULT_NETWORK,
    REDACTED,
    SECRET_NAME_MARKERS,
    Mount,
    RunSpec,
    is_secret_name,
    redacted_env,
)

__all__ = [
    "DEFAULT_NETWORK",
    "ENV_FILE_LINE_LIMIT",
    "EXTRA_ARGS_ENV",
    "REDACTED",
    "RUNTIME_ENV",
    "SECRET_NAME_MARKERS",
    "ContainerResult",
    "ContainerRuntime",
    "EnvHandoff",
    "Mount",
    "RunSpec",
    "RuntimeAuth",
    "RuntimeKind",
    "auth_config",
    "classify_pull_failure",
    "command_line",
    "condense",
    "display_command",
    "env_credentials",
    "env_handoff",
    "extra_args_from_env",
    "find_runtime",
    "fits_env_file",
    "image_exists",
    "is_secret_name",
    "pull",
    "pull_command",
    "redacted_env",
    "run_container",
    "runtime_auth",
    "runtime_image_name",
]
