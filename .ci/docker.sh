#!/usr/bin/env bash
# .ci/docker.sh: make a Docker engine answer on this machine and build the
# database test images from Debian packages. Idempotent, quiet, and quick (well
# under a second) when everything is already in place. Needs root.
#
#   bash .ci/docker.sh            # packages + engine + both images + the "remote" engine
#   bash .ci/docker.sh --engine   # packages + engine only
#
# Why it looks like this (machine: Debian bookworm VM, no container registry
# reachable, only PyPI and Debian's mirror):
#  * No image can be pulled, so the images are built locally by
#    tests/images/build.sh (debootstrap + `docker import`), tagged
#    multidb-test/postgres:15 and multidb-test/mariadb:10.11. The build is
#    skipped when the tag exists with a label equal to the hash of its inputs.
#  * The engine is Debian's docker.io (20.10); /usr/local/bin/docker is a newer
#    client only, which talks to it at API 1.41. There is no systemd here, so
#    dockerd is started in the background by this script (own session, log in
#    $DOCKERD_LOG) and lives until the machine or session ends.
#  * dockerd flags, all checked here:
#      --iptables=false --ip-forward=false
#          leave the host's firewall and forwarding alone. The default mode
#          works too (nf_tables is there), but it turns on ip_forward, sets the
#          FORWARD policy to DROP and adds a MASQUERADE rule so containers could
#          reach out; test databases need none of that. Port publishing still
#          works without iptables: dockerd's userland proxy (docker-proxy)
#          listens on the host port and forwards to the container over the
#          docker0 bridge, which is all testcontainers needs. Containers cannot
#          reach anything off this machine (`docker run` prints "IPv4 forwarding
#          is disabled. Networking will not work.": expected, harmless).
#      --ip=127.0.0.1
#          published ports bind to loopback only: not reachable from outside,
#          and no separate IPv6 ([::]) proxy. Docker 20.10 may give the [::]
#          mapping a *different* host port than the IPv4 one, so a client that
#          resolves "localhost" to ::1 first could reach another container's
#          server. With 127.0.0.1 only, that cannot happen.
#      (--bridge=none is NOT used: without the bridge, ports can't be published.)
#      storage: the default (overlay2 on the ext4 root here); if dockerd fails
#          to start with it, one retry with --storage-driver=vfs (slow: every
#          container copies the whole image).
#
#  * A second, "remote" engine (tests/plugin/test_remote_docker.py: a Docker
#    engine reached through DOCKER_HOST=tcp://127.0.0.1:$MULTIDB_REMOTE_DOCKER_PORT,
#    as CI's Docker-in-Docker or a build host would be). A dockerd of its own:
#      -H tcp://127.0.0.1:PORT only (no unix socket; plain TCP on loopback, so no
#          TLS: nothing off this machine can reach it),
#      --data-root, --exec-root (its own managed containerd under it), --pidfile
#          of its own, so the two daemons share no state,
#      --bridge=mdb-remote0: a bridge made here (172.31.250.1/24), since docker0
#          belongs to the first daemon and --bridge=none cannot publish ports,
#      the same --iptables=false --ip-forward=false --ip=127.0.0.1 as above.
#    The test images are copied into it (`docker save | docker load`) when its
#    image ids differ from the first engine's.
#
# Env: DOCKERD_LOG (default /var/log/multidb-dockerd.log), DOCKERD_WAIT seconds
# (default 60), MULTIDB_IMAGE_CACHE (see tests/images/build.sh),
# MULTIDB_REMOTE_DOCKER_PORT (default 23750), REMOTE_DOCKERD_LOG (default
# /var/log/multidb-dockerd-remote.log).
set -Eeuo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/multidb-dockerd.log}"
DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
DOCKERD_FLAGS=(--iptables=false --ip-forward=false --ip=127.0.0.1)
REMOTE_PORT="${MULTIDB_REMOTE_DOCKER_PORT:-23750}"
REMOTE_HOST="tcp://127.0.0.1:$REMOTE_PORT"
REMOTE_LOG="${REMOTE_DOCKERD_LOG:-/var/log/multidb-dockerd-remote.log}"
REMOTE_BRIDGE=mdb-remote0
REMOTE_PIDFILE=/var/run/docker-multidb-remote.pid

engine_only=0
case "${1:-}" in
    "") ;;
    --engine) engine_only=1 ;;
    *) echo "usage: $0 [--engine]" >&2; exit 2 ;;
esac

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "[docker.sh] $*"; }
die() { echo "[docker.sh] ERROR: $*" >&2; exit 1; }
T0=$(now)

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, dockerd, debootstrap)"

# One run at a time on a machine: concurrent runs would race to start dockerd
# and to build into the same scratch dirs.
exec 9>/var/lock/multidb-docker.lock
if ! flock -n 9; then
    say "another .ci/docker.sh is running: waiting for it"
    flock -w 900 9 || die "gave up waiting for the other .ci/docker.sh (15 min)"
fi

# ---- 1. packages ---------------------------------------------------------------
t=$(now)
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} = 0 ]; then
    say "packages: docker.io, debootstrap present ($(since "$t"))"
else
    aptlog=/var/log/multidb-apt.log
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or old on a fresh machine: update once if
    # apt does not know a candidate for what we need.
    : >"$aptlog"
    updated=0
    apt_update() {
        apt-get update -q >>"$aptlog" 2>&1 || { tail -n 20 "$aptlog" >&2; die "apt-get update failed (log: $aptlog)"; }
        updated=1
    }
    for p in "${need[@]}"; do
        if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            apt_update
            break
        fi
    done
    # --no-install-recommends: skips apparmor, git, needrestart, cgroupfs-mount
    # (cgroups are already mounted here). The package's attempt to start the
    # service is refused (policy-rc.d / no systemd): this script starts dockerd.
    apt_install() { apt-get install -y -q --no-install-recommends "${need[@]}" >>"$aptlog" 2>&1; }
    # An old package list can name .debs the mirror no longer has: update once, retry.
    if ! apt_install && ! { [ "$updated" = 0 ] && apt_update && apt_install; }; then
        tail -n 20 "$aptlog" >&2
        die "apt-get install ${need[*]} failed (log: $aptlog)"
    fi
    say "packages: installed ${need[*]} ($(since "$t"))"
fi

# ---- 2. engine -------------------------------------------------------------------
engine_ok() { timeout 10 docker info >/dev/null 2>&1; }

default_host=1
case "${DOCKER_HOST:-}" in
    "" | unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
    *) default_host=0 ;;
esac

# live PID NAME: PID is a running (not zombie) process called NAME. PID 1 here is
# not an init that reaps at once, so a killed daemon can linger as a zombie for
# a while, and `kill -0` alone would call it alive.
live() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$stat" == "$1 ($2) "[^Z]* ]]
}

# Pid files left by a dockerd (and its managed containerd) that was killed:
# dockerd refuses to start ("pid file found") while its pid file names a
# process that `kill -0` reaches.
clear_stale_pidfiles() {
    local f name pid
    for f in /var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd; do
        name="${f#*:}" f="${f%%:*}"
        pid="$(cat "$f" 2>/dev/null)" || continue
        if [ -n "$pid" ] && ! live "$pid" "$name"; then rm -f "$f"; fi
    done
}

# The log lines of the latest start attempt only.
last_start_log() { awk '/^---- / { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$DOCKERD_LOG" | tail -n "${1:-20}" >&2; }

# start_dockerd [extra flags...]: 0 when the engine answers, 1 when dockerd exited
start_dockerd() {
    clear_stale_pidfiles
    echo "---- $(date -u '+%F %T') dockerd ${DOCKERD_FLAGS[*]} $*" >>"$DOCKERD_LOG"
    # Own session (setsid) so that the caller's job control does not stop it;
    # 9>&-: the daemon must not inherit (and so hold forever) our lock.
    setsid nohup dockerd "${DOCKERD_FLAGS[@]}" "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    local pid=$! deadline
    deadline=$(($(date +%s) + DOCKERD_WAIT))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if engine_ok; then return 0; fi
        live "$pid" dockerd || return 1
        sleep 0.2
    done
    echo "[docker.sh] dockerd (pid $pid) still does not answer after ${DOCKERD_WAIT}s; its log:" >&2
    last_start_log
    die "Docker engine did not come up (log: $DOCKERD_LOG)"
}

t=$(now)
if engine_ok; then
    how="already running"
elif [ "$default_host" = 0 ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer (\`docker info\` fails); unset it to use a local engine"
else
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && live "$pid" dockerd; then
        # A dockerd is there but does not answer (yet): give it the bounded wait.
        deadline=$(($(date +%s) + DOCKERD_WAIT))
        until engine_ok; do
            [ "$(date +%s)" -lt "$deadline" ] ||
                die "dockerd (pid $pid) runs but does not answer after ${DOCKERD_WAIT}s (log: $DOCKERD_LOG)"
            sleep 0.5
        done
        how="was starting"
    elif start_dockerd; then
        how="started"
    elif last_start_log 50 2>&1 | grep -qiE 'graphdriver|overlay|storage.driver|driver not supported'; then
        echo "[docker.sh] dockerd exited at start (storage driver); its log:" >&2
        last_start_log 8
        say "retrying dockerd with --storage-driver=vfs"
        start_dockerd --storage-driver=vfs || {
            last_start_log
            die "dockerd does not start, even with vfs (log: $DOCKERD_LOG)"
        }
        how="started with vfs"
    else
        echo "[docker.sh] dockerd exited at start; its log:" >&2
        last_start_log
        die "dockerd does not start (log: $DOCKERD_LOG)"
    fi
fi
info="$(docker info --format '{{.ServerVersion}}, {{.Driver}}' 2>/dev/null || echo '?')"
say "engine: $how ($info) ($(since "$t"))"

# ---- 3. images ---------------------------------------------------------------------
if [ "$engine_only" = 0 ]; then
    for kind in postgres mariadb; do
        bash "$repo/tests/images/build.sh" "$kind"
    done
fi

# ---- 4. the "remote" engine (tcp://127.0.0.1:PORT) and the images in it --------------
remote_ok() { DOCKER_HOST="$REMOTE_HOST" timeout 10 docker info >/dev/null 2>&1; }
if [ "$engine_only" = 0 ]; then
    t=$(now)
    if remote_ok; then
        how="already running"
    else
        pid="$(cat "$REMOTE_PIDFILE" 2>/dev/null || true)"
        if [ -n "$pid" ] && ! live "$pid" dockerd; then rm -f "$REMOTE_PIDFILE"; fi
        rm -f /var/run/docker-multidb-remote/containerd/containerd.pid
        if ! ip link show "$REMOTE_BRIDGE" >/dev/null 2>&1; then
            ip link add name "$REMOTE_BRIDGE" type bridge
            ip addr add 172.31.250.1/24 dev "$REMOTE_BRIDGE"
        fi
        ip link set "$REMOTE_BRIDGE" up
        echo "---- $(date -u '+%F %T') remote dockerd on $REMOTE_HOST" >>"$REMOTE_LOG"
        setsid nohup dockerd "${DOCKERD_FLAGS[@]}" --bridge="$REMOTE_BRIDGE" \
            --data-root=/var/lib/docker-multidb-remote --exec-root=/var/run/docker-multidb-remote \
            --pidfile="$REMOTE_PIDFILE" -H "$REMOTE_HOST" >>"$REMOTE_LOG" 2>&1 </dev/null 9>&- &
        pid=$! deadline=$(($(date +%s) + DOCKERD_WAIT))
        until remote_ok; do
            live "$pid" dockerd || { tail -n 20 "$REMOTE_LOG" >&2; die "the remote dockerd exited (log: $REMOTE_LOG)"; }
            [ "$(date +%s)" -lt "$deadline" ] || die "the remote dockerd does not answer on $REMOTE_HOST (log: $REMOTE_LOG)"
            sleep 0.2
        done
        how="started"
    fi
    for image in multidb-test/postgres:15 multidb-test/mariadb:10.11; do
        want="$(docker image inspect --format '{{.Id}}' "$image")"
        have="$(DOCKER_HOST="$REMOTE_HOST" docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
        if [ "$want" != "$have" ]; then
            docker save "$image" | DOCKER_HOST="$REMOTE_HOST" docker load -q >/dev/null
            how="$how, loaded $image"
        fi
    done
    say "remote engine: $how on $REMOTE_HOST ($(since "$t"))"
fi
say "done in $(since "$T0")"
