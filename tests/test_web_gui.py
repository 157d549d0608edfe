"""The web GUI in real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

The page must list the processes, change a badge live when a process stops (no reload), show a new log
line as it arrives, start a selection in bulk, ask before shutting down, and sit behind basic auth. The test
saves the screenshot the README shows (docs/gui.png), so it stays current.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import Daemon, wait_for
from rpcutil import free_port
from webutil import Rest, chromium

webdriver = pytest.importorskip("selenium.webdriver")
if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
    pytest.skip(
        "chromium and chromium-driver are not installed (.ci/run installs them)", allow_module_level=True
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

AUTH = ("admin", "s3cret")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "gui.png"
PROGRAMS = """\
[program:cat]
command = cat
startsecs = 0
stdout_logfile = {tmp}/cat.log

[group:web]
programs = api,worker,idle1,idle2

[program:api]
command = sleep 1000
startsecs = 0

[program:worker]
command = sleep 1000
startsecs = 0

[program:idle1]
command = sleep 1000
startsecs = 0
autostart = false

[program:idle2]
command = sleep 1000
startsecs = 0
autostart = false

[program:crasher]
command = sh -c 'echo failing >&2; exit 3'
startsecs = 0
autorestart = false
"""


@pytest.fixture
def gui(tmp_path: Path) -> Iterator[tuple[Any, Rest, Daemon, str]]:
    port = free_port()
    section = f"[inet_http_server]\nport = 127.0.0.1:{port}\nusername = admin\npassword = s3cret\n"
    d = Daemon(tmp_path, PROGRAMS.format(tmp=tmp_path), supervisord=section).start()
    rest = Rest(port, AUTH)
    wait_for(lambda: _ready(rest), timeout=20, what="the programs to run")
    driver = chromium(tmp_path / "chromium-profile", "1280,760")
    try:
        yield driver, rest, d, f"http://127.0.0.1:{port}/"
    finally:
        driver.quit()
        d.stop()


def _ready(rest: Rest) -> bool:
    try:
        states = {p["name"]: p["statename"] for p in rest.get("/program/list").json()}
    except Exception:
        return False
    return (
        states.get("cat") == "RUNNING"
        and states.get("crasher") == "EXITED"
        and states.get("api") == "RUNNING"
    )


def _authorize(driver: Any) -> None:
    token = base64.b64encode(":".join(AUTH).encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})


def _badge(driver: Any, spec: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, f'tr[data-spec="{spec}"] .badge').text)


def _row_button(driver: Any, spec: str, label: str) -> Any:
    return driver.find_element(By.XPATH, f'//tr[@data-spec="{spec}"]//button[normalize-space()="{label}"]')


def test_gui(gui: Any) -> None:
    driver, rest, d, url = gui
    wait = WebDriverWait(driver, 20)

    # auth: without credentials the page is refused (Chromium waits at its login prompt, a blank page)
    driver.get(url)
    assert not driver.find_elements(By.ID, "procs") and "supervisord" not in driver.page_source
    _authorize(driver)
    driver.get(url)
    wait.until(lambda drv: "on" in drv.find_element(By.ID, "live").get_attribute("class"))

    # the page lists every process, grouped
    specs = [tr.get_attribute("data-spec") for tr in driver.find_elements(By.CSS_SELECTOR, "tr.proc")]
    assert sorted(specs) == sorted(["cat", "crasher", "web:api", "web:worker", "web:idle1", "web:idle2"])
    assert _badge(driver, "web:api") == "RUNNING" and _badge(driver, "crasher") == "EXITED"
    assert driver.find_element(By.CSS_SELECTOR, 'tr[data-spec="crasher"] .exit').text == "3"
    groups = [
        tb.get_attribute("data-group") for tb in driver.find_elements(By.CSS_SELECTOR, "tbody[data-group]")
    ]
    assert groups == ["cat", "crasher", "web"]

    # stop one: the badge changes through /events, without a reload
    driver.execute_script("window.notReloaded = true;")
    _row_button(driver, "web:worker", "Stop").click()
    wait.until(lambda drv: _badge(drv, "web:worker") == "STOPPED")
    assert driver.execute_script("return window.notReloaded === true;")
    assert rest.get("/program/info/web:worker").json()["statename"] == "STOPPED"
    # ... and a change made elsewhere shows up too
    rest.post("/program/start/web:worker")
    wait.until(lambda drv: _badge(drv, "web:worker") == "RUNNING")

    # filter by name and by state
    driver.find_element(By.ID, "filter").send_keys("idle")
    shown = [tr for tr in driver.find_elements(By.CSS_SELECTOR, "tr.proc") if tr.is_displayed()]
    assert sorted(tr.get_attribute("data-spec") for tr in shown) == ["web:idle1", "web:idle2"]
    driver.find_element(By.ID, "filter").clear()
    driver.execute_script("const f = document.getElementById('filter'); f.dispatchEvent(new Event('input'));")

    # bulk start of a selection
    for spec in ("web:idle1", "web:idle2"):
        driver.find_element(By.CSS_SELECTOR, f'tr[data-spec="{spec}"] input.sel').click()
    driver.find_element(By.CSS_SELECTOR, 'button[data-bulk="start"]').click()
    wait.until(lambda drv: _badge(drv, "web:idle1") == "RUNNING" and _badge(drv, "web:idle2") == "RUNNING")
    assert rest.get("/program/info/web:idle2").json()["statename"] == "RUNNING"

    # a rolling restart of the group, from its header: every process gets a new pid, one after another
    before = {s: rest.get(f"/program/info/{s}").json()["pid"] for s in ("web:api", "web:worker")}
    driver.find_element(
        By.CSS_SELECTOR, 'tbody[data-group="web"] button[data-group-act="rollingRestart"]'
    ).click()
    wait.until(lambda drv: drv.find_element(By.ID, "status").text == "rollingRestart group web: done")
    after = {s: rest.get(f"/program/info/{s}").json()["pid"] for s in before}
    assert all(after[s] not in (0, before[s]) for s in before), (before, after)

    # the log viewer follows live
    rest.post("/program/stdin/cat", json={"chars": "hello from before\n"})
    wait_for(lambda: b"hello from before" in (Path(d.tmp) / "cat.log").read_bytes(), what="cat to echo")
    _row_button(driver, "cat", "Log").click()
    log = driver.find_element(By.ID, "log-text")
    wait.until(lambda drv: "hello from before" in log.text)
    rest.post("/program/stdin/cat", json={"chars": "a brand new line\n"})
    wait.until(lambda drv: "a brand new line" in log.text)
    driver.find_element(By.ID, "log-search").send_keys("brand")
    wait.until(lambda drv: log.text.strip() == "a brand new line")
    href = driver.find_element(By.ID, "log-download").get_attribute("href")
    assert href.endswith("/program/log/cat/stdout?download=1")
    driver.find_element(By.ID, "log-close").click()

    SCREENSHOT.parent.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOT))

    # usable at phone width: nothing wider than the screen but the table, which scrolls
    driver.set_window_size(390, 844)
    assert driver.execute_script(
        "return document.querySelector('header').scrollWidth <= window.innerWidth + 1;"
    )
    driver.set_window_size(1280, 760)

    # shutdown asks first; cancel changes nothing
    driver.find_element(By.CSS_SELECTOR, 'button[data-global="shutdown"]').click()
    dialog = driver.find_element(By.ID, "confirm")
    wait.until(lambda drv: dialog.is_displayed())
    assert "Shut the daemon down" in dialog.text
    driver.find_element(By.ID, "confirm-cancel").click()
    wait.until(lambda drv: not dialog.is_displayed())
    assert rest.get("/supervisor/ping").json() == {"success": True}
    driver.find_element(By.CSS_SELECTOR, 'button[data-global="shutdown"]').click()
    wait.until(lambda drv: dialog.is_displayed())
    driver.find_element(By.ID, "confirm-ok").click()
    assert d.proc is not None
    d.proc.wait(30)
