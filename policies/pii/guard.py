"""`PiiGuard`: the one choke point every trace attribute, log record and audit write goes through.

It wraps a `Redactor` (Presidio in production) and adds what the writers need:

- `mask_text` / `mask_value`: masked copies of strings and of JSON-like structures (dict keys are
  kept, every string value is masked, numbers and booleans pass through).
- a request scope (`guard.scope()`): one `MaskingSession` per request, so `<PERSON_1>` is the same
  person in the trace, the logs and the audit record, and a per-request memo so the question
  masked for the trace is not analysed again for the audit row. The scope holds raw values and
  dies with the request; nothing raw is ever kept beyond it.
- `pseudonymize`: keyed pseudonyms for user ids (HMAC through the redactor's configured secret).
  Without a configured secret a random per-process key is used, and a warning is logged once
  when the guard is built: pseudonyms then do not survive a restart, so traces and audit rows
  of one user cannot be correlated across restarts (configure `redaction.hmac_secret`).
- `safe_id`: identifiers (conversation, request ids) pass unchanged when they are shaped like
  generated ids, and are pseudonymised otherwise.
- `request_scope` / `resume`: a request's scope as a handle, so masking can happen later in
  another thread (the `MaskingWorker`) with the request's placeholders. The handle keeps the
  scope's raw values alive until the last job holding it has run - in memory only.

Strings the guard produced are remembered (a bounded set of masked outputs, which hold no PII),
so a second pass over them - the Langfuse SDK `mask` hook, the log formatter - costs a set
lookup instead of a second Presidio analysis.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

from cachetools import LRUCache

from policies.pii.masking_session import MaskingSession
from policies.pii.port import Prefetching, PseudonymKeyMissingError, Redactor

__all__ = ["IDENTIFIER_KEYS", "PiiGuard", "Pseudonymizer", "RequestScope", "safe_name"]

log = logging.getLogger(__name__)

_GENERATED_ID = re.compile(r"^(?:[A-Za-z]{1,8}[-_:.])?(?P<hex>[0-9a-fA-F-]{4,64})$")
_FALLBACK_PREFIX = "usr_"
_FALLBACK_HEX = 12
_KNOWN_MASKED_MAX = 8192
# Keys whose values are system identifiers (of approved documents, chunks, answers, versions):
# kept as they are when they look like identifiers, so traces stay navigable. Presidio's weak
# patterns would otherwise take `c1` for a driver's licence. User ids are never among them.
IDENTIFIER_KEYS: frozenset[str] = frozenset(
    {
        "answer_id",
        "chunk_id",
        "document_id",
        "document_ids",
        "document_version",
        "index_version",
        "policy_version",
        "prompt_id",
        "prompt_version",
        "request_id",
        "source_id",
        "span_id",
        "trace_id",
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:/#@+-]{1,256}$")
_MAX_DEPTH = 32  # deeper structures are flattened to a masked string
_NAME = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_MAX_ERROR_CHARS = 500
_MAX_ERROR_SCAN_CHARS = 10_000


def safe_name(name: str, default: str = "span") -> str:
    """`name` when it is a code-style name (`retrieve`, `llm.compose`), else `default`. For
    span and score names, which writers pass on unmasked: only constants may become one."""
    return name if _NAME.match(name) else default


@runtime_checkable
class Pseudonymizer(Protocol):
    """Turns an identifier into a stable keyed pseudonym (`PresidioRedactor` is one)."""

    def pseudonymize(self, user_id: str) -> str: ...


@dataclasses.dataclass(eq=False)
class RequestScope:
    """One request's placeholders and memo of masked texts. Opaque: obtained from
    `PiiGuard.request_scope()`, handed to `PiiGuard.resume()`; never logged or persisted."""

    session: MaskingSession
    memo: dict[str, str] = dataclasses.field(default_factory=dict)


class _ProcessKeyPseudonymizer:
    """HMAC-SHA256 with a random key drawn at start: stable within this process only."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def pseudonymize(self, user_id: str) -> str:
        digest = hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()
        return f"{_FALLBACK_PREFIX}{digest[:_FALLBACK_HEX]}"


class PiiGuard:
    """Masks everything that leaves a request. Thread-safe; build one per process and share it."""

    def __init__(
        self,
        *,
        redactor: Redactor,
        pseudonymizer: Pseudonymizer | None = None,
        identifier_keys: frozenset[str] = IDENTIFIER_KEYS,
    ) -> None:
        self._redactor = redactor
        self._identifier_keys = identifier_keys
        self._pseudonymizer = pseudonymizer or _keyed_pseudonymizer(redactor)
        # Per guard, so two guards (two apps in one test process) never share a request scope.
        self._scope: ContextVar[RequestScope | None] = ContextVar(
            f"pii_scope_{id(self)}", default=None
        )
        self._known_lock = threading.Lock()  # cachetools caches are not thread-safe
        self._known_masked: LRUCache[str, None] = LRUCache(maxsize=_KNOWN_MASKED_MAX)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    @contextmanager
    def scope(self) -> Iterator[MaskingSession]:
        """A request scope: placeholders stay consistent inside it. Nested calls share the outer
        scope, so whoever opens it first (API middleware, the tracer's root span) owns it."""
        current = self._scope.get()
        if current is not None:
            yield current.session
            return
        with self.resume(RequestScope(session=MaskingSession())) as session:
            yield session

    def request_scope(self) -> RequestScope:
        """The current request scope, or a new one outside any: masking resumed with it
        elsewhere (`resume`) uses the same placeholders as the request itself."""
        current = self._scope.get()
        return current if current is not None else RequestScope(session=MaskingSession())

    @contextmanager
    def resume(self, scope: RequestScope) -> Iterator[MaskingSession]:
        """Enter `scope` in this thread or context (a worker job masking for a request)."""
        if self._scope.get() is scope:
            yield scope.session
            return
        token = self._scope.set(scope)
        try:
            yield scope.session
        finally:
            self._scope.reset(token)

    def mask_text(self, text: str) -> str:
        """`text` with every finding replaced by a placeholder of the current request scope."""
        if not text or text.isspace() or self._is_known_masked(text):
            return text
        scope = self._scope.get()
        if scope is not None:
            found = scope.memo.get(text)
            if found is not None:
                return found
        masked = self._redactor.mask(text, session=scope.session if scope else None)
        if scope is not None:
            scope.memo[text] = masked
        self._remember(masked)
        return masked

    def mask_value(self, value: object) -> object:
        """A masked copy of a JSON-like value: str masked, mappings keep their (str) keys,
        sequences become lists, numbers/booleans/None pass, anything else is masked as text.
        Under an identifier key (`chunk_id`, `document_id`, … see `IDENTIFIER_KEYS`) a value
        shaped like an identifier, or each such value of a list, is kept."""
        return self._mask(value, 0)

    def mask_mapping(self, values: Mapping[str, object]) -> dict[str, object]:
        """`mask_value` for a mapping of attributes, typed as a dict."""
        return self._mask_items(values, 0)

    def pseudonymize(self, user_id: str) -> str:
        """A keyed pseudonym of a user id (`usr_3fa9c1d2e4b5`); never the id itself."""
        return self._pseudonymizer.pseudonymize(user_id)

    def safe_id(self, value: str) -> str:
        """`value` when it is shaped like a generated id (an optional short prefix and hex
        digits with at least one letter: `c-7f9e`, a uuid), else its keyed pseudonym. Shape
        only, no NER: cheap, and an id a person chose (`jane.doe`) never passes."""
        match = _GENERATED_ID.match(value)
        if match and any(ch in "abcdefABCDEF" for ch in match.group("hex")):
            return value
        return self.pseudonymize(value)

    def mask_exception(self, exc: BaseException) -> str:
        """`Type: message` of an exception, bounded and masked (never its traceback)."""
        return self.mask_error(f"{type(exc).__name__}: {exc}")

    def mask_error(self, text: str) -> str:
        """An error description (`Type: message`), bounded and masked."""
        if len(text) > _MAX_ERROR_SCAN_CHARS:  # cut at a blank: never through a value's middle
            cut = text.rfind(" ", 0, _MAX_ERROR_SCAN_CHARS)
            text = text[: cut if cut > 0 else _MAX_ERROR_SCAN_CHARS]
        masked = self.mask_text(text)  # mask first: a truncated value may escape detection
        return masked if len(masked) <= _MAX_ERROR_CHARS else masked[:_MAX_ERROR_CHARS] + "…"

    def prefetch(self, texts: Iterable[str]) -> None:
        """Let the redactor load what it knows about `texts` at once, before they are masked
        one by one (a no-op for a redactor that cannot)."""
        if isinstance(self._redactor, Prefetching):
            self._redactor.prefetch(
                [t for t in texts if t and not t.isspace() and not self._is_known_masked(t)]
            )

    def mark_masked(self, text: str) -> None:
        """Record `text` as masked: for text assembled only from this guard's `mask_text`
        outputs and fixed wording from code (the hand-off summary), so that writers masking
        it later (the audit record, the trace) do not analyse it again."""
        self._remember(text)

    def is_masked_output(self, text: str) -> bool:
        """Whether `text` is a string this guard produced (or an identical one)."""
        return self._is_known_masked(text)

    def _mask(self, value: object, depth: int) -> object:
        if isinstance(value, str):
            return self.mask_text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, bytes | bytearray):
            return f"<BYTES len={len(value)}>"
        if depth < _MAX_DEPTH:
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            if isinstance(value, Mapping):
                return self._mask_items(value, depth)
            if isinstance(value, list | tuple | set | frozenset):
                return [self._mask(v, depth + 1) for v in value]
        return self.mask_text(str(value))

    def _mask_items(self, values: Mapping[Any, object], depth: int) -> dict[str, object]:
        masked: dict[str, object] = {}
        for key, item in values.items():
            name = str(key)
            if name in self._identifier_keys and _is_identifier(item):
                masked[name] = item
            elif name in self._identifier_keys and isinstance(item, list | tuple):
                masked[name] = [v if _is_identifier(v) else self._mask(v, depth + 2) for v in item]
            else:
                masked[name] = self._mask(item, depth + 1)
        return masked

    def _is_known_masked(self, text: str) -> bool:
        with self._known_lock:
            return text in self._known_masked

    def _remember(self, masked: str) -> None:
        with self._known_lock:
            self._known_masked[masked] = None  # (re)marks it the most recently used


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and _IDENTIFIER.match(value) is not None


def _keyed_pseudonymizer(redactor: Redactor) -> Pseudonymizer:
    """The redactor's HMAC when it has a key; otherwise a per-process key, announced once."""
    if isinstance(redactor, Pseudonymizer):
        try:
            redactor.pseudonymize("probe")
        except PseudonymKeyMissingError:
            pass
        else:
            return redactor
    log.warning(
        "no redaction.hmac_secret configured: user pseudonyms use a per-process random key and "
        "are not stable across restarts"
    )
    return _ProcessKeyPseudonymizer()
