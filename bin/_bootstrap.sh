# Shared set-up for bin/run and bin/test: a virtual environment with the project's dependencies,
# and the compiled translations. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

bootstrap_python() {
  local extra="${1:-}"
  local stamp="$VENV/.installed${extra:+-$extra}"
  if [ ! -x "$PY" ] || [ ! -x "$VENV/bin/pip" ]; then
    log "Creating the virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "Installing dependencies${extra:+ (with $extra extras)}"
    local spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    # uv is much faster; plain pip is the fallback when it cannot be had.
    if "$VENV/bin/pip" install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then
      UV_PYTHON_DOWNLOADS=never "$VENV/bin/uv" pip install --quiet --python "$PY" -r pyproject.toml \
        ${extra:+--extra "$extra"}
    else
      "$VENV/bin/pip" install --quiet --disable-pip-version-check -r <("$PY" - "$extra" <<'PYEOF'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"]))
if sys.argv[1]:
    print("\n".join(project["optional-dependencies"][sys.argv[1]]))
PYEOF
)
    fi
    touch "$stamp"
  fi
}

compile_translations() {
  log "Compiling translations"
  if command -v msgfmt >/dev/null 2>&1; then
    "$PY" manage.py compilemessages --ignore=.venv --ignore=var --ignore=staticfiles -v0
  else
    # No GNU gettext on this machine: compile with polib (pure Python), same result.
    "$PY" - <<'PYEOF'
import pathlib, polib
for po in pathlib.Path("locale").glob("*/LC_MESSAGES/*.po"):
    polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
PYEOF
  fi
}
