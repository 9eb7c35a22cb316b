"""The HTML dossier in a real browser (headless Chromium through Selenium): at 1,280 px no text
overflows its box and the page does not scroll sideways, every chart has axis labels and keeps
its labels inside it, the page logs no console error, and it prints.

.ci/run installs Debian's chromium and chromium-driver; without them this module is skipped,
saying so. With TARGETING_SCREENSHOTS=DIR it also saves screenshots of the bundled project's
dossier there (docs/img holds the ones the docs show).
"""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from targeting.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NO_BROWSER = "no headless browser: install Debian's chromium and chromium-driver (.ci/run does)"
if (CHROMIUM is None or DRIVER is None) and os.environ.get("TARGETING_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"TARGETING_REQUIRE_BROWSER=1 but {NO_BROWSER}")
pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None, reason=NO_BROWSER)

DATA = Path(__file__).parent / "data" / "policy"
ROOT = Path(__file__).parent.parent
LENIENT = {"min_examined": 3, "min_discrepant": 2, "min_hit_rate": 0.1, "lift_factor": 0.0,
           "min_ports": 3, "min_months": 2, "recent_months": 2, "min_unique": 2,
           "max_flags_per_day": 1, "retire_factor": 1.0}
WIDTH = 1280

# Every element whose text could spill: its content wider than its box (1 px for rounding).
OVERFLOWS = """
const out = [];
for (const el of document.querySelectorAll('p,li,td,th,h1,h2,h3,div,section,blockquote,code')) {
  if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
    out.push(el.tagName + ': ' + el.textContent.slice(0, 80));
}
if (document.documentElement.scrollWidth > window.innerWidth)
  out.push('page scrolls sideways: ' + document.documentElement.scrollWidth + 'px');
return out;
"""
# Per chart: its axis labels, and any text drawn outside it.
CHARTS = """
return Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const outside = Array.from(svg.querySelectorAll('text')).filter(t => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
      || r.bottom > box.bottom + 1;
  }).map(t => t.textContent);
  const labels = cls => Array.from(svg.querySelectorAll('.' + cls)).map(t => t.textContent.trim())
    .filter(Boolean);
  return {name: svg.getAttribute('aria-label'), x: labels('x-label'), y: labels('y-label'),
          ticks: labels('tick').length, legend: labels('legend-label'), outside: outside};
});
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def dossier(tmp_path: Path, config: Path) -> Path:
    out = tmp_path / "review.html"
    result = CliRunner().invoke(main, ["candidates", "--config", str(config), "--format", "html",
                                       "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def policy_page(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    config = tmp / "targeting.yaml"
    settings = "".join(f"  {k}: {v}\n" for k, v in LENIENT.items())
    config.write_text(f"data:\n  manifest: {DATA / 'manifest.csv'}\n  exams: {DATA / 'exams.csv'}\n"
                      f"rules: [{DATA / 'rules'}]\nqueries: [{DATA / 'queries'}]\n"
                      f"promotion:\n{settings}", encoding="utf-8")
    return dossier(tmp, config)


def open_page(driver, page: Path) -> None:
    driver.set_window_size(WIDTH, 1000)
    driver.get(page.as_uri())
    driver.get_log("browser")  # drop anything logged before this page


def test_dossier_reads_at_1280_px_without_overflow(browser, policy_page):
    open_page(browser, policy_page)
    assert browser.execute_script("return window.innerWidth") == WIDTH
    assert browser.execute_script(OVERFLOWS) == []
    headings = browser.execute_script(
        "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
    assert headings[:3] == ["To sign", "The policy", "All active queries"]  # the summary first
    assert headings[3:5] == ["Q-1: Bags at 1111", "Q-2: Shoes at 2222"]  # every query, table order
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_every_chart_has_axis_labels_a_legend_and_its_text_inside(browser, policy_page):
    open_page(browser, policy_page)
    charts = browser.execute_script(CHARTS)
    assert [c["name"] for c in charts] == ["Estimated precision with 95% intervals",
                                           "Examined and discrepant shipments per month"]
    for chart in charts:
        assert chart["x"] and chart["y"], chart  # both axes named
        assert chart["ticks"] >= 3 and chart["legend"], chart
        assert chart["outside"] == [], chart  # no clipped label (the old chart lost '26-0')
    assert charts[0]["x"] == ["estimated precision (% of examined shipments found discrepant)"]
    assert charts[1]["x"] == ["arrival month"] and charts[1]["y"] == ["shipments"]
    assert charts[0]["legend"] == ["dot and line: estimate and 95% interval", "population's rate",
                                   "policy bar"]


def test_dossier_prints(browser, policy_page):
    open_page(browser, policy_page)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        browser.set_window_size(800, 1000)  # about an A4 page at 96 dpi
        assert browser.execute_script(OVERFLOWS) == []
        pdf = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")


def test_bundled_dossier_reads_at_1280_px(browser, tmp_path):
    """The bundled project's dossier: 23 queries, three of them with monthly charts."""
    page = dossier(tmp_path, ROOT / "targeting.yaml")
    open_page(browser, page)
    assert browser.execute_script(OVERFLOWS) == []
    charts = browser.execute_script(CHARTS)
    assert len(charts) >= 2 and all(c["x"] and c["y"] and not c["outside"] for c in charts)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    folder = os.environ.get("TARGETING_SCREENSHOTS")
    if folder:
        save_screenshots(browser, Path(folder))


def save_screenshots(driver, folder: Path) -> None:
    """The top of the dossier and the first promotable query's section, at 1,280 px."""
    from selenium.webdriver.common.by import By

    folder.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(WIDTH, 1400)
    driver.save_screenshot(str(folder / "dossier-summary.png"))
    section = driver.find_element(By.CSS_SELECTOR, "section.query")
    section.screenshot(str(folder / "dossier-query.png"))
