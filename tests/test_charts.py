"""Report charts: Chinese labels drawn with a CJK font (no missing-glyph boxes), plain-text labels."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("matplotlib")
from reviewops.reporting import charts

CJK_INSTALLED = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").is_file()


def _draw(fig) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for boxes
        return charts.png(fig)


@pytest.mark.skipif(not CJK_INSTALLED and not os.environ.get("CI"), reason="fonts-noto-cjk not installed")
def test_cjk_font_chosen_and_every_glyph_present():
    assert charts.use_cjk_font() in ("Noto Sans CJK SC", "Noto Sans CJK JP")
    trend = pd.DataFrame({"week": ["2026-W46", "2026-W47"], "negative": [3, 5], "rate": [0.03, None]})
    data = _draw(charts.trend_figure(trend))
    assert data.startswith(b"\x89PNG") and len(data) > 5000


def test_bar_labels_are_text_not_math():
    # a SKU with $…$ would be typeset as mathtext (or fail) if parse_math were on
    fig = charts.bar_figure(["A款 $x^2$ 尺码", "B" * 40], [3, 1], title="涉及商品", unit="条")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "A款 $x^2$ 尺码" in labels and any(t.endswith("…") and len(t) == 18 for t in labels)
    assert _draw(fig).startswith(b"\x89PNG")


def test_report_tables_escape_every_cell_and_drop_the_index():
    from reviewops.core.outputs import html_table

    df = pd.DataFrame({"评价": ["<script>x()</script>", None, "a&b"], "数量": [1, 2, 3], "率": [0.5, float("nan"), 1.0]})
    out = html_table(df)
    assert "<script>" not in out and "&lt;script&gt;x()&lt;/script&gt;" in out and "a&amp;b" in out
    assert out.count("<tr>") == 4 and "<th>评价</th><th>数量</th><th>率</th>" in out  # no index column
    assert '<td class="ro-num">2</td><td class="ro-num"></td>' in out  # NaN shown empty, numbers right-aligned
    cut = html_table(pd.DataFrame({"n": range(10)}), max_rows=3)
    assert cut.count("<tr>") == 4 and "共 10 行" in cut
