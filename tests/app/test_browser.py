"""The page in a real headless Chromium: fake microphone, uploads, phone layout, Grad-CAM, live mode, errors.

Needs /usr/bin/chromium (apt-get install chromium) and the playwright Python package; no browser download.
Screenshots go to artifacts/screenshots/.
"""

import shutil
import subprocess
import time
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
CHUNK_SECONDS = 0.1  # what gradio's streaming audio component sends at a time


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


def expect_results(page, previous: str | None = None):
    """The summary, the labels and every figure for a multi-window clip are on the page."""
    page.wait_for_selector("#spectrogram figure img", timeout=RESULT_TIMEOUT_MS)
    for figure in ("#overlay", "#gradcam", "#timeline"):
        page.wait_for_selector(f"{figure} figure", timeout=10_000)
    # a new summary, with no progress line ("processing | 1.2s", or the bare timer "0.0s" over the old text)
    page.wait_for_function("""(old) => {
        const text = document.querySelector('#summary').innerText;
        return text !== old && !text.includes('processing') && !/(^|\\n)\\s*[0-9.]+\\s*s\\s*(\\n|$)/.test(text);
    }""", arg=previous, timeout=RESULT_TIMEOUT_MS)  # fmt: skip
    summary = page.inner_text("#summary")
    assert "confidence" in summary and "%" in summary
    assert page.inner_text("#gender").count("%") == 2
    assert page.inner_text("#age").count("%") >= 3
    assert "-" in page.inner_text("#age-gender")
    for figure in ("#spectrogram", "#overlay", "#gradcam"):
        width = page.eval_on_selector(f"{figure} img", "img => img.naturalWidth")
        assert width > 50, f"{figure} image did not load"
    return summary


def upload(page, path):
    """Choose a file in the upload box: the analysis starts by itself."""
    page.locator("#file-input input[type=file]").set_input_files(str(path))


def record(page, seconds: float, selector: str = "#audio-input"):
    page.click(f"{selector} button.record-button")
    page.wait_for_timeout(int(1000 * seconds))
    page.click(f"{selector} button.stop-button")


def assert_not_cropped(page, name: str):
    """Every figure fits the viewport's width: nothing hidden to the right, no sideways scrolling."""
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for box in page.locator("figure.ag-fig").all():
        right = box.evaluate("el => el.getBoundingClientRect().right")
        assert right <= width + 1, f"{name}: a figure ends at {right} px, past the {width} px screen"
        for img in box.locator("img").all():
            assert img.evaluate("el => el.getBoundingClientRect().right") <= width + 1
    for caption in page.locator("figure.ag-fig figcaption").all():  # titles wrap instead of being cut
        assert caption.evaluate("el => el.scrollWidth <= el.clientWidth + 1")


def test_record_from_microphone_analyses_on_stop(browser, server):
    page = open_page(browser, server, DESKTOP)
    record(page, 4)
    expect_results(page)  # without clicking Classify
    page.screenshot(path=ARTIFACTS / "mic_result_desktop.png", full_page=True)
    page.context.close()


def test_classify_right_after_stop_never_loses_the_recording(browser, server):
    page = open_page(browser, server, DESKTOP)
    previous = None
    for attempt in range(10):
        record(page, 2)
        page.click("#classify")  # right after Stop: waits while the recording is still being uploaded
        previous = expect_results(page, None if attempt == 0 else previous)
        assert "Record a clip" not in page.inner_text("#summary")
        page.click("#clear")
        page.wait_for_function("() => !document.querySelector('#summary').innerText.includes('%')", timeout=10_000)
        previous = page.inner_text("#summary")
    assert page.locator(".toast-body").count() == 0  # no "no audio" warning on the way
    page.context.close()


@pytest.mark.parametrize("fmt", ["webm", "m4a"])
def test_upload_browser_formats(browser, server, long_clip, tmp_path, fmt):
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is needed to make the test file")
    codec = {"webm": ["-c:a", "libopus"], "m4a": ["-c:a", "aac"]}[fmt]
    clip = tmp_path / f"speech.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(long_clip), *codec, str(clip)], check=True)
    page = open_page(browser, server, DESKTOP)
    upload(page, clip)
    expect_results(page)
    assert "Invalid file" not in page.inner_text("body")
    page.context.close()


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_upload_a_file(browser, server, long_clip, viewport, name):
    page = open_page(browser, server, viewport)
    page.screenshot(path=ARTIFACTS / f"start_{name}.png", full_page=True)
    upload(page, long_clip)
    expect_results(page)
    page.wait_for_timeout(1500)  # the smooth scroll to the results
    top = page.eval_on_selector("#summary", "el => el.getBoundingClientRect().top")
    assert -2 <= top < viewport["height"] * 0.6, f"the results start at {top} px, out of view"
    page.screenshot(path=ARTIFACTS / f"upload_result_{name}_view.png")
    assert_not_cropped(page, name)
    page.click("#how-it-works button, #how-it-works .label-wrap")
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / f"upload_result_{name}.png", full_page=True)
    page.context.close()


def test_gradcam_follows_the_chosen_label(browser, server, long_clip):
    page = open_page(browser, server, DESKTOP)
    upload(page, long_clip)
    expect_results(page)
    before = page.inner_text("#gradcam figcaption")
    other = "male (gender)" if "“female" in before else "female (gender)"
    page.click("#gradcam-target input")
    page.get_by_role("option", name=other, exact=True).click()
    page.wait_for_function("(t) => document.querySelector('#gradcam figcaption').innerText.includes(t)",
                           arg=other, timeout=RESULT_TIMEOUT_MS)  # fmt: skip
    page.locator("#gradcam").screenshot(path=ARTIFACTS / "gradcam_other_label.png")
    page.context.close()


def test_bad_file_shows_a_message_and_the_page_keeps_working(browser, server, audio_files, long_clip, tmp_path):
    silent = tmp_path / "silent_recording.wav"
    shutil.copy(audio_files["silence"], silent)
    page = open_page(browser, server, DESKTOP)
    upload(page, silent)
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
        expect_results(page)
    finally:
        b.close()


def test_example_clip_fills_the_input_and_shows_results(browser, server):
    page = open_page(browser, server, DESKTOP)
    page.get_by_role("button", name="en_male.wav").first.click()
    first = expect_results(page)
    assert page.is_visible("#audio-input [data-testid='waveform-controls']")
    page.get_by_role("button", name="es_female_low.wav").first.click()
    second = expect_results(page, first)
    assert second != first
    page.screenshot(path=ARTIFACTS / "example.png", full_page=True)
    page.get_by_role("button", name="en_male.wav").first.click()  # the first example again
    assert expect_results(page, second) == first
    page.context.close()


def test_live_mode_shows_predictions_and_measures_the_lag(pw, server, tmp_path):
    """The fake microphone plays 2 s of silence, then speech (on a loop): "no speech", a prediction, "no speech"."""
    import numpy as np
    import soundfile as sf

    speech, rate = sf.read(EXAMPLES / "en_us_female.wav", dtype="float32")
    silence_seconds = 2.0
    mic = tmp_path / "live_mic.wav"  # chromium plays 16-bit PCM WAV files
    sf.write(mic, np.concatenate([np.zeros(int(silence_seconds * rate), np.float32), speech]), rate, subtype="PCM_16")
    flags = [f for f in FLAGS if not f.startswith("--use-file-for-fake-audio-capture")]
    b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                           args=flags + [f"--use-file-for-fake-audio-capture={mic}"])  # fmt: skip
    try:
        page = b.new_context(viewport=DESKTOP, permissions=["microphone"]).new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        chunks = []  # when each chunk's upload starts; the fake microphone starts playing one chunk before the first
        page.on("request", lambda r: chunks.append(time.monotonic()) if r.url.endswith("/upload") else None)
        page.goto(server)
        page.get_by_role("tab", name="Live microphone").click()
        page.wait_for_selector("#live-input button.record-button", timeout=30_000)
        assert page.inner_text("#live-gender").count("%") == 0  # empty before
        page.click("#live-input button.record-button")
        page.wait_for_function("() => document.querySelector('#live-gender').innerText.includes('%')",
                               timeout=RESULT_TIMEOUT_MS)  # fmt: skip
        lag = time.monotonic() - (chunks[0] - CHUNK_SECONDS + silence_seconds)
        page.wait_for_selector("#live-view figure img", timeout=10_000)
        assert "0 = now" in page.inner_text("#live-view")
        assert "confidence" in page.inner_text("#live-summary")
        page.screenshot(path=ARTIFACTS / "live_mode.png", full_page=True)
        (ARTIFACTS / "live_lag.txt").write_text(f"sound to first label: {lag:.2f} s (fake microphone)\n")
        print(f"live mode: sound to first label {lag:.2f} s")
        page.wait_for_function("() => document.querySelector('#live-summary').innerText.includes('No speech')",
                               timeout=len(speech) / rate * 1000 + 10_000)  # the silence when the file loops
        assert page.inner_text("#live-gender").count("%") == 0  # the labels are cleared in a pause
        page.click("#live-input button.stop-button")  # stops cleanly
        page.wait_for_selector("#live-input button.record-button", timeout=10_000)
        page.wait_for_timeout(1000)
        assert page.locator(".toast-body").count() == 0 and not errors, errors
    finally:
        b.close()
