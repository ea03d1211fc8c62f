"""What a step's task imports first, read off the flow's code, so that a new environment
compiles those modules before anything else (`bakery.envs.import_compile`)."""

from __future__ import annotations

import inspect
import sys


def step_code_imports(flow, step_name: str) -> list[str]:
    """The modules the flow file imports at module level, then those the step function
    imports, in order (Metaflow's own left out); empty where the code cannot be read."""
    from bakery.envs.import_compile import code_imports

    names: list[str] = []
    try:
        module = sys.modules.get(type(flow).__module__)
        path = getattr(module, "__file__", None)
        if path:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec", dont_inherit=True)
            names += code_imports(code, nested=False)
        function = inspect.unwrap(getattr(type(flow), step_name))
        names += code_imports(function.__code__)
    except (OSError, SyntaxError, ValueError, AttributeError, TypeError):
        pass
    return [name for name in dict.fromkeys(names) if name.split(".", 1)[0] not in ("metaflow", "")]
