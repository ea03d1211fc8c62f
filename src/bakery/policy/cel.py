"""`[images] allowed` as a CEL expression over the raw image string a pod or workflow names.

The expression gives the verdict `Policy.violation(ImageRequest(...))` gives, on every string: it
parses nothing and lowercases nothing, so each step of `ImageReference.parse` and
`ImagePattern.matches` is spelled out as RE2 regular expressions (CEL's `matches()`, the only
string function every CEL implementation has):

- surrounding whitespace is ignored, as `str.strip()` ignores it (Python's whitespace, Unicode);
- the reference must be valid (registry, repository components, tag, digest, 255 characters);
- where the registry is: a first component with a `.` or `:`, `localhost`, or `[` (IPv6) is a
  host, anything else is a Docker Hub repository;
- Docker Hub's names (`docker.io`, `index.docker.io`, `registry-1.docker.io`): spelled exactly
  so, a one-component repository gets `library/`; in another case they still mean Docker Hub but
  keep the repository as written (what `ImageReference.parse` does);
- registry hosts are compared without regard to case, repositories and tags exactly;
- an untagged reference is `:latest`; globs with a tag allow no digest; digest patterns allow
  one digest, whatever tag is written beside it.

The decision tree below picks the form of the reference, then one regex per form ("leaf") holds
every pattern's alternative for that form. Only `matches()`, `&&`, `||`, `!` and `?:` are used.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..registry.reference import DOCKER_HUB_ALIASES
from .patterns import ImagePattern, _glob

# str.isspace(), i.e. what str.strip() removes (tests/policy/test_cel.py checks the list)
PYTHON_WHITESPACE = (
    (0x09, 0x0D),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_WS = (
    "["
    + "".join(
        f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in PYTHON_WHITESPACE
    )
    + "]*"
)

_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PORT = r"(?::[0-9]+)"
# a first component that is a host (has '.' or ':', is 'localhost', or '[') and a valid registry
_HOST = (
    rf"(?:{_DOMAIN}(?:\.{_DOMAIN})+{_PORT}?|{_DOMAIN}{_PORT}|localhost"
    rf"|\[[0-9a-fA-F:]+\]{_PORT}?)"
)
_CHUNK = "[a-z0-9]+"
_COMPONENT = rf"{_CHUNK}(?:(?:[._]|__|-+){_CHUNK})*"
_REPOSITORY = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}"

_REPOSITORY_CHAR = "[a-z0-9._/-]"
_COMPONENT_CHAR = "[a-z0-9._-]"  # a repository character other than '/'
_TAG_CHAR = "[a-zA-Z0-9_.-]"
_DIGEST_CHAR = "[a-zA-Z0-9=_:+.-]"
_HOST_CHAR = "[^/]"
_LIBRARY = "library/"
_HUB = sorted(DOCKER_HUB_ALIASES)


def _not_words(words: Sequence[str], alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    """A regex for the non-empty strings over `alphabet` other than `words`."""
    prefixes = {word[:i] for word in words for i in range(len(word) + 1)}
    branches = [_escape(p) for p in sorted(prefixes) if p and p not in words]
    for prefix in sorted(prefixes):
        followers = {
            word[len(prefix)] for word in words if word.startswith(prefix) and word != prefix
        }
        others = "".join(c for c in alphabet if c not in followers)
        branches.append(f"{_escape(prefix)}{_char_class(others)}{_char_class(alphabet)}*")
    return "(?:" + "|".join(branches) + ")"


def _char_class(chars: str) -> str:
    return "[" + "".join(_escape(c) for c in chars) + "]"


def _escape(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "\\" + c for c in text)


def _any_case(text: str) -> str:
    # [xX] rather than (?i): RE2 folds case over Unicode (k also matches U+212A KELVIN SIGN)
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _escape(c) for c in text)


_FIRST = rf"(?:{_CHUNK}(?:(?:_|__|-+){_CHUNK})+|{_not_words(['localhost'])})"
_ALGORITHM = rf"(?:{_CHUNK}(?:[.+_-]{_CHUNK})+|{_not_words(['sha256', 'sha512'])})"
_DIGEST = rf"(?:sha256:[a-f0-9]{{64}}|sha512:[a-f0-9]{{128}}|{_ALGORITHM}:[a-zA-Z0-9=_-]{{32,}})"

VALID = (
    rf"^{_WS}(?:{_HOST}/{_REPOSITORY}|{_COMPONENT}|{_FIRST}(?:/{_COMPONENT})+)"
    rf"(?::{_TAG})?(?:@{_DIGEST})?{_WS}$"
)
"""A reference `ImageReference.parse` accepts (but for the repository's length, see below)."""
# on valid references only, from here on:
HOST_FORM = rf"^{_WS}(?:[^/]*[.:][^/]*/|localhost/|\[)"
HOST_LENGTH = rf"^{_WS}[^/]*/{_REPOSITORY_CHAR}{{1,255}}(?:[^a-z0-9._/-](?s:.)*)?$"
HUB_LENGTH = rf"^{_WS}{_REPOSITORY_CHAR}{{1,255}}(?:[^a-z0-9._/-](?s:.)*)?$"
HUB_HOST = rf"^{_WS}(?:{'|'.join(_any_case(name) for name in _HUB)})/"
HUB_EXACT_ONE_COMPONENT = rf"^{_WS}(?:{'|'.join(_escape(name) for name in _HUB)})/[^/]*$"
NO_SLASH = "^[^/]*$"


def allowed_expression(allowed: Sequence[Sequence[ImagePattern]], image: str) -> str:
    """A CEL expression, true when the string `image` (a CEL expression) is allowed by every
    list of patterns in `allowed` (each a policy file's `[images] allowed`)."""
    library = _leaf(allowed, image, _library_alternative, prefix=f"(?:{_hub_exact()}/)?")
    hub_host = _leaf(allowed, image, _as_written_alternative, prefix=f"(?:{_hub_any_case()})/")
    hub = _leaf(allowed, image, _as_written_alternative, prefix="")
    other = _leaf(allowed, image, _other_host_alternative, prefix="")
    host_form = (
        f"{_matches(image, HOST_LENGTH)} && ({_matches(image, HUB_HOST)}\n"
        f"      ? ({_matches(image, HUB_EXACT_ONE_COMPONENT)} ? {library} : {hub_host})\n"
        f"      : {other})"
    )
    hub_form = f"{_matches(image, HUB_LENGTH)} && ({_matches(image, NO_SLASH)} ? {library} : {hub})"
    return (
        f"{_matches(image, VALID)} && ({_matches(image, HOST_FORM)}\n"
        f"  ? {host_form}\n"
        f"  : {hub_form})"
    )


def _matches(image: str, regex: str) -> str:
    assert "'" not in regex, regex  # raw CEL strings cannot escape a quote
    return f"{image}.matches(r'{regex}')"


def _leaf(allowed, image, alternative, *, prefix: str) -> str:
    """One `matches()` per policy file (all must allow), each over every pattern of the file."""
    checks = []
    for patterns in allowed:
        alternatives = [a for a in (alternative(p) for p in patterns) if a is not None]
        if not alternatives:
            return "false"
        body = "|".join(f"(?:{a})" for a in alternatives)
        checks.append(_matches(image, f"^{_WS}{prefix}(?:{body}){_WS}$"))
    return "(" + " && ".join(checks) + ")" if checks else "true"


def _hub_exact() -> str:
    return "(?:" + "|".join(_escape(name) for name in _HUB) + ")"


def _hub_any_case() -> str:
    return "|".join(_any_case(name) for name in _HUB)


def _library_alternative(pattern: ImagePattern) -> str | None:
    """Docker Hub, one component written, `library/` added: what follows `[host/]`."""
    if not _glob(pattern.registry, "docker.io"):
        return None
    suffixes = sorted(_glob_after(pattern.repository, _LIBRARY))
    suffixes = [s for s in suffixes if s and "/" not in s]  # what is written has no '/'
    if not suffixes:
        return None
    written = "|".join(_glob_regex(s, _COMPONENT_CHAR) for s in suffixes)
    return f"(?:{written}){_tag_or_digest(pattern)}"


def _as_written_alternative(pattern: ImagePattern) -> str | None:
    """Docker Hub, the repository as written (two or more components, or a host in another case)."""
    if not _glob(pattern.registry, "docker.io"):
        return None
    return _glob_regex(pattern.repository, _REPOSITORY_CHAR) + _tag_or_digest(pattern)


def _other_host_alternative(pattern: ImagePattern) -> str | None:
    """Any other host: the pattern's registry glob over the host in any case, then the rest."""
    if pattern.registry == "docker.io":
        return None  # matches Docker Hub's names only, which have leaves of their own
    host = _glob_regex(pattern.registry, _HOST_CHAR, any_case=True)
    return f"{host}/{_glob_regex(pattern.repository, _REPOSITORY_CHAR)}{_tag_or_digest(pattern)}"


def _tag_or_digest(pattern: ImagePattern) -> str:
    any_tag = f"(?::{_TAG_CHAR}+)?"
    if pattern.digest is not None:
        return f"{any_tag}@{_escape(pattern.digest)}"
    if pattern.allows_digests:
        return f"{any_tag}(?:@{_DIGEST_CHAR}+)?"
    tag = f":{_glob_regex(pattern.tag or '*', _TAG_CHAR)}"
    return f"(?:{tag})?" if _glob(pattern.tag or "*", "latest") else tag


def _glob_regex(glob: str, wildcard_char: str, *, any_case: bool = False) -> str:
    literal = _any_case if any_case else _escape
    return "".join(
        f"{wildcard_char}*" if c == "*" else wildcard_char if c == "?" else literal(c) for c in glob
    )


def _glob_after(glob: str, prefix: str) -> set[str]:
    """The globs that what follows `prefix` must match for `prefix + rest` to match `glob`."""
    states = _closure(glob, {0})
    for char in prefix:
        moved = set()
        for i in states:
            if i < len(glob) and glob[i] == "*":
                moved.add(i)
            elif i < len(glob) and glob[i] in ("?", char):
                moved.add(i + 1)
        states = _closure(glob, moved)
    return {glob[i:] for i in states}


def _closure(glob: str, states: set[int]) -> set[int]:
    closed, todo = set(states), list(states)
    while todo:
        i = todo.pop()
        if i < len(glob) and glob[i] == "*" and i + 1 not in closed:
            closed.add(i + 1)
            todo.append(i + 1)
    return closed
