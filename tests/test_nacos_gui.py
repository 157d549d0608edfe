"""The GUI's program editor and Nacos dialog in real headless Chromium, on a daemon whose config is in Nacos
(tests/fakenacos.py): add, copy and delete a program from the page, see each applied, and see an edit made
on a config someone else changed meanwhile refused, with Nacos keeping the other edit.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakenacos import FakeNacos
from harness import wait_for
from test_nacos import DATA_ID, NacosDaemon
from webutil import chromium

webdriver = pytest.importorskip("selenium.webdriver")
if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
    pytest.skip(
        "chromium and chromium-driver are not installed (.ci/run installs them)", allow_module_level=True
    )

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, NacosDaemon, FakeNacos]]:
    fake = FakeNacos(users={"nacos": "s3cret"}).start()
    nd = NacosDaemon(tmp_path, fake)
    nd.d.start()
    driver = chromium(tmp_path / "chromium-profile", "1280,900")
    try:
        nd.wait_states({"alpha": "RUNNING", "beta": "RUNNING"})
        driver.get(f"http://127.0.0.1:{nd.port}/")
        yield driver, nd, fake
    finally:
        driver.quit()
        nd.d.stop()
        fake.stop()


def _settled(driver: Any, specs: set[str]) -> bool:
    """The (re)loaded page lists exactly ``specs``, all RUNNING."""
    try:
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.proc")
        found = {tr.get_attribute("data-spec"): tr.get_attribute("data-state") for tr in rows}
    except StaleElementReferenceException:
        return False
    return found == dict.fromkeys(specs, "RUNNING")


def _open_programs(driver: Any, wait: Any, names: list[str]) -> None:
    driver.find_element(By.ID, "open-programs").click()
    wait.until(
        lambda drv: (
            [
                tr.get_attribute("data-program")
                for tr in drv.find_elements(By.CSS_SELECTOR, "tr[data-program]")
            ]
            == names
        )
    )


def _program_button(driver: Any, name: str, label: str) -> Any:
    return driver.find_element(By.XPATH, f'//tr[@data-program="{name}"]//button[normalize-space()="{label}"]')


def _fill(driver: Any, element_id: str, text: str) -> None:
    box = driver.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(text)


def test_editor_adds_copies_and_deletes(page: Any) -> None:
    driver, nd, fake = page
    wait = WebDriverWait(driver, 30)
    wait.until(lambda drv: _settled(drv, {"alpha", "beta"}))

    # add
    _open_programs(driver, wait, ["alpha", "beta"])
    assert f"Nacos: nacos:{DATA_ID}" in driver.find_element(By.ID, "programs-source").text
    driver.find_element(By.ID, "program-add").click()
    _fill(driver, "program-name", "web")
    _fill(driver, "program-text", "command = sleep 1000\nstartsecs = 0\n")
    driver.find_element(By.ID, "program-save").click()
    wait.until(lambda drv: _settled(drv, {"alpha", "beta", "web"}))  # applied, and the page followed
    assert "[program:web]\ncommand = sleep 1000\nstartsecs = 0\n" in (fake.content(DATA_ID) or "")

    # copy
    _open_programs(driver, wait, ["alpha", "beta", "web"])
    _program_button(driver, "alpha", "Copy").click()
    assert driver.find_element(By.ID, "program-name").get_attribute("value") == "alpha-copy"
    _fill(driver, "program-name", "alpha2")
    driver.find_element(By.ID, "program-save").click()
    wait.until(lambda drv: _settled(drv, {"alpha", "alpha2", "beta", "web"}))

    # delete, after a confirmation
    _open_programs(driver, wait, ["alpha", "beta", "web", "alpha2"])
    _program_button(driver, "beta", "Delete").click()
    assert "Delete [program:beta]?" in driver.find_element(By.ID, "program-delete").text
    driver.find_element(By.ID, "program-delete-ok").click()
    wait.until(lambda drv: _settled(drv, {"alpha", "alpha2", "web"}))
    assert "[program:beta]" not in (fake.content(DATA_ID) or "")
    assert nd.states() == dict.fromkeys(["alpha", "alpha2", "web"], "RUNNING")

    # an edit on a config that changed meanwhile (another editor published) is refused, changing nothing
    _open_programs(driver, wait, ["alpha", "web", "alpha2"])
    other = (fake.content(DATA_ID) or "") + "\n; edited elsewhere\n"
    fake.publish(DATA_ID, other)
    _program_button(driver, "web", "Edit").click()
    _fill(driver, "program-text", "command = sleep 999\nstartsecs = 0\n")
    driver.find_element(By.ID, "program-save").click()
    error = driver.find_element(By.ID, "program-error")
    wait.until(lambda drv: "changed since it was read" in error.text)
    assert fake.content(DATA_ID) == other
    driver.find_element(By.ID, "program-cancel").click()
    driver.find_element(By.ID, "programs-close").click()

    # the Nacos dialog shows where the config comes from
    driver.find_element(By.ID, "open-nacos").click()
    status = driver.find_element(By.ID, "nacos-status")
    wait.until(lambda drv: "Running from Nacos" in status.text)
    assert driver.find_element(By.ID, "nacos-server").get_attribute("value") == fake.address
    assert driver.find_element(By.ID, "nacos-password").get_attribute("value") == ""
    driver.find_element(By.ID, "nacos-not_use_cache").click()
    driver.find_element(By.ID, "nacos-save").click()  # saved in the bootstrap file, the password kept
    wait.until(lambda drv: "Saved to" in status.text)
    saved = nd.d.config.read_text()
    assert f"[nacos]\nserver = {fake.address}\ndataid = {DATA_ID}\ngroup = DEFAULT_GROUP\n" in saved
    assert "not_use_cache = true\n" in saved and "password" not in saved  # none was saved or typed
    wait_for(lambda: nd.states() == dict.fromkeys(["alpha", "alpha2", "web"], "RUNNING"), what="no change")
