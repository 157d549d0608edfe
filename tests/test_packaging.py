"""``python -m build`` makes an sdist and a wheel that carry everything (the GUI's templates and static files
included) and install into a fresh venv, where ``supervisord`` and ``python -m supervisord`` work.

Slow-ish (a build plus one venv with the dependencies, from pip's cache or the package index this machine
reaches), so it is built once per test run; ``-m "not slow"`` skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("supervisord", "actors", "web", "setup.cfg", "pyproject.toml", "README.md")
# Nested like a real GUI's files, so a flat package_data glob would miss them.
GUI_FILES = ("templates/index.html", "templates/partials/row.html", "static/app.js", "static/css/app.css")


def sh(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of the source tree with GUI files added, built into an sdist and a wheel."""
    base = tmp_path_factory.mktemp("pkg")
    src = base / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    for rel in GUI_FILES:
        target = src / "web" / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"<!-- {rel} -->\n")
    sh(sys.executable, "-m", "build", "--outdir", base / "dist", src)
    (wheel,) = (base / "dist").glob("*.whl")
    (sdist,) = (base / "dist").glob("*.tar.gz")
    return {"src": src, "wheel": wheel, "sdist": sdist, "base": base}


def data_files(src: Path) -> set[str]:
    """Installed paths of every non-Python file of the packages (py.typed, templates, static …)."""
    found = set()
    for top, installed in (
        ("supervisord", "supervisord"),
        ("actors", "supervisord/actors"),
        ("web", "supervisord/web"),
    ):
        for path in (src / top).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc"):
                rel = path.relative_to(src / top).as_posix()
                if top == "supervisord" and rel.split("/")[0] in ("actors", "web"):
                    continue
                found.add(f"{installed}/{rel}")
    return found


def test_the_wheel_carries_every_data_file_including_the_gui(dists: dict[str, Path]) -> None:
    expected = data_files(dists["src"])
    assert {f"supervisord/web/{rel}" for rel in GUI_FILES} <= expected
    assert "supervisord/py.typed" in expected
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    assert expected <= names, sorted(expected - names)
    assert "supervisord/__main__.py" in names
    entry_points = zipfile.ZipFile(dists["wheel"]).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    )
    assert b"supervisord = supervisord.cli:main" in entry_points


def fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def test_the_wheel_installs_in_a_fresh_venv_and_runs(dists: dict[str, Path]) -> None:
    bin_dir = fresh_venv(dists["base"] / "venv-wheel")
    sh(bin_dir / "python", "-m", "pip", "install", "-q", dists["wheel"])
    from supervisord import __version__

    assert sh(bin_dir / "supervisord", "version").strip().startswith(__version__)
    work = dists["base"] / "work"
    work.mkdir()
    # Run from a directory without the source tree: the installed package, not this checkout.
    sh(bin_dir / "python", "-m", "supervisord", "init", "-o", "supervisord.conf", cwd=work)
    assert (
        "OK"
        in subprocess.run(
            [bin_dir / "supervisord", "check"], cwd=work, capture_output=True, text=True, timeout=60
        ).stderr
    )
    located = sh(
        bin_dir / "python",
        "-c",
        "import importlib.resources as r, supervisord.web as w; "
        "print(r.files(w).joinpath('static/css/app.css').read_text())",
        cwd=work,
    )
    assert located.strip() == "<!-- static/css/app.css -->"
    site = Path(
        sh(
            bin_dir / "python",
            "-c",
            "import supervisord, os; print(os.path.dirname(supervisord.__file__))",
            cwd=work,
        ).strip()
    )
    assert not str(site).startswith(str(ROOT))


def test_the_sdist_installs_the_same_files(dists: dict[str, Path]) -> None:
    def installed(target: Path) -> set[str]:
        return {
            p.relative_to(target).as_posix()
            for p in (target / "supervisord").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    from_sdist = dists["base"] / "from-sdist"
    from_wheel = dists["base"] / "from-wheel"
    env = {**os.environ, "PIP_NO_DEPS": "1"}
    for target, dist in ((from_sdist, dists["sdist"]), (from_wheel, dists["wheel"])):
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(dist)],
            check=True,
            env=env,
            capture_output=True,
            timeout=600,
        )
    assert installed(from_sdist) == installed(from_wheel)
    assert "supervisord/web/templates/partials/row.html" in installed(from_sdist)


def test_pipx_install_of_the_source_tree_gives_the_command(dists: dict[str, Path]) -> None:
    """``pipx install .``: its own venv, and a ``supervisord`` on the PATH it manages."""
    home = dists["base"] / "pipx-home"
    bin_dir = dists["base"] / "pipx-bin"
    env = {
        **os.environ,
        "PIPX_HOME": str(home),
        "PIPX_BIN_DIR": str(bin_dir),
        "PIPX_MAN_DIR": str(home / "man"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipx", "install", "."],
        cwd=dists["src"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from supervisord import __version__

    assert sh(bin_dir / "supervisord", "version", cwd=dists["base"]).strip().startswith(__version__)
    assert (bin_dir / "supervisord").resolve().is_relative_to(home)
