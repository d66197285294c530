# Shared set-up for scripts/serve and scripts/test; sourced, not run. Idempotent: each step
# does nothing when its work is already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export PATH="$VENV/bin:$PATH"

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; return 1; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_bin() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      command -v "$candidate"; return 0
    fi
  done
  say "Python 3.11 or newer is required"; return 1
}

ensure_venv() {
  local stamp="$VENV/.installed"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$(python_bin)" -m venv "$VENV" || { apt_install python3-venv && "$(python_bin)" -m venv "$VENV"; }
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/setup.py" -nt "$stamp" ]; then
    say "installing the project and its dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    touch "$stamp"
  fi
}

# PostgreSQL and Redis of this machine, started when they are not running.
ensure_postgres() {
  local host="${DB_HOST:-127.0.0.1}" port="${DB_PORT:-5432}"
  command -v pg_isready >/dev/null || apt_install postgresql postgresql-client
  if ! pg_isready -q -h "$host" -p "$port"; then
    say "starting PostgreSQL"
    local version; version="$(ls /etc/postgresql | sort -V | tail -n1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h "$host" -p "$port" && break; sleep 1; done
  fi
  pg_isready -q -h "$host" -p "$port" || { say "PostgreSQL does not answer on $host:$port"; return 1; }
}

ensure_redis() {
  local addr="${REDIS_ADDR:-127.0.0.1:6379}"
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h "${addr%:*}" -p "${addr##*:}" ping >/dev/null 2>&1; then
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port "${addr##*:}" --save "" --appendonly no
    for _ in $(seq 1 30); do redis-cli -h "${addr%:*}" -p "${addr##*:}" ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  redis-cli -h "${addr%:*}" -p "${addr##*:}" ping >/dev/null
}

ensure_database() {
  local name="$1"
  local psql=(psql -h "${DB_HOST:-127.0.0.1}" -p "${DB_PORT:-5432}" -U "${DB_USER:-postgres}" -d postgres -tAq)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]; then
    say "creating database $name"
    "${psql[@]}" -c "CREATE DATABASE \"$name\""
  fi
}

ensure_alertmanager() {
  command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || apt_install prometheus-alertmanager
}
