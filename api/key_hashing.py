"""API key material: new keys and their stored hashes. Kept apart from `api.auth` (FastAPI,
the policy) so that `proofdesk api-key` starts without loading the server's stack."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["HASH_PREFIX", "KEY_PREFIX", "generate_api_key", "hash_api_key"]

KEY_PREFIX = "pdk_"
HASH_PREFIX = "sha256:"


def generate_api_key() -> str:
    """A new random API key (show it once; store only `hash_api_key(key)`)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of an API key: `sha256:<hex>`."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()
