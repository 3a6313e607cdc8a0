"""plots.spend: what each prompt or parameter value cost, refunds of failed tasks beside it."""

import numpy as np
import pandas as pd
import pytest

from mjnb import plots


def money_frame():
    return pd.DataFrame({
        "prompt": ["a fox", "a fox", "a fox", "a city", "a city", "a moon"],
        "stylize": pd.array([50, 250, 50, 250, 50, 50], dtype="Int64"),
        "status": ["SUCCESS", "FAILURE", "SUCCESS", "SUCCESS", "IN_PROGRESS", "SUCCESS"],
        "price": [0.1, 0.1, 0.1, 0.1, 0.1, np.nan],
        "cost": [0.1, 0.0, 0.1, 0.1, 0.1, np.nan],
    })


def bars(fig):
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    spent, refunded = ax.containers[0], ax.containers[1]
    return labels, [b.get_width() for b in spent], [b.get_width() for b in refunded], ax


def test_spend_by_prompt_sums_cost_and_shows_refunds(tmp_path):
    fig = plots.spend(money_frame(), by="prompt")
    labels, spent, refunded, ax = bars(fig)
    assert labels == ["a fox", "a city", "a moon"]  # most expensive first
    assert spent == pytest.approx([0.2, 0.2, 0.0]) and refunded == pytest.approx([0.1, 0.0, 0.0])
    notes = [t.get_text() for t in ax.texts]
    assert "$0.20  (n=3)" in notes and "$0.00  (n=1, 1 unpriced)" in notes
    assert "$0.40 in all" in ax.get_title()
    fig.savefig(tmp_path / "spend.png")


def test_spend_by_a_number_keeps_its_order():
    labels, spent, _, _ = bars(plots.spend(money_frame(), by="stylize"))
    assert labels == ["50", "250"] and spent == pytest.approx([0.3, 0.1])


def test_spend_without_prices_says_so_and_unknown_column_raises():
    df = money_frame().assign(price=np.nan, cost=np.nan)
    fig = plots.spend(df)
    assert "no task with a known price" in " ".join(t.get_text() for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="'cost' is not a column"):
        plots.spend(df.drop(columns=["cost"]))
