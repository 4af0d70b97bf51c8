"""The chart geometry (helpdesk/charts.py): every mark inside the plot, heights in proportion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helpdesk.charts import Series, bar_chart, line_chart, nice_top


def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value():
    assert [nice_top(v) for v in (0, 0.4, 1, 7, 12, 240, 999, 1001)] == [1, 0.5, 1, 10, 20, 250, 1000, 2000]


values = st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=1, max_size=24)


@given(st.lists(values, min_size=1, max_size=4))
def test_bars_stay_inside_the_plot_and_are_as_tall_as_their_values(columns):
    length = max(len(c) for c in columns)
    groups = [f"m{i}" for i in range(length)]
    chart = bar_chart(groups, [Series(f"s{i}", c) for i, c in enumerate(columns)], str)
    drawn = sum(v is not None for c in columns for v in c)
    assert len(chart["bars"]) == drawn
    scale = (chart["bottom"] - chart["top"]) / nice_top(max((v or 0) for c in columns for v in c))
    for bar in chart["bars"]:
        assert chart["left"] <= bar["x"] and bar["x"] + bar["w"] <= chart["right"] + 0.5
        assert chart["top"] <= bar["y"] <= chart["bottom"] and abs(bar["y"] + bar["h"] - chart["bottom"]) <= 0.2
        value = columns[bar["series"]][groups.index(bar["title"].split(" · ")[0])]
        assert abs(bar["h"] - value * scale) <= 0.2
    assert len(chart["labels"]) <= 12  # never more axis labels than fit


@given(values)
def test_a_line_has_a_point_per_known_value_and_ends_inside_the_plot(column):
    chart = line_chart([f"w{i}" for i in range(len(column))], [Series("open", column)], str)
    points = chart["series"][0]["points"]
    assert len(points) == sum(v is not None for v in column)
    for p in points:
        assert chart["left"] <= p["x"] <= chart["right"] and chart["top"] <= p["y"] <= chart["bottom"]
    # the last label keeps room for its second half inside the drawing (it used to be cut off)
    assert chart["right"] + 24 <= chart["width"]
