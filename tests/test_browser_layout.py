"""spaces_app.py in headless Chromium: the Correlations tab's pair table fits its column (its sentences wrap, its
numbers stay whole) instead of being cut off on the right. Driven through ``browser.py``; a screenshot goes to
``test-artifacts/``."""

from __future__ import annotations

import pytest
from browser import ARTIFACTS, app_page, open_tab, type_into

pytestmark = pytest.mark.browser

WIDTHS = """eid => {
  const box = document.querySelector('#' + eid), table = box && box.querySelector('table');
  if (!table) return null;
  const numbers = [...table.querySelectorAll('tbody tr td:nth-child(2)')].map(td => td.getClientRects().length === 1
    && td.innerText.trim().split('\\n').length === 1);
  return {table: table.scrollWidth, box: box.clientWidth, whole: numbers.every(Boolean), rows: numbers.length};
}"""


def test_the_correlation_pairs_table_fits_its_column(tmp_path):
    with app_page(tmp_path) as page:
        open_tab(page, "Correlations")
        type_into(page, "cc_samples", "300")
        page.click("#cc_measure")
        page.wait_for_function("() => (document.querySelector('#cc_status') || {}).innerText?.includes('✓')")
        page.locator("#cc_pairs").first.screenshot(path=str(ARTIFACTS / "browser-correlation-pairs.png"))
        shown = page.evaluate(WIDTHS, "cc_pairs")
        assert shown["rows"] >= 3 and shown["whole"], shown
        assert shown["table"] <= shown["box"] + 1, shown  # nothing hidden to the right
