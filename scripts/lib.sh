# Shared helpers for scripts/test and scripts/demo. Sourced, not run.
# Everything here is idempotent: on a fresh Debian machine with Python (pyenv), PostgreSQL and MariaDB it
# installs what is missing; on a prepared one it only checks.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# find_python 3.12 -> prints the path of a python3.12 that runs (PATH, then pyenv).
find_python() {
  local version=$1 candidate
  for candidate in "python$version" "$(pyenv prefix "$version" 2>/dev/null | head -n1)/bin/python"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "error: Python $version not found (looked in PATH and pyenv). Install it, e.g. 'pyenv install $version'." >&2
  return 1
}

# Debian packages needed to build the drivers (mysqlclient needs the MariaDB client headers).
ensure_build_deps() {
  local missing=()
  dpkg -s libmariadb-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
  dpkg -s pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The docs build (tests/docs) renders its diagrams with Graphviz's dot.
ensure_docs_deps() {
  if ! command -v dot >/dev/null 2>&1; then
    log "installing graphviz (the docs' diagrams)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
  fi
}

# ensure_venv DIR PYTHON_VERSION "requirement ..." -> a venv with the project (editable, all extras).
ensure_venv() {
  local dir=$1 version=$2; shift 2
  local stamp="$dir/.multidb-stamp" want
  want="$(cat pyproject.toml; echo "$*")"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  ensure_build_deps
  log "creating $dir (Python $version; $*)"
  rm -rf "$dir"
  "$(find_python "$version")" -m venv "$dir"
  local pip_log="$dir/pip.log"
  if ! { "$dir/bin/python" -m pip install --upgrade pip && "$dir/bin/python" -m pip install -e ".[dev]" "$@"; } \
      >"$pip_log" 2>&1; then
    tail -n 40 "$pip_log" >&2
    echo "error: installing into $dir failed (whole log: $pip_log)" >&2
    return 1
  fi
  "$dir/bin/python" -c 'import django, pytest_multidb, psycopg, MySQLdb' || { echo "error: $dir is incomplete" >&2; return 1; }
  printf '%s' "$want" >"$stamp"
}

# Start the local PostgreSQL and MariaDB servers when they are down.
ensure_servers() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  fi
  if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
    log "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  fi
  local i
  for i in $(seq 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "error: PostgreSQL (127.0.0.1:5432) or MariaDB (127.0.0.1:3306) did not come up within 60 s" >&2
  return 1
}

# Two-phase commit tests need prepared transactions on the local PostgreSQL server.
ensure_prepared_transactions() {
  local current
  current=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW max_prepared_transactions')
  if [[ "$current" == "0" ]]; then
    log "enabling max_prepared_transactions on the local PostgreSQL (needs a restart)"
    psql -h 127.0.0.1 -U postgres -qc 'ALTER SYSTEM SET max_prepared_transactions = 20'
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main restart
    ensure_servers
  fi
}

# The browser tests (tests/plugin/test_browser.py, docs/browser.md) drive Debian's Chromium through its own
# chromedriver: /usr/bin/chromium and /usr/bin/chromedriver. Nothing is downloaded but these packages.
ensure_browser() {
  local missing=()
  dpkg -s chromium >/dev/null 2>&1 || missing+=(chromium)
  dpkg -s chromium-driver >/dev/null 2>&1 || missing+=(chromium-driver)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || {
    echo "error: /usr/bin/chromium or /usr/bin/chromedriver is missing after installing chromium chromium-driver" >&2
    return 1
  }
}
