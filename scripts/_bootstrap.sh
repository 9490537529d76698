# shellcheck shell=bash
# Shared set-up for scripts/dev and scripts/test; sourced, never run on its own.
#
# Everything here is idempotent: a second run finds the venv, the dependencies and
# Redis in place and costs a second or two.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
# Runtime files (Redis pid/log, celery beat schedule) live under artifacts/, which git ignores.
RUN_DIR="$ROOT/artifacts/run"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# --- apt ---------------------------------------------------------------------------------
_apt_updated=""

# Install Debian packages as root, or through sudo when we are not root.
apt_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "need root or sudo to install: $*  (install them yourself and re-run)"
        sudo="sudo"
    fi
    command -v apt-get >/dev/null || die "apt-get not found; install these yourself and re-run: $*"
    # A fresh machine has no package lists; update once per run, not per package.
    if [[ -z $_apt_updated ]]; then
        say "apt-get update"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        _apt_updated=1
    fi
    say "apt-get install $*"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# --- Python ------------------------------------------------------------------------------

# Create .venv if it is missing or broken (e.g. the Python it was made from is gone).
ensure_venv() {
    if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        return
    fi
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "$python not found: install Python 3.11+ (or set PYTHON=/path/to/python3.x)"
    "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))' \
        || die "$("$python" -V 2>&1) is not supported: need Python 3.11-3.13 (set PYTHON=/path/to/python3.x)"
    say "creating .venv with $("$python" -V 2>&1)"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
        # Debian ships venv's ensurepip separately (python3.X-venv).
        rm -rf "$VENV"
        apt_install "python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
        "$python" -m venv "$VENV"
    fi
}

# Install the whole locked dependency tree (requirements-dev.lock: runtime plus dev extra, every
# transitive package pinned with its hashes; scripts/lock writes it from pyproject.toml), and
# only again when the lock changes (a hash of it is kept in the venv).
ensure_deps() {
    local lock="$ROOT/requirements-dev.lock" stamp="$VENV/.deps-sha256" want have=""
    want="$(sha256sum "$lock" | cut -d' ' -f1)"
    [[ -f $stamp ]] && have="$(cat "$stamp")"
    [[ $want == "$have" ]] && return
    say "installing dependencies from requirements-dev.lock"
    # --require-hashes: a file whose sha256 is not in the lock is refused, wherever pip found it.
    # --no-deps: the lock is the whole tree already; pip must not resolve anything on its own.
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --require-hashes --no-deps -r "$lock"
    echo "$want" >"$stamp"
}

# Put the venv first on PATH so daphne, celery, honcho, ruff and pytest are its own.
activate_venv() {
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

# Export .env (if any) with honcho's own parser, so this script and the processes honcho
# starts see exactly the same values (like honcho, .env wins over the shell).
load_dotenv() {
    [[ -f $ROOT/.env ]] || return 0
    local exports
    exports="$(python - "$ROOT/.env" <<'PY'
import shlex, sys
from honcho.environ import parse
for name, value in parse(open(sys.argv[1]).read()).items():
    print(f"export {name}={shlex.quote(value)}")
PY
)"
    eval "$exports"
}

# --- Redis -------------------------------------------------------------------------------

redis_answers() {
    python - "$1" <<'PY' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
PY
}

# Make sure something answers at REDIS_URL. If nothing does and the URL is on this machine,
# start a throwaway Redis there (nothing saved to disk). It keeps running after the script
# ends, so the next run finds it; its pid file is in artifacts/run/.
ensure_redis() {
    local url="${REDIS_URL:-redis://127.0.0.1:6379/0}" host port password
    redis_answers "$url" && return
    { read -r host; read -r port; read -r password; } < <(python - "$url" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "", u.port or 6379, u.password or "", sep="\n")
PY
)
    case "$host" in
        127.0.0.1 | localhost) ;;
        *) die "Redis at $url does not answer (only a Redis on 127.0.0.1 is started for you)" ;;
    esac
    if ! command -v redis-server >/dev/null; then
        if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
            die "redis-server is not installed. Install it (Debian/Ubuntu: apt-get install redis-server) or point REDIS_URL at a running Redis, then re-run."
        fi
        apt_install redis-server
        # Where apt starts the packaged service on the same port, that one will do.
        redis_answers "$url" && return
    fi
    mkdir -p "$RUN_DIR"
    say "starting Redis on 127.0.0.1:$port"
    local args=(--bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes
        --dir "$RUN_DIR" --pidfile "$RUN_DIR/redis-$port.pid" --logfile "$RUN_DIR/redis-$port.log")
    [[ -n $password ]] && args+=(--requirepass "$password")
    redis-server "${args[@]}"
    local _
    for _ in $(seq 50); do
        if redis_answers "$url"; then
            say "Redis is up (pid $(cat "$RUN_DIR/redis-$port.pid")); stop it with: kill \$(cat artifacts/run/redis-$port.pid)"
            return
        fi
        sleep 0.1
    done
    die "Redis did not start on port $port; see $RUN_DIR/redis-$port.log"
}

# The whole shared bootstrap: venv, dependencies, PATH.
bootstrap_python() {
    cd "$ROOT" || exit
    ensure_venv
    ensure_deps
    activate_venv
}
