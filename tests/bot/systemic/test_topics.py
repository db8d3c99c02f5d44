"""Topics of a comment: folding, stop words in six languages, phrases, alarming-word groups, order, cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import DEFAULT_ALARMING_WORDS
from bot.systemic.stopwords import STOP_WORDS
from bot.systemic.topics import GROUP_PREFIX, MAX_TOPICS, group_of, normalize, topics

WORDS = DEFAULT_ALARMING_WORDS


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize("Très  EN-retard!!") == "tres en retard"
    assert normalize("Straße, Ærø; São Paulo") == "strasse ærø sao paulo"
    assert normalize("l'avocat d’abord, don't") == "l avocat d abord dont"
    assert normalize("snake_case ＦＵＬＬ") == "snake case full"
    assert normalize("00𝘼 𝐃𝐄𝐋𝐀𝐘") == "00a delay"  # styled letters fold to plain lower case (hypothesis)


def test_french_comment_folds_accents_and_drops_stop_words() -> None:
    found = topics("Livraison très en retard", alarming_words=WORDS)
    assert found == ["livraison retard", "livraison", "retard"]


def test_english_phrase_skips_stop_words_and_orders_its_two_words() -> None:
    assert "delivery late" in topics("The delivery was late", alarming_words=WORDS)
    assert "delivery late" in topics("Late delivery again", alarming_words=WORDS)


def test_stop_words_removed_in_each_language() -> None:
    comments = {
        "en": "The food was not very good and it was cold",
        "fr": "Le repas était vraiment froid et pas du tout bon",
        "de": "Das Essen war sehr kalt und nicht gut",
        "es": "La comida estaba muy fría y no era buena",
        "nl": "Het eten was erg koud en niet lekker",
        "pt": "A comida estava muito fria e não era boa",
    }
    for language, comment in comments.items():
        words = [topic for topic in topics(comment, alarming_words=WORDS) if " " not in topic]
        assert words, language
        assert not set(words) & STOP_WORDS, language
    assert topics("Das Essen war sehr kalt", alarming_words=WORDS) == ["essen kalt", "essen", "kalt"]


def test_punctuation_breaks_phrases() -> None:
    found = topics("Delivery late. Staff helpful", alarming_words=WORDS)
    assert "delivery late" in found and "helpful staff" in found
    assert "late staff" not in found


def test_short_words_digits_and_repeats_are_not_topics() -> None:
    found = topics("TV 42 1234 broken broken, 42nd floor", alarming_words=WORDS)
    assert found == ["42nd floor", "broken", "42nd", "floor"]


def test_alarming_words_in_several_languages_give_one_group() -> None:
    for comment in ("I will call my lawyer", "Mon avocat vous contactera", "Mein Anwalt meldet sich",
                    "Mi abogado", "Meu advogado", "Mijn advocaat", "Going to the ombudsman"):
        assert topics(comment, alarming_words=WORDS)[0] == "group:legal", comment


def test_groups_come_first_sorted_and_their_words_are_not_repeated() -> None:
    found = topics("Rude staff, I want a refund or my lawyer will sue", alarming_words=WORDS)
    assert found[:3] == ["group:legal", "group:refund", "group:rude"]
    assert "refund" not in found and "lawyer" not in found and "rude" not in found
    assert "rude staff" in found  # half alarming: still a phrase worth counting


def test_alarming_word_outside_any_group_is_its_own_group() -> None:
    assert topics("The worst evening", alarming_words=WORDS)[0] == "group:worst"
    assert topics("Data breach!", alarming_words=["data breach"]) == ["group:data breach"]
    assert group_of("Kündigung") == "group:kundigung"
    assert group_of("kündig") == "group:cancel"


def test_alarming_words_match_word_starts_only() -> None:
    assert "group:legal" not in topics("They pursue quality", alarming_words=WORDS)


def test_empty_comments_have_no_topics() -> None:
    assert topics(None, alarming_words=WORDS) == []
    assert topics("  ", alarming_words=WORDS) == []
    assert topics("!!! ...", alarming_words=WORDS) == []


def test_at_most_max_topics_groups_then_phrases_then_words() -> None:
    long = " ".join(f"word{chr(97 + i)}{chr(97 + j)}" for i in range(6) for j in range(6)) + " refund"
    found = topics(long, alarming_words=WORDS)
    assert len(found) == MAX_TOPICS
    assert found[0] == "group:refund" and " " in found[1] and " " in found[-1]


PIECES = st.one_of(
    st.text(alphabet="abcdeéèçñüß ÆØ.,;'!?-_0123456789 ", max_size=12),
    st.sampled_from(["refund ", "Lawyer ", "the ", "très ", "nie wieder", "late delivery. "]),
    st.text(max_size=6),  # anything, including scripts without spaces
)
COMMENTS = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=150, deadline=None)
@given(COMMENTS)
def test_topics_are_deterministic_unique_normalized_and_capped(comment: str) -> None:
    found = topics(comment, alarming_words=WORDS)
    assert found == topics(comment, alarming_words=WORDS)
    assert len(found) == len(set(found)) <= MAX_TOPICS
    groups = [topic for topic in found if topic.startswith(GROUP_PREFIX)]
    assert found[: len(groups)] == groups == sorted(groups)
    for topic in found[len(groups):]:
        assert normalize(topic) == topic
        assert 1 <= topic.count(" ") + 1 <= 2
        assert all(len(part) >= 3 and not part.isdigit() and part not in STOP_WORDS for part in topic.split())
    phrases = [topic for topic in found[len(groups):] if " " in topic]
    assert found[len(groups): len(groups) + len(phrases)] == phrases
