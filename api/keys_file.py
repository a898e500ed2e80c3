"""`proofdesk api-key --write FILE`: add a key's entry to the API keys file.

The file is created when missing, validated as the server will read it, and replaced
atomically with mode 0600 (it holds only hashes, but it decides who gets in). A duplicate id or
hash is refused and the file is left as it was. The file is rewritten from its data: YAML
comments in it are not kept.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from api.auth import ApiKeyEntry, ApiKeysFileError, ApiKeyStore
from policies.access.principal import InvalidPrincipalError

__all__ = ["append_key_entry"]


def append_key_entry(path: Path, entry: dict[str, Any]) -> None:
    """Append `entry` (`id`, `hash`, `scopes`, optional `user_id`, `groups`) under `keys:`;
    raises `ApiKeysFileError` for an invalid file, an invalid entry or a duplicate."""
    try:
        ApiKeyEntry.model_validate(entry)
    except (ValidationError, InvalidPrincipalError) as exc:
        raise ApiKeysFileError(f"invalid key entry: {exc}") from exc
    entries: list[Any] = []
    if path.exists():
        ApiKeyStore.load(path)  # the file as the server reads it, or ApiKeysFileError
        entries = list(yaml.safe_load(path.read_text(encoding="utf-8"))["keys"])
    for other in entries:
        if other.get("id") == entry["id"]:
            raise ApiKeysFileError(f"{path} already has a key with id {entry['id']!r}")
        if other.get("hash") == entry["hash"]:
            raise ApiKeysFileError(f"{path} already has this key (as {other.get('id')!r})")
    text = yaml.safe_dump({"keys": [*entries, entry]}, sort_keys=False)
    _write_private(path, text)


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically; the file has mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.chmod(0o600)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
