#!/usr/bin/env bash
# Build a local database test image from Debian packages (no registry needed).
#
#   tests/images/build.sh postgres   ->  multidb-test/postgres:15
#   tests/images/build.sh mariadb    ->  multidb-test/mariadb:10.11
#
# How: `debootstrap --variant=minbase --include=<server package> bookworm` into a
# scratch dir, strip docs/man/locales/JIT, bake test tuning into the server's
# default config, copy tests/images/KIND/entrypoint.sh in, then
# `tar | docker import` with --change for ENTRYPOINT/CMD/ENV/EXPOSE/LABEL.
#
# Caching: the image carries the label multidb.inputs=<sha256 of this script and
# every file in tests/images/KIND/>. When an image with that tag and label exists
# the build is skipped (pass --force to rebuild). Downloaded .debs are kept in
# $MULTIDB_IMAGE_CACHE/debs (default /var/cache/multidb-images, outside the repo)
# so a rebuild after an entrypoint change does not download again.
#
# Needs: root, debootstrap, a running Docker engine (see .ci/docker.sh).
set -Eeuo pipefail

usage() { echo "usage: $0 [--force] postgres|mariadb" >&2; exit 2; }

force=0
kind=""
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        postgres|mariadb) kind="$arg" ;;
        *) usage ;;
    esac
done
[ -n "$kind" ] || usage

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
case "$kind" in
    postgres)
        tag=multidb-test/postgres:15
        packages=postgresql-15
        ;;
    mariadb)
        tag=multidb-test/mariadb:10.11
        packages=mariadb-server
        ;;
esac

cache="${MULTIDB_IMAGE_CACHE:-/var/cache/multidb-images}"
label_key=multidb.inputs

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
say() { echo "[images/$kind] $*"; }
die() { echo "[images/$kind] ERROR: $*" >&2; exit 1; }

# ---- input hash: this script + everything in tests/images/KIND/ ------------
inputs_hash() {
    (
        cd "$here"
        { echo "build.sh"; find "$kind" -type f | LC_ALL=C sort; } |
            while read -r f; do
                printf '%s\n' "$f"
                sha256sum <"$f"
            done
    ) | sha256sum | cut -c1-16
}
hash="$(inputs_hash)"

# One build per kind at a time (a second caller waits, then finds it up to date).
mkdir -p "$cache"
exec 8>"$cache/$kind.lock"
flock -w 900 8 || die "another build of $kind holds $cache/$kind.lock"

if [ "$force" = 0 ]; then
    have="$(docker image inspect --format "{{ index .Config.Labels \"$label_key\" }}" "$tag" 2>/dev/null || true)"
    if [ "$have" = "$hash" ]; then
        say "$tag up to date (inputs $hash)"
        exit 0
    fi
    [ -n "$have" ] && say "$tag is stale (inputs ${have:-none} != $hash): rebuilding"
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (run .ci/docker.sh)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (run .ci/docker.sh)"

# ---- Debian mirror: read from the machine's apt sources, never hard-coded ---
debian_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources m=""
    if [ -r "$f" ]; then
        # deb822: first stanza whose Suites has exactly "$suite" -> its first URI
        m="$(awk -v suite="$suite" '
            function flush() { if (!found && uris != "" && has) { found = 1; print uris } uris = ""; has = 0 }
            /^[[:space:]]*$/ { flush(); next }
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
            END { flush() }' "$f")"
    fi
    if [ -z "$m" ]; then
        m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v suite="$suite" '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit } }')"
    fi
    [ -n "$m" ] || die "no apt source for '$suite' in /etc/apt/sources.list{,.d/}"
    echo "${m%/}"
}
mirror="$(debian_mirror)"

# ---- scratch rootfs ---------------------------------------------------------
mkdir -p "$cache/debs" "$cache/rootfs"
root="$cache/rootfs/$kind"

cleanup_root() {
    [ -d "$root" ] || return 0
    # debootstrap mounts proc/sys (and maybe more) inside the target: unmount
    # anything left there (deepest first) before deleting.
    awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$root"
}
trap cleanup_root EXIT
cleanup_root

t0=$(now)
say "debootstrap $suite minbase + $packages from $mirror ..."
if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debs" \
    "$suite" "$root" "$mirror" >"$cache/debootstrap-$kind.log" 2>&1; then
    tail -n 30 "$cache/debootstrap-$kind.log" >&2
    die "debootstrap failed (full log: $cache/debootstrap-$kind.log)"
fi
say "debootstrap done in $(since "$t0") ($(du -sh --one-file-system "$root" | cut -f1))"

# ---- strip what a throw-away test server never uses -------------------------
t0=$(now)
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/usr/share/i18n "$root"/usr/share/lintian \
    "$root"/usr/share/bug "$root"/usr/share/common-licenses \
    "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
    "$root"/var/cache/man "$root"/var/log/* "$root"/tmp/* "$root"/root/.??* 2>/dev/null || true
# dpkg/apt are kept (so the image can be inspected), but future installs skip docs too.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-exclude=/usr/share/man/*' \
    'path-exclude=/usr/share/locale/*' 'path-exclude=/usr/share/info/*' >"$root/etc/dpkg/dpkg.cfg.d/multidb-nodoc"

case "$kind" in
postgres)
    pgbin=/usr/lib/postgresql/15/bin
    [ -x "$root$pgbin/postgres" ] || die "postgresql-15 did not install $pgbin/postgres"
    # JIT is off (jit = off below): drop LLVM and its libz3 (~130 MB); only llvmjit.so links them.
    rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode \
        "$root"/usr/lib/x86_64-linux-gnu/libLLVM-* "$root"/usr/lib/llvm-* \
        "$root"/usr/lib/x86_64-linux-gnu/libz3.so*
    # postgresql-common's postinst created a 'main' cluster: the entrypoint makes its own in $PGDATA.
    rm -rf "$root"/var/lib/postgresql/15 "$root"/etc/postgresql/15
    # Test tuning, baked into the sample initdb copies to $PGDATA/postgresql.conf.
    # Durability is traded for speed: a crashed test server is thrown away anyway.
    cat >>"$root/usr/share/postgresql/15/postgresql.conf.sample" <<'EOF'

# ---- multidb-test image: tuned for throw-away test servers ----
listen_addresses = '*'
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 1GB
checkpoint_timeout = 30min
jit = off
unix_socket_directories = '/var/run/postgresql'
EOF
    ;;
mariadb)
    [ -x "$root/usr/sbin/mariadbd" ] || die "mariadb-server did not install /usr/sbin/mariadbd"
    # The package's postinst ran mariadb-install-db: the entrypoint initialises its own.
    rm -rf "$root"/var/lib/mysql/* "$root"/var/lib/mysql-files/* "$root"/var/lib/mysql-keyring/*
    # Offline table/log tools, ~5 MB each (statically linked), never used by a test
    # server; the server, the client, admin/dump/import/check/upgrade, tzinfo and
    # what mariadb-install-db calls (my_print_defaults, resolveip) stay.
    (cd "$root/usr/bin" && rm -f aria_chk aria_dump_log aria_ftdump aria_pack aria_read_log \
        myisamchk myisampack myisam_ftdump myisamlog mariadb-slap mariadb-binlog innochecksum \
        mariadb-conv resolve_stack_dump replace perror mariadb-waitpid mariadb-plugin &&
        find . -maxdepth 1 -xtype l -delete)
    # 99-* sorts after Debian's 50-server.cnf (which binds 127.0.0.1 only).
    cat >"$root/etc/mysql/mariadb.conf.d/99-multidb-test.cnf" <<'EOF'
# ---- multidb-test image: tuned for throw-away test servers ----
[mariadbd]
bind-address = 0.0.0.0
port = 3306
skip-name-resolve
skip-host-cache
skip-log-bin
max_connections = 200
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
innodb_log_buffer_size = 4M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
innodb_flush_method = nosync
innodb_buffer_pool_load_at_startup = 0
innodb_buffer_pool_dump_at_shutdown = 0
sync_binlog = 0
performance_schema = OFF
EOF
    ;;
esac
install -m 0755 "$here/$kind/entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$root/docker-entrypoint-initdb.d"
say "stripped + configured in $(since "$t0") ($(du -sh --one-file-system "$root" | cut -f1))"

# ---- import ------------------------------------------------------------------
# (docker import --change accepts CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD USER
#  VOLUME WORKDIR HEALTHCHECK; no STOPSIGNAL, so `docker stop` sends SIGTERM.)
common_env=(
    --change 'ENV LANG=C.UTF-8'
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
    --change "LABEL $label_key=$hash"
    --change "LABEL multidb.suite=$suite"
)
case "$kind" in
postgres)
    changes=(
        --change "ENV PATH=$pgbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        --change 'ENV PG_MAJOR=15'
        --change 'ENV PGDATA=/var/lib/postgresql/data'
        --change 'EXPOSE 5432'
        --change 'CMD ["postgres"]'
    )
    ;;
mariadb)
    changes=(
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        --change 'EXPOSE 3306'
        --change 'CMD ["mariadbd"]'
    )
    ;;
esac

t0=$(now)
old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
tar -C "$root" --numeric-owner --one-file-system \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
    -c . | docker import "${common_env[@]}" "${changes[@]}" - "$tag" >/dev/null
new_id="$(docker image inspect --format '{{.Id}}' "$tag")"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true # untagged leftover of the previous build
fi
size="$(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
say "imported $tag ($size, inputs $hash) in $(since "$t0")"
