"""The report page as a person sees it: headless Chromium opens report.html and every plot is drawn.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium from PyPI; skipped where
any of them is absent (``.ci/run`` installs the Debian packages when it can).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adamkit.lab import report

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="headless Chromium test: needs Debian's chromium and chromium-driver",
)

# Per image: loaded, decoded, and its natural size (0 x 0 for an image the browser could not draw).
IMAGES_SCRIPT = """
return Array.from(document.images).map(img => ({
    alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
    shown: img.getBoundingClientRect().width
}));
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # an explicit driver path: selenium never looks for (or downloads) a driver of its own
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def images_on(browser, page: Path) -> list[dict]:
    browser.get(page.resolve().as_uri())
    return browser.execute_script(IMAGES_SCRIPT)


def test_every_plot_is_displayed(browser, tmp_path):
    from test_lab_report import write_fake_report

    page = write_fake_report(tmp_path)
    images = images_on(browser, page)
    assert [image["alt"] for image in images] == [Path(name).stem for name in report.PLOTS]
    for image in images:
        assert image["complete"], image
        assert image["width"] > 0 and image["height"] > 0, image
        assert image["shown"] > 0, image
    assert browser.title == "fake / mlp"
    browser.save_screenshot(str(tmp_path / "screenshot.png"))
    assert (tmp_path / "screenshot.png").stat().st_size > 0


def test_a_broken_image_is_caught(browser, tmp_path):
    # the check above can fail: a corrupt data URI gives an image of natural width 0
    from test_lab_report import write_fake_report

    page = write_fake_report(tmp_path)
    text = page.read_text()
    start = text.index("data:image/png;base64,") + len("data:image/png;base64,")
    page.write_text(text[:start] + "AAAA" + text[start + 200 :])
    widths = [image["width"] for image in images_on(browser, page)]
    assert widths[0] == 0 and all(width > 0 for width in widths[1:])
