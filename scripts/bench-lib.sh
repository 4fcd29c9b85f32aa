# Shared machinery of scripts/bench, sourced, never run: the throwaway
# project and its cleanup, filling the database, timing side by side, peak
# RSS sampling, statistics and the machine description. scripts/bench
# decides what is measured and prints the table.
#
# Callers set bench_tag (a word for log lines and names) and run
#   bench_args "$@"; bench_tools; bench_build; bench_project
# then use the rest. Times are in microseconds, memory in KiB, sizes in bytes
# until printed.

bench_log() { printf '[%s] %s\n' "$bench_tag" "$*" >&2; }
bench_fail() { bench_log "$*"; exit 1; }

# bench_args [podman|docker] [RUNS]: sets engine, compose, runs (default 3)
# and mb (BENCH_MB, default 600).
bench_args() {
    engine="${1:-podman}"
    runs="${2:-3}"
    mb="${BENCH_MB:-600}"
    case "$engine" in
        podman) compose=podman-compose ;;
        docker) compose=docker-compose ;;
        *) echo "usage: $0 [podman|docker] [RUNS]" >&2; exit 2 ;;
    esac
    case "$runs$mb" in
        *[!0-9]*) echo "usage: $0 [podman|docker] [RUNS] (RUNS and BENCH_MB are whole numbers)" >&2; exit 2 ;;
    esac
    [ "$runs" -ge 1 ] && [ "$mb" -ge 10 ] || { echo "$0: RUNS >= 1 and BENCH_MB >= 10" >&2; exit 2; }
}

# The zstd CLI for the `pg_dump | zstd` baseline (Debian package).
bench_tools() {
    command -v zstd >/dev/null 2>&1 && return
    bench_log "installing Debian package zstd"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq zstd >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && apt-get install -y -qq zstd >/dev/null; }
}

bench_build() {
    cargo build --release -q
    budgie="$PWD/target/release/budgie"
}

# bench_project: a temp dir with a compose file (a `db` service from
# localhost/budgie-postgres:15 and an `app` service, each with a named
# volume, no published ports; see scripts/build-test-images), started with
# `budgie start`. Sets dir, name and cid (the db container). Everything it
# creates is removed on exit, also on failure or Ctrl-C.
bench_project() {
    dir="$(mktemp -d "${TMPDIR:-/tmp}/$bench_tag.XXXXXX")"
    name="$bench_tag$$"
    bg_pid=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cat >"$dir/compose.yml" <<'YAML'
services:
  db:
    image: localhost/budgie-postgres:15
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: bench, POSTGRES_DB: app}
    volumes: [pgdata:/var/lib/postgresql/data]
  app:
    image: localhost/budgie-app:1
    command: ["sh", "-c", "while true; do sleep 3600; done"]
    volumes: [files:/files]
volumes:
  pgdata:
  files:
YAML
    unset BUDGIE_BACKUP_DIR BUDGIE_COMPRESS
    export BUDGIE_ENGINE="$engine" BUDGIE_COMPOSE="$compose" NO_COLOR=1
    bench_log "starting project $name ($engine, $compose) in $dir"
    budgie_ -q start
    cid="$("$engine" ps -q --filter "label=com.docker.compose.project=$name" \
        --filter "label=com.docker.compose.service=db")"
    [ "$(wc -w <<<"$cid")" -eq 1 ] || bench_fail "expected one running db container, found: ${cid:-none}"
    bench_hwm_lib
}

# $dir/hwm.so: preloaded into budgie by measure_rss, it writes budgie's
# VmHWM (peak resident memory) to $BENCH_HWM_OUT as budgie exits, so no
# peak is missed between two samples. It removes itself from the
# environment first: budgie's children (the engine CLI) do not inherit it.
bench_hwm_lib() {
    command -v cc >/dev/null 2>&1 || bench_fail "a C compiler (cc) is needed to read budgie's peak memory"
    cat >"$dir/hwm.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char out[4096];
__attribute__((constructor)) static void start(void) {
    const char *o = getenv("BENCH_HWM_OUT");
    if (!o || strlen(o) >= sizeof out) return;
    strcpy(out, o);
    unsetenv("BENCH_HWM_OUT");
    unsetenv("LD_PRELOAD");
}
__attribute__((destructor)) static void stop(void) {
    char line[256];
    FILE *s, *o;
    if (!out[0] || !(s = fopen("/proc/self/status", "r"))) return;
    while (fgets(line, sizeof line, s))
        if (!strncmp(line, "VmHWM:", 6) && (o = fopen(out, "w"))) {
            fprintf(o, "%ld\n", strtol(line + 6, NULL, 10));
            fclose(o);
        }
    fclose(s);
}
C
    cc -shared -fPIC -O2 -o "$dir/hwm.so" "$dir/hwm.c"
}

# The project's containers, volumes, networks (and podman's pod, which
# podman-compose's `down` leaves), then the temp dir.
bench_cleanup() {
    local rc=$? label left
    trap - EXIT INT TERM
    [ -z "${bg_pid:-}" ] || kill "$bg_pid" 2>/dev/null || true
    [ -z "${moto_pid:-}" ] || kill "$moto_pid" 2>/dev/null || true
    # scripts/bench's ssh part: budgie's SSH master, the sshd, podman's service.
    for ctl in "${dir:-/nonexistent}"/ssh/run/budgie-ssh/*.ctl; do
        if [ -S "$ctl" ]; then ssh -S "$ctl" -O exit x >/dev/null 2>&1 || true; fi
    done
    [ -z "${sshd_pid:-}" ] || kill "$sshd_pid" 2>/dev/null || true
    [ -z "${podman_service_pid:-}" ] || kill "$podman_service_pid" 2>/dev/null || true
    if [ -n "${dir:-}" ] && [ -f "$dir/compose.yml" ]; then
        bench_log "removing project $name"
        (cd "$dir" && "$compose" -p "$name" down -v >/dev/null 2>&1) || true
        label="label=com.docker.compose.project=$name"
        "$engine" ps -aq --filter "$label" 2>/dev/null | xargs -r "$engine" rm -f >/dev/null 2>&1 || true
        "$engine" volume ls -q --filter "$label" 2>/dev/null | xargs -r "$engine" volume rm -f >/dev/null 2>&1 || true
        "$engine" network ls -q --filter "$label" 2>/dev/null | xargs -r "$engine" network rm >/dev/null 2>&1 || true
        if [ "$engine" = podman ] && podman pod exists "pod_$name" 2>/dev/null; then
            podman pod rm -f "pod_$name" >/dev/null 2>&1 || true
        fi
        left="$("$engine" ps -aq --filter "$label" 2>/dev/null || true)"
        left+="$("$engine" volume ls -q --filter "$label" 2>/dev/null || true)"
        left+="$("$engine" network ls -q --filter "$label" 2>/dev/null || true)"
        [ -z "$left" ] || bench_log "WARNING: project $name left something behind: $left"
    fi
    [ -z "${dir:-}" ] || rm -rf "$dir"
    exit "$rc"
}

budgie_() { "$budgie" -C "$dir" -p "$name" "$@"; }
sql_on() { "$engine" exec "$cid" psql -X -q -At -v ON_ERROR_STOP=1 -U app -d "$1" -c "$2"; }
sql() { sql_on app "$1"; }
dbsize() { sql "select pg_database_size(current_database())"; }

# Rows of about 300 bytes (under the TOAST threshold, so nothing is
# compressed in the table): an id, a timestamp, and text that compresses
# about as well as real data does (md5 hex, part of it repeated).
next_id=1
insert_rows() { # N
    local last=$(( next_id + $1 - 1 ))
    [ "$next_id" -gt 1 ] || sql "create table bench_rows (id bigint, created timestamptz, code text, note text)"
    sql "insert into bench_rows
         select g, timestamptz '2024-01-01' + g * interval '1 second', md5(g::text),
                repeat(md5(g::text), 4) || md5((g::bigint * 7919)::text) || md5((-g)::text)
         from generate_series($next_id, $last) g"
    next_id=$(( last + 1 ))
}
# fill_to MIB: inserts until pg_database_size reaches it, then settles.
fill_to() {
    local target=$(( $1 * 1048576 )) prev after per_row n=10000
    prev="$(dbsize)"
    insert_rows "$n"
    after="$(dbsize)"
    while [ "$after" -lt "$target" ]; do
        per_row=$(( (after - prev) / n ))
        [ "$per_row" -gt 0 ] || per_row=300
        n=$(( (target - after) / per_row + 1000 ))
        [ "$n" -le 1000000 ] || n=1000000
        prev="$after"
        insert_rows "$n"
        after="$(dbsize)"
        bench_log "database $(mib "$after") MiB of $1 MiB"
    done
    settle
}
# The same state for every dump: hint bits set, all frozen, statistics
# fresh, pages in the cache. Needed after filling and after a restore
# (a freshly loaded table would make the next dump pay for its hint bits).
settle() { sql "vacuum (freeze, analyze) bench_rows"; }

# Waits (outside any clock) until the databases budgie drops in the
# background after a restore are gone (snapshots and their ready copies stay), so that drop's checkpoint does not
# land in the next measurement.
wait_old_dropped() {
    local i
    for i in $(seq 1 600); do
        [ "$(sql_on postgres "select count(*) from pg_database where datname like '%\\_budgie\\_%' and datname not like '%\\_budgie\\_snap\\_%' and datname not like '%\\_budgie\\_copy\\_%'")" = 0 ] && return
        sleep 0.5
    done
    bench_fail "a database budgie set aside during a restore was still there after 5 minutes"
}

now_us() { local t="$EPOCHREALTIME"; echo "${t/./}"; }

# timed_rounds ROUNDS BEFORE AFTER KEY...: runs run_KEY for every KEY,
# ROUNDS times, the order reversed every other round; `BEFORE KEY` and
# `AFTER KEY` (function names, or `:`) run outside the clock. Appends the
# wall time of each run to times[KEY]. label[KEY] names it in the log.
declare -A times label
timed_rounds() {
    local rounds=$1 before=$2 after=$3 round i key t
    shift 3
    local keys=("$@") order
    for round in $(seq 1 "$rounds"); do
        order=("${keys[@]}")
        if [ $(( round % 2 )) -eq 0 ]; then
            order=()
            for (( i = ${#keys[@]} - 1; i >= 0; i-- )); do order+=("${keys[$i]}"); done
        fi
        for key in "${order[@]}"; do
            "$before" "$key"
            t=$(now_us)
            "run_$key" 2>"$dir/err" || { cat "$dir/err" >&2; bench_fail "${label[$key]:-$key} failed"; }
            t=$(( $(now_us) - t ))
            times[$key]+=" $t"
            "$after" "$key"
            bench_log "round $round/$rounds: ${label[$key]:-$key}: $(secs "$t") s"
        done
    done
}

# measure_rss ARGS...: runs `budgie -q ARGS`. Sets rss_own (budgie's own
# VmHWM, its peak resident memory: as it exits, see bench_hwm_lib, or the
# largest sample if that is larger) and rss_child (the largest VmHWM among
# its children, the engine CLI), sampling /proc every 50 ms.
measure_rss() {
    local k v _ c at_exit
    rss_own=0 rss_child=0
    rm -f "$dir/hwm"
    BENCH_HWM_OUT="$dir/hwm" LD_PRELOAD="$dir/hwm.so" \
        "$budgie" -C "$dir" -p "$name" -q "$@" >/dev/null 2>"$dir/err" &
    bg_pid=$!
    while kill -0 "$bg_pid" 2>/dev/null; do
        { while read -r k v _; do
              [ "$k" = VmHWM: ] && [ "$v" -gt "$rss_own" ] && rss_own=$v
          done <"/proc/$bg_pid/status"; } 2>/dev/null || true
        for c in $(pgrep -P "$bg_pid" || true); do
            { while read -r k v _; do
                  [ "$k" = VmHWM: ] && [ "$v" -gt "$rss_child" ] && rss_child=$v
              done <"/proc/$c/status"; } 2>/dev/null || true
        done
        sleep 0.05
    done
    wait "$bg_pid" || { cat "$dir/err" >&2; bench_fail "budgie $* failed"; }
    bg_pid=""
    at_exit="$(cat "$dir/hwm" 2>/dev/null || true)"
    [ -n "$at_exit" ] || bench_fail "budgie $* did not report its peak memory as it exited"
    [ "$at_exit" -le "$rss_own" ] || rss_own=$at_exit
}

# Statistics and units.
median() { # microseconds... -> seconds
    tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'
}
secs() { awk -v t="$1" 'BEGIN { printf "%.2f", t / 1e6 }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
at_most() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }'; }
below() { awk -v r="$1" -v t="$2" 'BEGIN { print (r < t ? "PASS" : "FAIL") }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
kib_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# machine_info: the lines a README quotes with a table.
machine_info() {
    local ev cv os cpu ram pg
    ev="$("$engine" version --format '{{.Client.Version}}' 2>/dev/null || echo '?')"
    cv="$("$compose" version 2>/dev/null | grep -i -m1 compose | grep -o '[0-9]\+\(\.[0-9]\+\)\+' | head -n1 || true)"
    os="$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
    cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    ram="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    pg="$(sql "show server_version")"
    printf '%-15s %s\n' \
        date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        machine "$(nproc) cores (nproc), ${cpu:-?}, $ram RAM" \
        system "$os, kernel $(uname -r)" \
        engine "$engine $ev, $compose ${cv:-?}" \
        PostgreSQL "$pg (localhost/budgie-postgres:15)" \
        budgie "$("$budgie" --version | awk '{ print $NF }'), release build of $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' with local changes')"
}
