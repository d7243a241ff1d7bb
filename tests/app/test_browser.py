"""The page in a real headless Chromium: record from a fake microphone, upload a file, see a bad file's error.

Needs /usr/bin/chromium (apt-get install chromium) and the playwright Python package; no browser download.
Screenshots go to artifacts/screenshots/.
"""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "artifacts" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium: apt-get install chromium to run the browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

MIC_CLIP = EXAMPLES / "en_us_female.wav"  # what the fake microphone plays, on a loop
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-audio-capture={MIC_CLIP}",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
RESULT_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def pw():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw):
    b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
    yield b
    b.close()


def open_page(browser, server, viewport):
    context = browser.new_context(viewport=viewport, permissions=["microphone"])
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#classify", timeout=60_000)
    return page


def expect_results(page):
    """The summary, the labels and every figure for a multi-window clip are on the page."""
    page.wait_for_selector("#spectrogram img", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#overlay img", timeout=10_000)
    page.wait_for_selector("#timeline img", timeout=10_000)
    summary = page.inner_text("#summary")
    assert "confidence" in summary and "%" in summary
    assert page.inner_text("#gender").count("%") == 2
    assert page.inner_text("#age").count("%") >= 3
    assert "-" in page.inner_text("#age-gender")
    for plot in ("#spectrogram", "#overlay", "#timeline"):
        width = page.eval_on_selector(f"{plot} img", "img => img.naturalWidth")
        assert width > 500, f"{plot} image did not load"


def upload(page, path):
    page.click('#audio-input button[aria-label="Upload file"]')
    page.locator("#audio-input input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#audio-input audio, #audio-input [data-testid='waveform-controls']", state="attached",
                           timeout=30_000)  # fmt: skip


def test_record_from_microphone(browser, server):
    page = open_page(browser, server, DESKTOP)
    page.click('#audio-input button[aria-label="Record audio"]')  # the default source, but say so
    page.click("#audio-input button.record-button")
    page.wait_for_timeout(4000)  # four seconds of the fake microphone
    page.click("#audio-input button.stop-button")
    page.wait_for_selector("#audio-input [data-testid='waveform-controls']", state="attached", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "mic_recorded.png", full_page=True)
    page.click("#classify")
    expect_results(page)
    page.screenshot(path=ARTIFACTS / "mic_result_desktop.png", full_page=True)
    page.context.close()


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_upload_a_file(browser, server, long_clip, viewport, name):
    page = open_page(browser, server, viewport)
    page.screenshot(path=ARTIFACTS / f"start_{name}.png", full_page=True)
    upload(page, long_clip)
    page.click("#classify")
    expect_results(page)
    page.click("#how-it-works button, #how-it-works .label-wrap")
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / f"upload_result_{name}.png", full_page=True)
    page.context.close()


def test_bad_file_shows_a_message_and_the_page_keeps_working(browser, server, audio_files, long_clip, tmp_path):
    silent = tmp_path / "silent_recording.wav"
    shutil.copy(audio_files["silence"], silent)
    page = open_page(browser, server, DESKTOP)
    upload(page, silent)
    page.click("#classify")
    page.wait_for_function(
        "() => document.querySelector('#summary').innerText.includes('Cannot analyse this audio')",
        timeout=RESULT_TIMEOUT_MS,
    )
    assert "silent" in page.inner_text("#summary")
    toast = page.locator(".toast-body").first  # and a warning toast
    toast.wait_for(timeout=10_000)
    assert "Cannot analyse this audio" in toast.inner_text()
    page.wait_for_timeout(800)  # let the toast finish sliding in
    page.screenshot(path=ARTIFACTS / "bad_file_message.png")
    page.click("#clear")
    upload(page, long_clip)
    page.click("#classify")
    expect_results(page)
    page.context.close()


def test_without_microphone_permission_the_page_says_so_and_upload_works(pw, server, long_clip):
    no_prompt = [f for f in FLAGS if f != "--use-fake-ui-for-media-stream"]  # the permission is refused
    b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=no_prompt)
    try:
        page = b.new_context(viewport=DESKTOP).new_page()
        page.goto(server)
        page.wait_for_selector("#classify", timeout=60_000)
        assert "allow microphone access" in page.inner_text("#limits")
        page.click("#audio-input button.record-button")
        page.wait_for_timeout(1500)
        assert "No microphone found" in page.inner_text("#audio-input select")
        assert not page.is_visible("#audio-input button.stop-button")  # nothing is being recorded
        page.screenshot(path=ARTIFACTS / "no_microphone_permission.png")
        upload(page, long_clip)
        page.click("#classify")
        expect_results(page)
    finally:
        b.close()


def test_example_clip_fills_the_input_and_shows_results(browser, server):
    page = open_page(browser, server, DESKTOP)
    first = page.get_by_role("button", name="en_male.wav").first
    first.click()  # computed and cached on first use
    expect_results(page)
    assert page.is_visible("#audio-input [data-testid='waveform-controls']")
    page.get_by_role("button", name="es_female_low.wav").first.click()
    page.wait_for_timeout(3000)
    first.click()  # now served from the cache
    page.wait_for_timeout(3000)
    expect_results(page)
    page.screenshot(path=ARTIFACTS / "example_cached.png", full_page=True)
    page.context.close()
