"""The listening page and the listening test in a real browser: Debian's chromium, driven by Playwright.

Every audio element must load with the duration of its sound; a simulated participant, who recognises
each blind stimulus by its sound, rates every trial and saves the ratings CSV, which the analysis reads.
Screenshots are saved under the test's tmp folder (paths printed: ``pytest -s`` shows them).
"""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest
from listening_fixture import write_evaluation

from lmac.listening.analysis import analyse
from lmac.listening.kit import KitSettings, write_listening_test
from lmac.listening.page import write_listening_page

CHROMIUM = os.environ.get("LMAC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)", allow_module_level=True)

METHODS = ["lmac", "lmac_td_a0.75"]
#: the simulated participant's preferences
PREFERS = {"reference": 100, "anchor": 10, "lmac": 40, "lmac_td_a0.75": 75}


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--mute-audio"])
        yield chromium
        chromium.close()


def audio_durations(page) -> list[tuple[float, float]]:
    """(loaded duration, expected) of every audio element, once each has its metadata."""
    page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)", timeout=20_000)
    return page.evaluate("[...document.querySelectorAll('audio')].map(a => [a.duration, Number(a.dataset.seconds)])")


def test_listening_page_plays_every_sound(tmp_path, browser):
    explanations, scores = {}, {}
    for condition in ("clean", "mixture"):
        explanations[condition], scores[condition] = write_evaluation(tmp_path / "run", condition, METHODS)
    page_file = tmp_path / "page.html"
    write_listening_page(explanations, scores, 2, page_file, tmp_path / "audio", seed=1)
    page = browser.new_page()
    page.goto(page_file.as_uri())
    durations = audio_durations(page)
    assert len(durations) == 2 * 3 + 2 * 4  # per clip: input (+ clean target on mixture) and each method
    for loaded, expected in durations:
        assert loaded == pytest.approx(expected, abs=0.01)
    assert page.locator("img[alt^=spectrogram]").evaluate_all("imgs => imgs.every(i => i.naturalWidth > 0)")
    shot = tmp_path / "listening_page.png"
    page.screenshot(path=shot, full_page=True)
    print(f"listening page screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def rate_current_trial(page, sounds: dict[str, str]) -> None:
    """Rate each stimulus of the trial on screen at PREFERS[the stimulus whose sound it plays]."""
    trial = page.locator("section.trial.current")
    for card in trial.locator(".stimulus").all():
        src = card.locator("audio").get_attribute("src")
        stimulus = next(name for name, uri in sounds.items() if uri == src)
        card.locator("input[type=range]").fill(str(PREFERS[stimulus]))


def test_listening_test_runs_from_a_file_and_saves_ratings(tmp_path, browser):
    explanations, _ = write_evaluation(tmp_path / "run", "mixture", METHODS)
    kit = tmp_path / "test" / "index.html"
    write_listening_test(
        {"mixture": explanations},
        KitSettings(clips=2, seed=3),
        kit,
        tmp_path / "test/trials.csv",
        tmp_path / "test/audio",
    )
    page = browser.new_page(accept_downloads=True)
    page.goto(kit.as_uri())
    page.fill("#participant", "sim01")
    page.click("#start")
    durations = audio_durations(page)
    assert len(durations) == 2 * (1 + 4)  # per trial: the open reference, the hidden reference, the anchor, 2 methods
    for loaded, expected in durations:
        assert loaded == pytest.approx(expected, abs=0.01)
    trials = {t["id"]: t["sounds"] for t in page.evaluate("KIT.trials")}
    order = []
    for position in range(len(trials)):
        current = page.locator("section.trial.current")
        assert current.get_attribute("data-position") == str(position)
        reference_src = current.locator(".reference audio").get_attribute("src")
        trial_id = next(t for t, sounds in trials.items() if sounds["reference"] == reference_src)
        order.append(trial_id)
        assert current.locator("button.next").is_disabled()
        rate_current_trial(page, trials[trial_id])
        if position == 0:
            shot = tmp_path / "listening_test.png"
            page.screenshot(path=shot, full_page=True)
            print(f"listening test screenshot: {shot}")
        current.locator("button.next").click()
    with page.expect_download() as download:
        page.click("#save")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "ratings_sim01.csv"
    ratings = pd.read_csv(saved)
    assert len(ratings) == 2 * 4 and set(ratings["participant"]) == {"sim01"}
    assert dict(zip(ratings["stimulus"], ratings["rating"])) == PREFERS
    assert list(ratings.drop_duplicates("trial")["trial"]) == order
    result = analyse([saved])
    assert not result["screening"]["excluded"].any()
    assert result["scores"].set_index("stimulus")["mean"].to_dict() == PREFERS

    # the same participant's name draws the same order again
    again = browser.new_page()
    again.goto(kit.as_uri())
    again.fill("#participant", "sim01")
    again.click("#start")
    first_src = again.locator("section.trial.current .reference audio").get_attribute("src")
    assert trials[order[0]]["reference"] == first_src
