"""Compile a new environment's bytecode in the order a task imports it, then the rest.

Run as a script by the environment's own interpreter (standard library only)::

    python -I -B import_compile.py SITE_PACKAGES [--modules M1,M2,...] DIST [DIST ...]

A step's task imports what its flow file and its step function import, in their order, then
whatever those modules import at module level, depth first. This pass follows that order
without running any package code: starting from the modules named (`--modules`: what the
step's code imports, `step_code_imports`), then the top-level modules of the distributions
named (`top_level.txt`, else their RECORD), each module is compiled and its `.pyc` written as
the interpreter itself would write it (timestamp, or checked hash under SOURCE_DATE_EPOCH),
and the imports in its module-level
code are read off the compiled code object and compiled next. A task that starts while this
runs finds the modules it reaches first already compiled. Then `compileall` does the rest of
site-packages (packages' `tests/` left out), skipping what is already compiled.
"""

import compileall
import dis
import importlib._bootstrap_external as bootstrap
import importlib.util
import marshal
import os
import py_compile
import re
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

SKIP = re.compile(r"/tests/")  # packages' own test suites are never imported by tasks


def top_level_modules(site, distributions):
    """Import names of the distributions named (normalized names), as installed in `site`."""
    wanted = {_normalize(name) for name in distributions}
    names = []
    for entry in sorted(os.listdir(site)):
        if not entry.endswith(".dist-info"):
            continue
        if _normalize(entry[: -len(".dist-info")].rsplit("-", 1)[0]) not in wanted:
            continue
        names += _dist_modules(os.path.join(site, entry))
    return list(dict.fromkeys(names))


def _normalize(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _dist_modules(dist_info):
    try:
        with open(os.path.join(dist_info, "top_level.txt")) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        pass
    names = []
    try:
        with open(os.path.join(dist_info, "RECORD")) as f:
            for row in f:
                path = row.split(",", 1)[0]
                first = path.split("/", 1)[0]
                if first.endswith((".dist-info", ".data")) or first in ("..", ""):
                    continue
                if "/" in path or first.endswith(".py"):
                    names.append(first[:-3] if first.endswith(".py") else first)
    except OSError:
        pass
    return list(dict.fromkeys(names))


def source_of(site, module):
    """(path, is_package) of `module`'s source in `site`, or None (a C extension, stdlib...)."""
    base = os.path.join(site, *module.split("."))
    init = os.path.join(base, "__init__.py")
    if os.path.isfile(init):
        return init, True
    if os.path.isfile(base + ".py"):
        return base + ".py", False
    return None


def compile_module(path, module, is_package):
    """Write `path`'s `.pyc` (unless a valid one is there); the modules its top level imports."""
    cfile = importlib.util.cache_from_source(path)
    code = _cached_code(path, cfile)
    if code is None:
        with open(path, "rb") as f:
            source = f.read()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return []  # as compileall: a module that does not compile stays without bytecode
        st = os.stat(path)
        if py_compile._get_default_invalidation_mode() == py_compile.PycInvalidationMode.TIMESTAMP:
            data = bootstrap._code_to_timestamp_pyc(code, st.st_mtime, st.st_size)
        else:
            data = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), True)
        try:
            os.makedirs(os.path.dirname(cfile), exist_ok=True)
            bootstrap._write_atomic(cfile, data, 0o644)
        except OSError:
            pass
    package = module if is_package else module.rpartition(".")[0]
    return _imports(code, package)


def _cached_code(path, cfile):
    """The code object of a `.pyc` that is valid for `path` (timestamp-checked), or None."""
    try:
        with open(cfile, "rb") as f:
            header = f.read(16)
            st = os.stat(path)
            flags = int.from_bytes(header[4:8], "little")
            if header[:4] != importlib.util.MAGIC_NUMBER or flags != 0:
                return None
            if int.from_bytes(header[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF:
                return None
            if int.from_bytes(header[12:16], "little") != st.st_size & 0xFFFFFFFF:
                return None
            return marshal.loads(f.read())
    except (OSError, ValueError, EOFError):
        return None


def _imports(code, package):
    """Absolute names a module's own top-level code imports, in order: `a.b` for `import a.b`
    (and `a`), `a.b.c` candidates for `from a.b import c`, relative imports resolved."""
    found = []
    args = []
    for instruction in dis.get_instructions(code):
        if instruction.opname == "LOAD_CONST":
            args = (args + [instruction.argval])[-2:]
            continue
        if instruction.opname == "IMPORT_NAME" and len(args) == 2:
            level, fromlist = args
            name = instruction.argval
            if isinstance(level, int) and level > 0:
                parts = package.split(".")
                if level - 1 > len(parts) - 1:
                    args = []
                    continue
                base = ".".join(parts[: len(parts) - (level - 1)])
                name = f"{base}.{name}" if name else base
            pieces = name.split(".")
            found += [".".join(pieces[: i + 1]) for i in range(len(pieces))]
            for attribute in fromlist or ():
                if attribute != "*":
                    found.append(f"{name}.{attribute}")
        args = []
    return found


def code_imports(code, package="", nested=True):
    """Absolute module names `code` imports, in order; `nested`: those of the functions (and
    classes) it defines too, as running a step function imports them."""
    found = _imports(code, package)
    for const in code.co_consts if nested else ():
        if hasattr(const, "co_code"):
            found += code_imports(const, package)
    return found


def compile_in_import_order(site, roots, workers):
    """Compile every module reachable from `roots` through module-level imports, depth first."""
    queue = deque(roots)
    seen = set(roots)
    running = {}
    with ProcessPoolExecutor(workers) as pool:
        while queue or running:
            while queue and len(running) < workers * 2:
                module = queue.popleft()
                found = source_of(site, module)
                if found is None or SKIP.search(found[0]):
                    continue
                running[pool.submit(compile_module, found[0], module, found[1])] = module
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                del running[future]
                new = [name for name in future.result() if name not in seen]
                seen.update(new)
                # depth first: what this module imports comes before what was queued earlier
                queue.extendleft(reversed(new))


def main():
    site, rest = sys.argv[1], sys.argv[2:]
    modules = []
    if rest[:1] == ["--modules"]:
        modules, rest = [m for m in rest[1].split(",") if m], rest[2:]
    workers = max(os.cpu_count() or 1, 1)
    roots = list(dict.fromkeys(modules + top_level_modules(site, rest)))
    if roots:
        compile_in_import_order(site, roots, workers)
    compileall.compile_dir(site, quiet=2, workers=0, rx=SKIP)


if __name__ == "__main__":
    main()
