# Sourced by scripts/run and scripts/test: make .venv (once) and install the project into it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e . "$@"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
