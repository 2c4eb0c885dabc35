"""The ``select_options`` filter: ``<option>`` markup for (value, text) pairs."""

from crm.core.filters import select_options


def test_marks_the_selected_value_and_escapes():
    html = select_options([("1", "甲 & 乙"), ("2", '<b>"x"</b>')], "2")
    assert html == (
        '<option value="1">甲 &amp; 乙</option><option value="2" selected>&lt;b&gt;&#34;x&#34;&lt;/b&gt;</option>'
    )


def test_nothing_selected():
    assert "selected" not in select_options([("", "Any"), ("a", "A")], None)
    assert select_options([], "a") == ""


def test_options_markup_matches_select_options():
    from crm.core.filters import OptionsMarkup

    options = [("", "Any"), ("1", "甲 & 乙"), ('2">', '<b>"x"</b>'), ("3", "'c'")]
    kept = OptionsMarkup(options)
    for selected in (None, "", "1", '2">', "3", "missing"):
        assert select_options(kept, selected) == select_options(options, selected)
    assert select_options(kept, "1") == (
        '<option value="">Any</option><option value="1" selected>甲 &amp; 乙</option>'
        '<option value="2&#34;&gt;">&lt;b&gt;&#34;x&#34;&lt;/b&gt;</option><option value="3">&#39;c&#39;</option>'
    )
