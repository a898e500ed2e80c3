"""The extractive composer's answer shape, on small documents built like the sample KB's pages.

Reproduces the shipped demo's password-reset answer ("Choose a new password that follows the
rules above. [1] I forgot my password. [2] Reset it yourself at … [3] This page explains the
password rules … [4]"): a step out of context, an FAQ's question line, the answer third and a
sentence about the page. Real embedding model, real sentence cutting.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agent.answer_shape import (
    asks_how,
    is_addition,
    is_page_description,
    procedure_runs,
    resolve_reference,
)
from agent.evidence import SentenceIndex
from agent.extractive import ExtractiveComposer, missing_cue
from agent.types import Evidence
from retrieval.embedding.embedder import Embedder
from retrieval.records import ChunkRecord

TITLE = "Password reset and account lockout"
INTRO = (
    "Your Northwind account signs you in to your laptop, Microsoft 365 and every other single "
    "sign-on application. This page explains the password rules, how to reset a forgotten "
    "password and what to do if your account is locked.\n"
)
RULES = (
    "## Password rules\n\n"
    "- At least **14 characters**. We recommend a passphrase of four or more unrelated words.\n"
    "- You cannot reuse any of your last **12** passwords.\n"
)
STEPS = (
    "## Resetting a forgotten password (self-service)\n\n"
    "1. Go to `https://password.northwind-labs.example` from any browser.\n"
    "2. Enter your Northwind email address.\n"
    "3. Confirm your identity with multi-factor authentication: approve the Okta Verify push.\n"
    "4. Choose a new password that follows the rules above.\n"
    "5. On a Mac, sign out and back in to use the new password.\n"
)
FAQ = (
    "I forgot my password. What do I do?\n\n"
    "Reset it yourself at https://password.northwind-labs.example using your MFA method. "
    "Passwords need at least 14 characters.\n"
)
QUESTION = "How do I reset my password?"


def _chunk(
    text: str, *, chunk_id: str, document: str, headings: tuple[str, ...], start: int
) -> ChunkRecord:
    return ChunkRecord(
        chunk_id=chunk_id,
        document_id=document,
        source_id="it-kb",
        title=headings[0],
        heading_path=headings,
        uri=f"file:///{document}",
        start=start,
        end=start + len(text),
        text=text,
        content_hash=chunk_id,
        document_version="v1",
        read=("group:all-staff",),
        deny=(),
        doc_type="md",
        ordinal=start,
    )


PAGE = "it-kb:password-reset-and-account-lockout.md"
INTRO_CHUNK = _chunk(INTRO, chunk_id="intro", document=PAGE, headings=(TITLE,), start=0)
RULES_CHUNK = _chunk(
    RULES, chunk_id="rules", document=PAGE, headings=(TITLE, "Password rules"), start=400
)
STEPS_CHUNK = _chunk(
    STEPS,
    chunk_id="steps",
    document=PAGE,
    headings=(TITLE, "Resetting a forgotten password (self-service)"),
    start=800,
)
FAQ_CHUNK = _chunk(
    FAQ,
    chunk_id="faq",
    document="it-kb:it-faq.html",
    headings=("IT frequently asked questions", "I forgot my password. What do I do?"),
    start=0,
)


def _evidence(*chunks: ChunkRecord) -> list[Evidence]:
    return [Evidence(number=n, chunk=c, score=0.7) for n, c in enumerate(chunks, 1)]


@pytest.fixture(scope="module")
def sentences(embedder: Embedder) -> SentenceIndex:
    return SentenceIndex(embedder=embedder)


@pytest.fixture(scope="module")
def composer(embedder: Embedder) -> ExtractiveComposer:
    return ExtractiveComposer(embedder=embedder)


def _answer(
    composer: ExtractiveComposer, sentences: SentenceIndex, question: str, *chunks: ChunkRecord
) -> list[str]:
    pool = sentences.pool(_evidence(*chunks))
    return [s.text for s in composer.compose(question, pool).sentences]


def test_the_password_reset_answer_leads_with_the_reset_and_keeps_the_steps_in_order(
    composer: ExtractiveComposer,
    sentences: SentenceIndex,
) -> None:
    answer = _answer(composer, sentences, QUESTION, STEPS_CHUNK, FAQ_CHUNK, INTRO_CHUNK)
    # It leads with the reset: the FAQ's answer or the procedure's first step (the reset page).
    assert "https://password.northwind-labs.example" in answer[0]
    # No question line, no sentence about the page.
    assert not any(s.startswith("I forgot my password") or s.endswith("?") for s in answer)
    assert not any(s.startswith("This page") for s in answer)
    # "the rules above" cannot be resolved here (the rules are not in the evidence): dropped.
    assert not any("rules above" in s for s in answer)
    # Every other step, once each, in document order.
    steps = [
        "Go to https://password.northwind-labs.example from any browser.",
        "Enter your Northwind email address.",
        "Confirm your identity with multi-factor authentication: approve the Okta Verify push.",
        "On a Mac, sign out and back in to use the new password.",
    ]
    assert [s for s in answer if s in steps] == steps


def test_a_step_pointing_to_the_rules_above_comes_with_the_rules(
    composer: ExtractiveComposer,
    sentences: SentenceIndex,
) -> None:
    answer = _answer(composer, sentences, QUESTION, STEPS_CHUNK, RULES_CHUNK, FAQ_CHUNK)
    step = "Choose a new password that follows the rules above."
    assert step in answer
    after = answer[answer.index(step) + 1 :]
    assert "At least 14 characters." in after
    assert "You cannot reuse any of your last 12 passwords." in after
    assert answer.index("Enter your Northwind email address.") < answer.index(step)


def test_sentences_that_describe_the_page_are_never_quoted(
    composer: ExtractiveComposer,
    sentences: SentenceIndex,
) -> None:
    answer = _answer(
        composer, sentences, "What does the password page explain?", INTRO_CHUNK, RULES_CHUNK
    )
    assert answer and not any(is_page_description(s) for s in answer)
    assert is_page_description("This document describes how to request a laptop.")
    assert not is_page_description("This laptop describes a full circle when opened.")


def test_a_sentence_announcing_text_that_is_not_there_is_dropped(
    composer: ExtractiveComposer,
    sentences: SentenceIndex,
) -> None:
    text = (
        "Approvals are routed automatically in ProcureDesk, as follows:\n\n"
        "Purchases over $10,000 need the department head's approval in ProcureDesk.\n"
    )
    cut = _chunk(text[:63], chunk_id="cut", document="fin:po.md", headings=("POs",), start=0)
    answer = _answer(
        composer, sentences, "Who approves purchase orders in ProcureDesk?", cut, FAQ_CHUNK
    )
    assert not any(s.endswith("as follows:") for s in answer)
    whole = _chunk(text, chunk_id="whole", document="fin:po.md", headings=("POs",), start=0)
    answer = _answer(composer, sentences, "Who approves purchase orders in ProcureDesk?", whole)
    announcing = "Approvals are routed automatically in ProcureDesk, as follows:"
    if announcing in answer:  # kept only with what it announces, right after it
        assert answer[answer.index(announcing) + 1].startswith("Purchases over $10,000")


def test_references_resolve_within_the_pool_or_not_at_all(embedder: Embedder) -> None:
    pool = SentenceIndex(embedder=embedder).pool(_evidence(STEPS_CHUNK, RULES_CHUNK))
    texts = [u.display for u in pool.sentences]
    step = texts.index("Choose a new password that follows the rules above.")
    referent = resolve_reference(pool, step)
    assert referent is not None
    assert texts[referent[0]] == "At least 14 characters."
    assert resolve_reference(pool, texts.index("Enter your Northwind email address.")) == ()
    alone = SentenceIndex(embedder=embedder).pool(_evidence(STEPS_CHUNK))
    texts = [u.display for u in alone.sentences]
    assert resolve_reference(alone, texts.index(pool.sentences[step].display)) is None


def test_a_label_line_or_a_list_starting_again_ends_a_procedure(embedder: Embedder) -> None:
    text = (
        "**Windows**\n\n1. Open Software Center from the Start menu.\n"
        "2. Search for NW Connect and click Install.\n\n**macOS**\n\n"
        "1. Open Self Service from the Applications folder.\n"
        "2. Find NW Connect under Featured and click Install.\n"
    )
    chunk = _chunk(text, chunk_id="vpn", document="it:vpn.md", headings=("VPN",), start=0)
    pool = SentenceIndex(embedder=embedder).pool(_evidence(chunk))
    runs = set(procedure_runs(pool).values())
    assert runs == {(0, 1), (2, 3)}


@pytest.mark.parametrize(
    ("question", "how"),
    [
        ("How do I reset my password?", True),
        ("What are the steps to fail over a VPN gateway?", True),
        ("I lost my badge. What should I do?", True),
        ("How long are backups kept?", False),
        ("How many days of leave do I get?", False),
    ],
)
def test_questions_asking_how(question: str, how: bool) -> None:
    assert asks_how(question) is how


def test_answer_scores_choose_the_lead_among_comparably_relevant_sentences(
    embedder: Embedder,
) -> None:
    asked: list[Sequence[str]] = []

    def reader(question: str, texts: Sequence[str]) -> list[float]:
        """Prefers the second most relevant candidate (they come most relevant first)."""
        asked.append(texts)
        return [0.9 if i == 1 else 0.1 for i in range(len(texts))]

    question = "Where can I reset my password?"
    pool = SentenceIndex(embedder=embedder).pool(_evidence(FAQ_CHUNK, STEPS_CHUNK))
    plain = ExtractiveComposer(embedder=embedder).compose(question, pool)
    read = ExtractiveComposer(embedder=embedder, answer_scores=reader).compose(question, pool)
    assert len(asked) == 1 and 2 <= len(asked[0]) <= 8
    assert plain.sentences[0].text == asked[0][0]
    assert read.sentences[0].text == asked[0][1]


def test_a_question_asking_for_an_amount_is_led_by_a_sentence_that_states_one(
    embedder: Embedder,
) -> None:
    """Among comparably relevant sentences, the one giving the duration leads (the sample KB's
    lost-laptop answer led with the encryption sentence, the deadline second)."""
    text = (
        "Laptops are encrypted, so a lost laptop is a low-risk event, but only if you report it "
        "quickly.\n\nLost and stolen laptops must be reported to the Security hotline within "
        "1 hour.\n"
    )
    chunk = _chunk(
        text, chunk_id="lost", document="it:lost-device.txt", headings=("Lost device",), start=0
    )
    pool = SentenceIndex(embedder=embedder).pool(_evidence(chunk))
    composer = ExtractiveComposer(embedder=embedder)
    lead = composer.compose("How quickly must I report a lost laptop?", pool).sentences[0]
    assert "within 1 hour" in lead.text


def test_a_question_naming_a_platform_gets_that_platforms_steps(embedder: Embedder) -> None:
    """The sample KB's Mac VPN answer led with the Windows steps: the "**macOS**" label line
    above a list frames its items."""
    text = (
        "## Installing the client\n\nNW Connect is pre-installed on new laptops. If it is "
        "missing:\n\n**Windows**\n\n1. Open **Software Center** from the Start menu.\n"
        "2. Search for *NW Connect* and click **Install**.\n3. Restart when prompted.\n\n"
        "**macOS**\n\n1. Open **Self Service** from the Applications folder.\n"
        "2. Find *NW Connect* under **Featured** and click **Install**.\n"
    )
    chunk = _chunk(
        text,
        chunk_id="install",
        document="it:vpn-setup.md",
        headings=("Setting up the NW Connect VPN", "Installing the client"),
        start=0,
    )
    pool = SentenceIndex(embedder=embedder).pool(_evidence(chunk))
    answer = ExtractiveComposer(embedder=embedder).compose(
        "How do I install the VPN on my Mac?", pool
    )
    texts = [c.text for c in answer.sentences]
    assert texts[:2] == [
        "Open Self Service from the Applications folder.",
        "Find NW Connect under Featured and click Install.",
    ]
    assert not any("Software Center" in t for t in texts)


CHECKLIST = (
    "## First week\n\n"
    "{m1} Add the `NW-FollowMe` printer and print a test page (see *Printing at the office*).\n"
    "{m2} Ask your manager which Northwind Drive team sites you need and request access "
    "through **IT → Access request**.\n"
    "{m3} Install any extra software your role needs from Software Center or Self Service.\n"
)
PRINTING_RULE = "Use FollowMe printing so that documents are never left in printer trays.\n"


def _printing_answer(
    composer: ExtractiveComposer, sentences: SentenceIndex, markers: tuple[str, str, str]
) -> list[str]:
    checklist = CHECKLIST.format(m1=markers[0], m2=markers[1], m3=markers[2])
    chunks = (
        _chunk(
            PRINTING_RULE,
            chunk_id="aup",
            document="policies:acceptable-use.md",
            headings=("Acceptable use policy", "Printing"),
            start=0,
        ),
        _chunk(
            checklist,
            chunk_id="week",
            document="it:new-starter-it-checklist.md",
            headings=("New starter IT checklist", "First week"),
            start=0,
        ),
    )
    return _answer(composer, sentences, "How do I print a document at the office?", *chunks)


def test_a_supporting_steps_checklist_does_not_bring_its_unrelated_items(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """The sample KB's printing answer quoted a new starter's whole first-week checklist ("Ask
    your manager which Northwind Drive team sites you need", "Install any extra software")
    because one of its bullets is about the printer. A bulleted list is not a procedure: only
    its items that are relevant come with the one chosen."""
    texts = _printing_answer(composer, sentences, ("-", "-", "-"))
    assert any("NW-FollowMe printer" in t for t in texts)
    assert not any("team sites" in t or "extra software" in t for t in texts)


def test_a_supporting_steps_numbered_procedure_stays_whole(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """A numbered list is a procedure: its steps come together, the less relevant ones too."""
    texts = _printing_answer(composer, sentences, ("1.", "2.", "3."))
    step = next(i for i, t in enumerate(texts) if "NW-FollowMe printer" in t)
    assert "team sites" in texts[step + 1]
    assert "extra software" in texts[step + 2]


def test_a_short_paragraph_quoted_twice_is_quoted_whole(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """The sample KB's visitor page answered "Which Wi-Fi network can visitors use?" with two
    sentences of its three-sentence Wi-Fi paragraph and left out the one naming the network."""
    text = (
        "## Wi-Fi\n\nConnect to **NW-Guest**. Today's access code is printed on your visitor "
        "badge and shown on the screens\nat reception. Guest Wi-Fi gives internet access only.\n"
    )
    chunk = _chunk(
        text,
        chunk_id="visit",
        document="facilities:visitor-information.md",
        headings=("Visitor information", "Wi-Fi"),
        start=0,
    )
    texts = _answer(composer, sentences, "Which Wi-Fi network can visitors use?", chunk)
    assert "Connect to NW-Guest." in texts
    assert len(texts) == 3


@pytest.mark.parametrize(
    ("question", "text", "missing"),
    [
        # an amount per something is stated only with that rate
        ("How many colour pages may I print per month?", "Runs of over 500 pages go out.", True),
        ("How many colour pages may I print per month?", "Print 200 colour pages a month.", False),
        ("How many colour pages may I print per month?", "Quota: 200 pages monthly.", False),
        ("How much does catering cost per person?", "Catering is $20 per person.", False),
        ("How much does catering cost per person?", "A buffet for 40 costs $800.", True),
        ("How many days of leave do I get per year?", "You get 25 days of annual leave.", False),
        # "an employee" names someone, not a rate
        ("How long is a PIP for an employee in probation?", "It lasts 30 calendar days.", False),
        # no amount asked for, or none stated at all
        ("Which printer should I use?", "Use FollowMe printing.", False),
        ("How many colour pages may I print?", "Colour is charged to your cost centre.", True),
    ],
)
def test_missing_cue_wants_the_rate_an_amount_is_asked_per(
    question: str, text: str, missing: bool
) -> None:
    assert missing_cue(question, text) is missing


def test_a_page_named_by_the_answer_gives_its_most_relevant_sentence(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """The sample KB's lost-laptop answer said "reported to the Security hotline within 1 hour
    (see Lost or stolen device)" and stopped: the page it names, in the evidence, has the
    number to call."""
    laptops = _chunk(
        "Lost and stolen laptops must be reported to the Security hotline within 1 hour (see "
        "*Lost or stolen device*). Accidental damage is repaired free of charge.\n",
        chunk_id="laptops",
        document="it:laptop-requests.md",
        headings=("Laptop requests and refresh", "Damage and loss"),
        start=0,
    )
    lost = _chunk(
        "Laptops are encrypted, so a lost laptop that was switched off or locked is a low-risk "
        "event - but only if it is reported quickly.\n\nCall the Security hotline on +1 503 555 "
        "0170 (24 hours a day) as soon as you notice the loss.\n\nLost and found is at the "
        "Security desk in the lobby.\n",
        chunk_id="lost",
        document="it:lost-or-stolen-device.txt",
        headings=("LOST OR STOLEN DEVICE - WHAT TO DO",),
        start=0,
    )
    texts = _answer(
        composer, sentences, "How quickly must I report a lost laptop, and to whom?", laptops, lost
    )
    assert any("within 1 hour (see Lost or stolen device)" in t for t in texts), texts
    assert any("555 0170" in t for t in texts), texts


PAYROLL = (
    "## Rules\n\n"
    "- Overtime approved by the cut-off is paid on the next payday.\n"
    "- Annual bonuses are paid with the **31 March 2026** payroll.\n\n"
    "## 2026 pay dates\n\n"
    "| Month | First payday | Second payday |\n"
    "|---|---|---|\n"
    "| January | Thursday 15 January | Friday 30 January |\n"
    "| February | Friday 13 February | Friday 27 February |\n"
    "| March | Friday 13 March | Tuesday 31 March |\n"
    "| April | Wednesday 15 April | Thursday 30 April |\n"
)


def test_the_table_row_a_question_names_by_its_label_is_in_the_answer(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """The sample KB's payroll calendar answered "On which dates is salary paid in March 2026?"
    with the bonus sentence alone ("paid", "31 March 2026"): the March row, which holds both
    dates, ranked below it and out of the supporting margin."""
    chunk = _chunk(
        PAYROLL,
        chunk_id="pay",
        document="finance:payroll-calendar-2026.md",
        headings=("Payroll calendar 2026",),
        start=0,
    )
    texts = _answer(composer, sentences, "On which dates is salary paid in March 2026?", chunk)
    rows = [t for t in texts if t.startswith("Month:")]
    assert rows == ["Month: March; First payday: Friday 13 March; Second payday: Tuesday 31 March"]
    # A row already chosen is not repeated, and a question naming no row's label adds none.
    texts = _answer(composer, sentences, "When is the second payday in February?", chunk)
    assert [t for t in texts if t.startswith("Month:")][:1] == [
        "Month: February; First payday: Friday 13 February; Second payday: Friday 27 February"
    ]
    assert len([t for t in texts if "February" in t]) == 1
    texts = _answer(composer, sentences, "When are annual bonuses paid?", chunk)
    assert not any(t.startswith("Month:") for t in texts), texts


BOOKING = (
    "## How to book\n\n"
    "1. In Outlook, create a meeting and click **Room Finder** (Windows) or **Add room** (Mac "
    "and web).\n"
    "2. Choose a building and floor, pick a free room and send the invitation.\n"
    "3. The room accepts or declines automatically within a minute.\n\n"
    "You can also book on the panel at the door for a meeting starting now.\n"
)


def test_a_sentence_that_adds_to_the_procedure_does_not_lead_it(
    composer: ExtractiveComposer, sentences: SentenceIndex
) -> None:
    """The sample KB's meeting-room answer began "You can also book on the panel at the door"
    (relevance 0.872 against the first step's 0.844): an addition to what it does not say."""
    chunk = _chunk(
        BOOKING,
        chunk_id="book",
        document="facilities:meeting-room-booking.md",
        headings=("Booking meeting rooms", "How to book"),
        start=0,
    )
    texts = _answer(composer, sentences, "How do I book a meeting room?", chunk)
    assert texts[0].startswith("In Outlook, create a meeting"), texts
    assert any(t.startswith("You can also book on the panel") for t in texts), texts


@pytest.mark.parametrize(
    ("text", "addition"),
    [
        ("You can also book on the panel at the door.", True),
        ("Also, bring your badge.", True),
        ("Staff may also use the side entrance.", True),
        ("It is also known as the Sirocco room.", False),  # a fact, not an addition
        ("Book rooms in Outlook.", False),
    ],
)
def test_is_addition(text: str, addition: bool) -> None:
    assert is_addition(text) is addition
