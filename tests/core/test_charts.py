"""Geometry of the SVG bar charts (psa.core.charts), worked out by hand.

With width 600 the plot runs from the label gutter (160) to width − the value gutter (600 − 90 = 510): 350 units.
"""

from decimal import Decimal

from psa.core.charts import GAP, LABEL_GUTTER, TOP, VALUE_GUTTER, bar_chart

PLOT = 600 - LABEL_GUTTER - VALUE_GUTTER  # 350


def test_bars_scale_to_the_maximum_within_the_gutters():
    chart = bar_chart([("Ann", 50), ("Bob", 100)], max_value=100, width=600)
    assert (LABEL_GUTTER, VALUE_GUTTER, PLOT) == (160, 90, 350)
    assert chart.left == 160 and chart.right == 510 and chart.zero_x == 160
    ann, bob = chart.bars
    assert (ann.x, ann.width) == (160, 175)  # 50 / 100 × 350
    assert (bob.x, bob.width) == (160, 350)
    assert (ann.y, bob.y) == (TOP, TOP + 18 + GAP)
    assert ann.height == 18 and ann.label == "Ann" and ann.value_text == "50"
    assert chart.target_x is None
    assert not chart.empty
    assert [t.label for t in chart.ticks] == ["0", "20", "40", "60", "80", "100"]
    assert [t.x for t in chart.ticks] == [160, 230, 300, 370, 440, 510]


def test_the_target_line_sits_at_its_value():
    chart = bar_chart([("Ann", Decimal("50")), ("Bob", Decimal("100"))], target=Decimal("75"), max_value=100,
                      width=600)
    assert chart.target_x == 160 + 262.5  # 75 / 100 × 350


def test_the_maximum_is_the_largest_of_values_target_and_max_value():
    # 120 % of utilization against max 100: the axis runs to 120.
    chart = bar_chart([("Ann", 60), ("Bob", 120)], target=80, max_value=100, width=600)
    assert chart.bars[1].width == 350 and chart.bars[0].width == 175
    assert chart.target_x == round(160 + 80 / 120 * 350, 1)
    # A target above every value stretches the axis to it.
    chart = bar_chart([("Ann", 50)], target=200, width=600)
    assert chart.bars[0].width == 87.5 and chart.target_x == 510


def test_negative_values_go_left_of_the_zero_axis():
    # Axis from −100 to 300: 400 units over 350, zero at 160 + 100 × 350 / 400 = 247.5.
    chart = bar_chart([("Loss", -100), ("Gain", 300), ("Flat", 0)], width=600, value_text=lambda v: f"{v:+}")
    loss, gain, flat = chart.bars
    assert chart.zero_x == 247.5
    assert (loss.x, loss.width, loss.negative) == (160, 87.5, True)
    assert (gain.x, gain.width, gain.negative) == (247.5, 262.5, False)
    assert (flat.x, flat.width) == (247.5, 0)
    assert loss.value_text == "-100" and gain.value_text == "+300"
    assert chart.ticks[0].x == 160 and chart.ticks[0].label == "-100"
    assert any(t.x == 247.5 and t.label == "0" for t in chart.ticks)


def test_all_negative_values_end_at_zero_on_the_right():
    chart = bar_chart([("A", -50), ("B", -100)], width=600)
    assert chart.zero_x == 510
    assert (chart.bars[0].x, chart.bars[0].width) == (335, 175)
    assert (chart.bars[1].x, chart.bars[1].width) == (160, 350)


def test_marks_are_the_outer_end_of_the_bar_and_never_longer():
    chart = bar_chart([("May", 100), ("Jun", 40), ("Jul", 0)], marks=[25, 80, None], width=600)
    may, jun, jul = chart.bars
    assert (may.width, may.mark_x, may.mark_width) == (350, 422.5, 87.5)
    assert (jun.width, jun.mark_x, jun.mark_width) == (140, 160, 140)  # capped at the bar
    assert jul.mark_width == 0 and jul.mark_text == ""
    assert may.mark_text == "25"


def test_none_draws_no_bar_and_says_so():
    chart = bar_chart([("Zed", None), ("Ann", 50)], max_value=100, width=600)
    assert chart.bars[0].width == 0 and chart.bars[0].value_text == "—"


def test_empty_list_and_all_zero_are_empty():
    chart = bar_chart([], width=600)
    assert chart.empty and chart.bars == []
    assert chart.height > 0 and chart.ticks  # still a sane geometry
    assert bar_chart([("A", 0), ("B", None)]).empty


def test_height_grows_with_the_rows_and_long_labels_are_cut():
    one = bar_chart([("A", 1)])
    three = bar_chart([("A", 1), ("B", 2), ("C" * 40, 3)])
    assert three.height - one.height == 2 * (18 + GAP)
    assert three.bars[2].label_text == "C" * 23 + "…" and three.bars[2].label == "C" * 40
    assert one.width == 640
