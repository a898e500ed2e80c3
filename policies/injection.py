"""Prompt-injection screening: a cheap heuristic flag for retrieved documents and user questions.

`InjectionScreen.assess` matches phrase and pattern rules ("ignore all previous instructions",
chat-template tokens, role-play jailbreak markers, requests to reveal the system prompt, base64
blobs that decode to such instructions) and combines their weights into a score. It is a flag,
not a decision: what is retrieved, shown or cited is decided by code elsewhere, and retrieved
text is always treated as data.

Rules look at what an instruction is about, not at single words: "Please ignore the previous
email, the VPN is fixed" is an ordinary helpdesk sentence, "ignore the previous instructions"
is not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["InjectionAssessment", "InjectionScreen"]


@dataclass(frozen=True, slots=True)
class InjectionAssessment:
    """Whether `text` looks like a prompt injection, how strongly (0..1), and which rules fired."""

    suspected: bool
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    weight: float
    negatable: bool = False  # "never email your password" warns; it does not instruct


def _rule(name: str, pattern: str, weight: float, *, negatable: bool = False) -> _Rule:
    return _Rule(name, re.compile(pattern, re.IGNORECASE | re.DOTALL), weight, negatable)


_GAP = r"(?:\W+\w+){0,4}?\W+"  # up to four words in between
_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|skip|override|overrule|bypass|drop|abandon|discard|"
    r"neglect|stop following|do not follow|don't follow)"
)
_INSTRUCTION_NOUN = (
    r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|guidance|commands?|"
    r"orders?|assignments?|tasks?|constraints?|restrictions?|programming|context|"
    r"system message|policies|polic(?:y|ies) you|training)"
)
_REVEAL_VERB = (
    r"(?:reveal|print|show|display|output|repeat|leak|dump|spell out|recite|tell me|give me|"
    r"write out|share|expose|summari[sz]e|translate)"
)
_LEAK_TARGET = (
    r"(?:(?:system|initial|original|hidden|secret|internal|developer|pre)[ -]?prompt|"
    r"(?:your|the)\s+(?:entire\s+|full\s+|original\s+|initial\s+|hidden\s+|secret\s+|exact\s+)?"
    r"(?:prompt|instructions|rules|guidelines|configuration|pre-?prompt)|"
    r"your\s+(?:password|passcode|access code|secret))"
)

# Text that instructs the *reader* to hand over credentials or to contact an outside party to
# "verify" an account: phishing planted in a document. Never an answer sentence either.
_SEND_VERB = (
    r"(?:send|sending|e-?mail(?!\s+address)|forward|text|sms|share|give|provide|submit|reply\s+with|"
    r"respond\s+with|read\s+out|tell|dictate|post|paste|disclose|hand\s+over|include)"
)
_CREDENTIAL = (
    r"(?:passwords?|passcodes?|passphrases?|(?:one[- ]time|otp|mfa|2fa|two[- ]factor|"
    r"verification|security|sign[- ]?in|log[- ]?in|authenticat\w*|sms|backup|recovery|access)"
    r"\s+(?:pass)?codes?|otps?|pins?|credentials|login\s+details|card\s+numbers?|cvv|cvc|"
    r"security\s+answers?|private\s+keys?|recovery\s+phrases?|seed\s+phrases?)"
)
_OUTSIDE = r"(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+|www\.\S+|\+?\d[\d\s().-]{7,}\d)"
_NEGATION = re.compile(
    r"\b(?:never|not|don't|dont|do\s+not|no\s+one|nobody|won't|will\s+not|cannot|can't|"
    r"must\s+not|should\s+not|shouldn't)\b[^.!?;]*$",
    re.IGNORECASE,
)

_RULES: tuple[_Rule, ...] = (
    _rule(
        "credential_request",
        # up to five words between, in one clause; not what someone sends *you*
        rf"\b{_SEND_VERB}\b(?!\W+you\b)(?:[^\w,;]+\w+){{0,5}}?[^\w,;]+{_CREDENTIAL}\b",
        0.6,
        negatable=True,
    ),
    _rule(
        "outside_contact_lure",
        r"\b(?:e-?mail|call|phone|text|message|contact|reach\s+out\s+to|write\s+to|visit|"
        rf"go\s+to|log\s+in\s+at|sign\s+in\s+at)\b.{{0,60}}?{_OUTSIDE}.{{0,80}}?\b(?:verify|"
        r"confirm|validate|re-?activate|unlock|keep)\s+(?:your\s+)?(?:account|identity|"
        r"mailbox|credentials|access|password)\b"
        r"|\b(?:verify|confirm|validate|re-?activate|unlock)\s+(?:your\s+)?(?:account|identity|"
        rf"mailbox|credentials)\b.{{0,80}}?{_OUTSIDE}",
        0.6,
        negatable=True,
    ),
    _rule(
        "override_instructions",
        rf"\b{_OVERRIDE_VERB}{_GAP}{_INSTRUCTION_NOUN}\b"
        r"|\b(?:previous|prior|above|earlier|preceding|original|initial)\s+"
        rf"{_INSTRUCTION_NOUN}\s+(?:are|is)\s+(?:void|cancel+ed|obsolete|no longer)",
        0.9,
    ),
    _rule(
        "forget_everything",
        r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:everything|all\s+(?:of\s+)?"
        r"(?:that|this|the\s+above|before|previous)|(?:all\s+)?(?:the\s+)?above|what\s+"
        r"(?:i|you)\s+(?:said|told|were\s+told))\b",
        0.75,
    ),
    _rule(
        "new_instructions",
        r"\byour\s+new\s+(?:instructions?|tasks?|rules?|role|directives?|purpose)\b"
        r"|\bnew\s+(?:instructions?|task|rules?)\s*:"
        r"|\bnow\s+focus\s+on\s+(?:your\s+)?new\b"
        r"|\bnow\s+(?:comes|follows?)\s+(?:a\s+)?new\s+(?:task|instructions?|challenge)\b"
        r"|\bnew\s+instructions\s+follow\b|\badditional\s+instructions?\s*[:\-]"
        r"|\b(?:change|update|replace)\s+your\s+(?:instructions|rules|prompt)\b"
        r"|\byour\s+(?:instructions|rules)\s+are\s+now\b",
        0.6,
    ),
    _rule(
        "ignore_sources",
        r"\b(?:do\s+not|don't|not|without)\s+(?:look(?:ing)?\s+(?:in|at|into)|us(?:e|ing)|"
        r"rely(?:ing)?\s+on|consult(?:ing)?)\s+(?:the\s+|any\s+)?(?:documents?|articles?|"
        r"context|sources?|provided\s+\w+|retrieved\s+\w+)\b"
        r"|\b(?:answer|respond|reply)\s+(?:by|from|with|using)\s+your\s+own\s+knowledge\b",
        0.6,
    ),
    _rule(
        "role_play_setup",
        r"\b(?:imagine|suppose)\s+(?:that\s+)?you\s+are\b|\bnow\s+you\s+are\b"
        r"|(?:^|[.!?:]\s+)act\s+as\s+(?:a|an|my)\b|\brepeat\s+after\s+me\b"
        r"|\blet'?s\s+play\s+a\s+game\b|\byou\s+are\s+role-?playing\b",
        0.5,
    ),
    _rule(
        "end_of_prompt_marker",
        r"={3,}\s*end\b|\bend\s+of\s+(?:the\s+)?(?:prompt|instructions|system\s+message)\b",
        0.6,
    ),
    _rule(
        "role_reassignment",
        r"\bfrom\s+now\s+on,?\s+(?:you|act|pretend|respond|answer|reply)\b"
        # not "you are now a member of the group": only what re-casts the assistant itself
        r"|\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+)?(?:called|named|known\s+as|free|"
        r"unrestricted|unfiltered|uncensored|jailbroken|evil|in\s+\w+\s+mode|dan|going\s+to|"
        r"bound\s+by|required\s+to|allowed\s+to|my)\b"
        r"|\b(?:i\s+want\s+you\s+to|you\s+will\s+now|you\s+must\s+now)\s+(?:act|behave|pretend|"
        r"roleplay|role-play|play|be|respond)\b"
        r"|\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b"
        r"|\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:were|are)|though)\b",
        0.5,
    ),
    _rule(
        "jailbreak_marker",
        r"(?-i:\bDAN\b)|\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bjailbr(?:eak|oken)\b"
        r"|\bwithout\s+(?:any\s+)?(?:restrictions|limitations|filters|censorship|rules)\b"
        r"|\bno\s+(?:restrictions|limitations|filters|censorship|ethical\s+guidelines)\b"
        r"|\b(?:unfiltered|uncensored|amoral)\b|\bstay\s+in\s+character\b"
        r"|\bhypothetical\s+(?:response|scenario)\b.{0,80}\b(?:no|without)\s+(?:rules|limits)\b"
        r"|\bopposite\s+mode\b|\bevil\s+(?:confidant|mode|assistant)\b",
        0.7,
    ),
    _rule(
        "prompt_leak",
        rf"\b{_REVEAL_VERB}\b(?:\W+\w+){{0,3}}?\W+{_LEAK_TARGET}"
        r"|\bwhat\s+(?:is|was|are|were)\s+(?:your|the)\s+(?:system\s+prompt|initial\s+prompt|"
        r"original\s+instructions|instructions|rules|pre-?prompt)\b"
        r"|\b(?:everything|all|the\s+text)\s+(?:above|before)\s+(?:this|the)\s+(?:line|message)\b"
        r"|\bbegin\s+your\s+(?:reply|response|answer)\s+with\b"
        r"|\b(?:print|show|repeat|display|spell-?\s*check)\b.{0,40}\b(?:above|previous|this)\s+"
        r"(?:prompt|text|instructions|input)\b"
        r"|\bwritten\s+(?:at\s+the\s+beginning|above)\b",
        0.8,
    ),
    _rule("system_prompt_mention", r"\bsystem\s+prompt\b|\bprompt\s+injection\b", 0.35),
    _rule(
        "chat_template_token",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>"
        r"|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>"
        r"|^\s*#{2,}\s*(?:system|instruction|new instructions?)\s*:?\s*$",
        0.95,
    ),
    _rule(
        "fake_role_header",
        r"^\s*(?:assistant|ai|chatgpt|system\s+message|admin\s+override)\s*:\s*\S"
        r"|\[(?:system|admin)\s*(?:message|note|override)?\]",
        0.45,
    ),
    _rule(
        # Text addressed to a reading model: a passage claiming it answers the question.
        "answer_claim",
        r"\b(?:this|the\s+(?:following|above))\s+(?:passage|page|document|text|article|"
        r"section|paragraph)\s+(?:answers|contains\s+the\s+answer|states\s+the\s+answer|"
        r"is\s+the\s+answer)\b"
        r"|\bthe\s+answer\s+(?:to\s+(?:the|this|your|any|every)\s+question\s+)?is\s+"
        r"(?:stated|given|contained|written)\s+(?:in\s+this|here|above|below)\b",
        0.6,
    ),
    _rule(
        "access_granted",
        r"\b(?:say|print|output|respond\s+with|reply\s+with|write)\s+[\"'“]?access\s+granted\b",
        0.8,
    ),
    _rule(
        "foreign_override",
        # German, French, Spanish, Italian, Croatian/Bosnian forms of "ignore all instructions".
        r"\b(?:ignorier\w*|vergiss|vergessen\s+sie|missachte\w*)\b.{0,40}?"
        r"\b(?:anweisung\w*|befehl\w*|instruktion\w*|aufgabe\w*|vorgabe\w*|alles|regeln)\b"
        r"|\b(?:ignore[zr]?|oublie[zr]?)\b.{0,30}?\b(?:instructions|consignes|règles)\b"
        r"|\b(?:ignora|olvida|olvide)\b.{0,30}?\b(?:instrucciones|reglas|todo)\b"
        r"|\b(?:ignora|dimentica)\b.{0,30}?\b(?:istruzioni|regole|tutto)\b"
        r"|\b(?:zaboravi|ignoriraj)\b.{0,30}?\b(?:instrukcije|upute|sve)\b"
        r"|(?:забуд\w*|игнорир\w*).{0,30}?(?:инструкци\w*|правил\w*|вс[её])"
        r"|\b(?:nun|jetzt)\s+folgen\s+(?:neue|weitere)\s+(?:anweisungen|aufgaben)\b"
        r"|\b(?:alle|die)\s+(?:vorherigen|bisherigen|vorangegangenen|obigen)\s+"
        r"(?:informationen|angaben|aufgaben|aufträge|anweisungen|instruktionen|ausführungen)\b"
        r"|\bhöre?\s+nicht\s+auf\s+alles\b|\bneue\s+aufgabe\b"
        r"|\b(?:jetzt|nun)\s+bist\s+du\b|\bdu\s+bist\s+(?:jetzt|nun)\b"
        r"|\bstell\s+dir\s+vor,?\s+du\s+bist\b"
        r"|\bdass\s+sie\s+als\s+.{3,60}?\s+(?:fungieren|agieren|auftreten)\b",
        0.85,
    ),
)

_SCREEN_LOGIC = 2  # bump when `assess` decides differently with the same rules
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_ENCODED_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|instructions?|system\s+prompt|you\s+are|reveal|password|"
    r"access\s+granted|jailbreak)\b",
    re.IGNORECASE,
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


class InjectionScreen:
    """Heuristic prompt-injection screen. Stateless and thread-safe; build once, share."""

    def __init__(self, *, threshold: float = 0.5) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self._threshold = threshold
        rules = [
            [r.name, r.pattern.pattern, r.pattern.flags, r.weight, r.negatable] for r in _RULES
        ]
        described = [
            _SCREEN_LOGIC,
            threshold,
            rules,
            _BASE64_BLOB.pattern,
            _ENCODED_INSTRUCTION.pattern,
        ]
        self._fingerprint = hashlib.sha256(json.dumps(described).encode()).hexdigest()

    @property
    def fingerprint(self) -> str:
        """What a verdict depends on (rules, weights, threshold, this code's logic): verdicts
        stored under one fingerprint are reused only by a screen with the same one."""
        return self._fingerprint

    def assess(self, text: str) -> InjectionAssessment:
        normalised = _normalise(text)
        if not normalised.strip():
            return InjectionAssessment(suspected=False, score=0.0, reasons=())
        fired = [rule for rule in _RULES if _fires(rule, normalised)]
        reasons = [rule.name for rule in fired]
        weights = [rule.weight for rule in fired]
        if _has_encoded_instructions(normalised):
            reasons.append("encoded_instructions")
            weights.append(0.8)
        score = 1.0
        for weight in weights:
            score *= 1.0 - weight
        score = round(1.0 - score, 4)
        return InjectionAssessment(
            suspected=score >= self._threshold, score=score, reasons=tuple(reasons)
        )


def _fires(rule: _Rule, text: str) -> bool:
    """Whether `rule` matches; a negatable rule only where no negation ("never", "do not")
    precedes the match in its sentence."""
    for match in rule.pattern.finditer(text):
        if not rule.negatable:
            return True
        sentence_start = max(text.rfind(mark, 0, match.start()) for mark in ".!?;\n")
        if not _NEGATION.search(text[sentence_start + 1 : match.start()]):
            return True
    return False


def _normalise(text: str) -> str:
    """NFKC (full-width and styled letters to plain ones), zero-width characters removed."""
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)


def _has_encoded_instructions(text: str) -> bool:
    for blob in _BASE64_BLOB.findall(text):
        padded = blob + "=" * (-len(blob) % 4)
        try:
            decoded = base64.b64decode(padded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        printable = sum(ch.isprintable() or ch.isspace() for ch in decoded)
        if printable >= 0.9 * len(decoded) and _ENCODED_INSTRUCTION.search(decoded):
            return True
    return False
