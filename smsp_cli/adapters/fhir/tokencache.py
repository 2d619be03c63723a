"""Access tokens kept between calls: in this process, and on disk for the next process.

A token lasts about ten minutes; a script of single lookups should ask for one per ten
minutes, not one per lookup. Each (profile, API key, token URL) has its own file in the data
directory (``fhir-tokens/``, mode 0700; files 0600), written atomically. A file that another
user owns, that others may read, or that does not parse is not trusted: it is ignored and
replaced. Nothing else about the token is ever written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from smsp_cli.adapters.fhir.signin import AccessToken
from smsp_cli.system.files import data_dir
from smsp_cli.system.safefiles import files

TOKEN_DIR = "fhir-tokens"
MARGIN = 30.0  # seconds before expiry a token is no longer handed out

_lock = threading.Lock()
_in_process: dict[str, AccessToken] = {}


def cache_key(profile: str | None, api_key: str, token_url: str) -> str:
    """The file name for one profile, API key and token URL (none of them readable from it)."""
    text = "\n".join((profile or "", api_key, token_url))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def token_path(key: str, directory: Path | None = None) -> Path:
    """Where the token for ``key`` is cached."""
    return (directory or data_dir() / TOKEN_DIR) / f"{key}.json"


def cached(key: str, *, now: float | None = None) -> AccessToken | None:
    """A token still usable for 30 s more, from this process or the file; else None."""
    moment = time.time() if now is None else now
    with _lock:
        token = _in_process.get(key)
        if token is not None and token.usable(moment, MARGIN):
            return token
        token = _read(token_path(key))
        if token is not None and token.usable(moment, MARGIN):
            _in_process[key] = token
            return token
    return None


def store(key: str, token: AccessToken) -> None:
    """Keep ``token`` for this process and the next (the file written 0600, atomically)."""
    with _lock:
        _in_process[key] = token
        path = token_path(key)
        data = json.dumps({"access_token": token.value, "expires_at": token.expires_at})
        layer = files()  # never through a link, 0600 from the start, whole or not at all
        directory = layer.directory(layer.base_directory(path.parent.parent) / path.parent.name)
        layer.write_atomically(directory / path.name, data.encode("ascii"))


def drop(key: str) -> bool:
    """Forget the token (a 401 said it is no longer good, or `auth logout`); True if one was."""
    with _lock:
        had = _in_process.pop(key, None) is not None
        try:
            token_path(key).unlink()
            return True
        except FileNotFoundError:
            return had


def status(key: str, *, now: float | None = None) -> AccessToken | None:
    """The cached token, usable or not yet expired, for `auth status`."""
    token = _read(token_path(key))
    moment = time.time() if now is None else now
    return token if token is not None and token.expires_at > moment else None


def _read(path: Path) -> AccessToken | None:
    # Only a regular file of the user's own, never through a link (the file layer checks).
    layer = files()
    try:
        descriptor = layer.open_user_file(path, os.O_RDONLY) if path.exists() else -1
    except OSError:
        return None
    if descriptor < 0:
        return None
    try:
        if layer.readable_by_others(os.fstat(descriptor)):
            os.close(descriptor)
            return None  # not ours alone: never trust or use it
        with os.fdopen(descriptor, "rb") as handle:
            document = json.loads(handle.read(16384))
        value, expires = document["access_token"], float(document["expires_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(value, str) or not value:
        return None
    return AccessToken(value, expires)


def forget_process_tokens() -> None:
    """Clear this process's tokens (tests; a new process starts empty)."""
    with _lock:
        _in_process.clear()
