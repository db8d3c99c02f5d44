"""The sentence and labels of a systemic issue's card."""

from __future__ import annotations

from bot.systemic.text import COMPLAINT_RATIO, format_rate, format_window, label, summary


def test_summary_of_detractors_about_a_topic_at_a_location() -> None:
    assert summary(
        count=5, detractors=True, dimension="topic", value="delivery late", location="042",
        window_seconds=7200, baseline_per_window=0.2,
    ) == (
        "5 detractors mention *delivery late* at location 042 in the last 2 h (baseline 0.2 per 2 h)"
        " — about 125 customers affected (1 in 25 complain)"
    )


def test_summary_says_customers_without_history() -> None:
    text = summary(count=4, detractors=False, dimension="topic", value="group:legal", location=None,
                   window_seconds=1800, baseline_per_window=None)
    assert text == ("4 customers mention *legal threats* in the last 30 min (no history yet)"
                    " — about 100 customers affected (1 in 25 complain)")


def test_summary_of_a_location_does_not_repeat_it() -> None:
    text = summary(count=3, detractors=True, dimension="location", value="042", location="042",
                   window_seconds=86400, baseline_per_window=0.0015)
    assert text.startswith("3 detractors at location 042 in the last 1 d (baseline 0.002 per 1 d)")
    assert f"about {3 * COMPLAINT_RATIO} customers" in text


def test_summary_keeps_markup_out_of_values() -> None:
    text = summary(count=3, detractors=True, dimension="employee", value="*Anna* <@U1>", location="`7`",
                   window_seconds=5400, baseline_per_window=12.3)
    assert text.startswith("3 detractors served by Anna @U1 at location 7 in the last 1 h 30 min (baseline")
    assert "*" not in text.split("—")[0] and "<" not in text and "`" not in text


def test_labels() -> None:
    assert label("location", "042") == "location 042"
    assert label("topic", "delivery late") == "“delivery late”"
    assert label("topic", "group:legal") == "legal threats"
    assert label("topic", "group:worst") == "“worst”"
    assert label("product", "Menu *A*") == "product Menu A"


def test_windows_and_rates_read_well() -> None:
    assert [format_window(s) for s in (7200, 1800, 86400, 5400, 45, 0)] == [
        "2 h", "30 min", "1 d", "1 h 30 min", "45 s", "0 s"]
    assert [format_rate(v) for v in (0.2, 0.0015, 0.123, 1.0, 3.45, 12.6, 0.0)] == [
        "0.2", "0.002", "0.12", "1", "3.5", "13", "0"]
