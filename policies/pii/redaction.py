"""The Presidio adapter of the `Redactor` port: `PresidioRedactor`.

Every trace, log line and audit record goes through `Redactor.mask` before it is written.
Findings come from the in-memory cache (`findings_cache`), else from those stored at ingest
(`findings_store`), else from the analyzer (spaCy NER and our recognizers), in this process or
in worker processes (`analysis_pool`). Placeholders are drawn per `MaskingSession`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from sqlalchemy import Engine

from infra.sql_sweep import LiveKeys, SweepCount
from policies.pii.analysis_pool import AnalysisPool
from policies.pii.findings_cache import FindingsCache, FindingsCacheInfo
from policies.pii.findings_store import FindingsStore
from policies.pii.masking_session import MaskingSession, merge_findings
from policies.pii.port import PseudonymKeyMissingError
from policies.pii.recognizers import (
    AddressRecognizer,
    build_recognizers,
    expand_person_spans,
    implausible_name,
    is_region,
    not_a_person_in,
)
from policies.pii.segments import citation_segments, stored_segments, windows
from policies.pii.settings import RedactionSettings
from policies.pii.spacy_engine import LANGUAGE, LocalSpacyNlpEngine, model_meta, nlp_engine
from policies.pii.types import PiiFinding
from policies.pii.vocabulary import CorpusVocabulary

__all__ = ["PresidioRedactor"]

# Score of a PERSON finding implied by another one (a repeat, a list neighbour).
_IMPLIED_SCORE = 0.45
_FINDINGS_FORMAT = 3  # bump when what a stored finding means changes (recognizer logic)
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>")
_VALUE_WORDS = re.compile(r"\w+")
_ACRONYM = re.compile(r"[A-Z]{1,4}")  # "the Northwind PO": judged by its other words
# Types found by the NER model or name heuristics, checked by `implausible_name`.
_NAME_LIKE = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})


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
        self._registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
        self._analyzer: AnalyzerEngine | None = None
        self._analyzer_lock = threading.Lock()
        # The entities our recognizers report, known without the model. Given an empty registry
        # Presidio's analyzer loads its predefined recognizers instead: only it can say then.
        supported = (
            self._registry.get_supported_entities(languages=[LANGUAGE])
            if recognizers
            else self._analyzer_engine().get_supported_entities(language=LANGUAGE)
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
        self._cache = FindingsCache(
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
            [_FINDINGS_FORMAT, settings, model_meta(self._settings)], sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def precompute(self, texts: Iterable[str]) -> int:
        """Analyse every segment of `texts` not yet stored and store its findings (ingestion
        calls this for indexed sentences). Returns how many segments were analysed now."""
        if self._store is None:
            return 0
        segments = stored_segments(texts)
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
        return [self._store.key(segment) for segment in stored_segments(texts)]

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
        segments = stored_segments(texts)
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
        return analyzer is not None and isinstance(analyzer.nlp_engine, LocalSpacyNlpEngine)

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
        spans = list(citation_segments(text))
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
        spans = merge_findings(self.find(text), text)
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
                    for offset, window in windows(segment)
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
                    nlp_engine=nlp_engine(self._settings),
                    supported_languages=[LANGUAGE],
                    default_score_threshold=self._settings.score_threshold,
                )
            return self._analyzer

    def _analyze(self, text: str) -> list[RecognizerResult]:
        analyzer = self._analyzer_engine()
        artifacts: NlpArtifacts
        if self._settings.engine == "spacy":
            with self._nlp_lock:
                artifacts = analyzer.nlp_engine.process_text(text, LANGUAGE)
        else:
            artifacts = analyzer.nlp_engine.process_text(text, LANGUAGE)
        results: list[RecognizerResult] = analyzer.analyze(
            text=text,
            language=LANGUAGE,
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


def _in_vocabulary(value: str, vocabulary: frozenset[str]) -> bool:
    """Whether `value` (a name or place found) is made only of the corpus's own words."""
    if not vocabulary or any(ch.isdigit() for ch in value):
        return False
    words = [w.casefold() for w in _VALUE_WORDS.findall(value) if not _ACRONYM.fullmatch(w)]
    return bool(words) and all(w in vocabulary for w in words)


def _inside_any(finding: PiiFinding, spans: list[tuple[int, int]]) -> bool:
    return any(start <= finding.start and finding.end <= end for start, end in spans)
