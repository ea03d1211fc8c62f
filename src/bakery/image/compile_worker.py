"""Compile wheels' modules to bytecode, run as a script by an interpreter of the image's Python.

Standard library only: it runs under whatever CPython X.Y the image has (`python -I
compile_worker.py < jobs.json`), which need not be the one running Bakery. Each job names a
source (a wheel, or a folder), its modules (zip member or relative path, path in the image) and
an output zip; modules are compiled straight from the wheel or folder, in a process pool, into unchecked-hash `.pyc` files that record their
image path, so they stay valid whatever mtime a layer gives their sources. A job's zip is
written (then renamed into place) as soon as its last module is compiled, and its output path
printed on a line of its own, so the caller can start on that package while others compile.
Modules that do not compile for this Python are left without bytecode, as compileall does.
"""

import importlib._bootstrap_external as bootstrap
import importlib.util
import json
import os
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor

CHUNK = 32  # modules per task: small enough to spread one big package over every core


def compile_chunk(source_path, modules):
    compiled = []
    if os.path.isdir(source_path):
        read, archive = (lambda name: _read_file(os.path.join(source_path, name))), None
    else:
        archive = zipfile.ZipFile(source_path)
        read = archive.read
    try:
        for member, image_path in modules:
            source = read(member)
            try:
                code = compile(source, "/" + image_path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                continue
            pyc = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
            compiled.append((importlib.util.cache_from_source(image_path), bytes(pyc)))
    finally:
        if archive is not None:
            archive.close()
    return compiled


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_zip(path, compiled):
    tmp = f"{path}.{os.getpid()}.tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as out:
        for name, data in sorted(compiled):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            out.writestr(info, data)
    os.replace(tmp, path)


def main():
    jobs = json.load(sys.stdin)
    remaining = {}
    results = {}
    with ProcessPoolExecutor() as pool:
        futures = []
        for job in jobs:  # in the caller's order: the first packages are done first
            modules = job["modules"]
            chunks = [modules[i : i + CHUNK] for i in range(0, len(modules), CHUNK)]
            remaining[job["out"]] = len(chunks)
            results[job["out"]] = []
            if not chunks:
                write_zip(job["out"], [])
                print(job["out"], flush=True)
            for chunk in chunks:
                futures.append((job["out"], pool.submit(compile_chunk, job["source"], chunk)))
        for out, future in futures:
            results[out].extend(future.result())
            remaining[out] -= 1
            if remaining[out] == 0:
                write_zip(out, results.pop(out))
                print(out, flush=True)


if __name__ == "__main__":
    main()
