# lib.sh - shared helpers of the integration tests (sourced, bash).
#
# Each test gets a private work directory, starts real processes
# (opentracker, ezio-deploy, aria2c ...) and registers them here so that an
# EXIT trap stops every one, detaches loop devices and removes the
# directory, even when the test fails or is interrupted.  Every wait is
# bounded.  Traffic stays on 127.0.0.0/8, on the script's own ports (port).

set -u
EZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${EZ_BIN:-$EZ_ROOT/build}
PY=/usr/bin/python3     # Debian's interpreter; the helpers need only its stdlib
IMG="$PY $EZ_ROOT/tests/integration/ezio_image.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ezio-it.XXXXXX")
chmod 755 "$WORK"
PIDS=()
LOOPS=()
MOUNTS=()
SWAPS=()
T_PASS=0
T_FAIL=0

# forget_partitions DEV: drop the partitions the kernel knows of loop
# device DEV: those added with BLKPG (partx -a, ezio-deploy) outlive the
# loop device's detaching and would greet the next user of its number
forget_partitions() {
        partx -d "$1" 2>/dev/null
}

cleanup() {
        local p m l
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        for p in "${PIDS[@]}"; do
                for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$p" 2>/dev/null
        done
        for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
        for m in "${SWAPS[@]}"; do swapoff "$m" 2>/dev/null; done
        for l in "${LOOPS[@]}"; do forget_partitions "$l"; losetup -d "$l" 2>/dev/null; done
        # loop_setup is mostly called as $(...), a subshell whose LOOPS is
        # lost: detach every loop device backed by a file of this test
        losetup -n -l -O NAME,BACK-FILE 2>/dev/null | while read -r l b; do
                case "$b" in "$WORK"/*) forget_partitions "$l"; losetup -d "$l" 2>/dev/null ;; esac
        done
        rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports.  Every script that sources this file has its own block of
# PORT_BLOCK ports from PORT_BASE on, by its place in PORT_SCRIPTS, so that
# two scripts run at the same time never want the same port; within its
# block a script numbers its ports itself: $(port 0), $(port 1) ...  The
# blocks lie in 20000-23999, below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range, 32768 and up by default) from which
# outgoing connections take their source ports.  A new script goes at the
# end of the list (20 at most), so that the others keep their blocks.
PORT_BLOCK=200
PORT_SCRIPTS=(test-swarm test-config test-errors test-fetch test-filesystems test-hybrid test-requests
        test-resume test-swift test-verify test-bench test-docs test-install demo receiver-rss test-partitions
        test-malformed test-ssl test-racks test-images)
PORT_BASE=
for _slot in "${!PORT_SCRIPTS[@]}"; do
        [ "${PORT_SCRIPTS[$_slot]}" = "$(basename "$0")" ] && PORT_BASE=$((20000 + _slot * PORT_BLOCK))
done
unset _slot

# port N: this script's port N (0 <= N < PORT_BLOCK), PORT_BASE + N
port() {
        if [ -z "$PORT_BASE" ]; then
                echo "$(basename "$0") has no block of ports: add it to PORT_SCRIPTS in lib.sh" >&2
                return 1
        fi
        if [ "$1" -lt 0 ] || [ "$1" -ge "$PORT_BLOCK" ]; then
                echo "port $1: outside the block of $PORT_BLOCK ports of $(basename "$0")" >&2
                return 1
        fi
        echo $((PORT_BASE + $1))
}

# bg CMD...: start CMD in the background and remember its pid in $!
bg() {
        "$@" &
        PIDS+=($!)
}

ok() {
        T_PASS=$((T_PASS + 1))
        echo "ok - $*"
}

not_ok() {
        T_FAIL=$((T_FAIL + 1))
        echo "not ok - $*"
}

# check DESCRIPTION CMD...: pass when CMD succeeds
check() {
        local d=$1
        shift
        if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# expect CODE PATTERN DESC CMD...: CMD exits CODE and its stderr is one
# line matching PATTERN (stdout in out.txt, stderr in err.txt)
expect() {
        local code=$1 pat=$2 desc=$3 rc
        shift 3
        "$@" > out.txt 2> err.txt
        rc=$?
        status_valid out.txt > status.txt || { not_ok "$desc: its status lines break the schema"; cat status.txt; }
        if [ $rc -ne "$code" ]; then
                not_ok "$desc: exit $rc, expected $code"
                cat err.txt
        elif ! grep -qE -- "$pat" err.txt || [ "$(wc -l < err.txt)" -ne 1 ]; then
                not_ok "$desc: stderr does not match '$pat'"
                cat err.txt
        else
                ok "$desc"
        fi
}

# wait_port HOST PORT: until something listens there (10 s at most)
wait_port() {
        for _ in $(seq 100); do
                (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
                sleep 0.1
        done
        echo "nothing listens on $1:$2" >&2
        return 1
}

# wait_pid PID SECONDS: wait for PID to exit; kills it after SECONDS.
# Sets WAIT_RC to its exit code (124 on time-out).
wait_pid() {
        local pid=$1 limit=$2 i
        for ((i = 0; i < limit * 10; i++)); do
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid"
                        WAIT_RC=$?
                        return 0
                fi
                sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        WAIT_RC=124
}

# start_tracker PORT INFOHASH...: opentracker on 127.0.0.1:PORT that
# accepts only the given info-hashes (Debian's build needs a whitelist and
# refuses to run as root, so it drops to nobody).
start_tracker() {
        local port=$1
        shift
        mkdir -p "$WORK/tracker"
        chmod 755 "$WORK/tracker"
        printf '%s\n' "$@" > "$WORK/tracker/whitelist"
        chmod 644 "$WORK/tracker/whitelist"
        bg opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$WORK/tracker" -w whitelist -u nobody \
                > "$WORK/tracker/log" 2>&1
        wait_port 127.0.0.1 "$port"
}

# start_seeder PORT ARGS...: an ezio-deploy seeder (--seed -q ARGS...)
# listening on 127.0.0.1:PORT, stopped on exit; returns once it listens
# (1 if it does not within 10 s), its pid in $! as with bg
start_seeder() {
        local port=$1
        shift
        bg "$BIN/ezio-deploy" --seed -l "127.0.0.1:$port" -q "$@"
        wait_port 127.0.0.1 "$port"
}

# fill FILE SIZE_MIB HEXBYTE: a file of SIZE_MIB MiB holding one byte value
fill() {
        $PY -c "import sys; open(sys.argv[1], 'wb').write(bytes([int(sys.argv[3], 16)]) * (int(sys.argv[2]) << 20))" "$@"
}

# loop_setup FILE [LOSETUP OPTIONS]: attach FILE to a free loop device and
# print its path; fails (quietly) where loop devices cannot be used.
# Detached on exit (by its backing file, since $(loop_setup ...) runs in a
# subshell).
loop_setup() {
        local dev
        dev=$(losetup -f --show "${@:2}" "$1" 2>/dev/null) || return 1
        LOOPS+=("$dev")
        echo "$dev"
}

# scrape PORT HASH FIELD: FIELD (complete, incomplete, downloaded) of the
# torrent HASH (hex) in the scrape of the tracker on 127.0.0.1:PORT
scrape() {
        $PY -c "
import re, sys, urllib.parse, urllib.request
h = urllib.parse.quote(bytes.fromhex(sys.argv[2]))
body = urllib.request.urlopen('http://127.0.0.1:%s/scrape?info_hash=%s' % (sys.argv[1], h), timeout=5).read()
m = re.search(b'%d:%si(\\d+)e' % (len(sys.argv[3]), sys.argv[3].encode()), body)
print(m.group(1).decode() if m else 0)" "$@"
}

# wait_seeders PORT HASH N: until the tracker on 127.0.0.1:PORT counts N
# seeders of HASH (1 if it does not within 10 s)
wait_seeders() {
        local i
        for i in $(seq 50); do
                [ "$(scrape "$@" complete 2>/dev/null)" -ge "$3" ] 2>/dev/null && return 0
                sleep 0.2
        done
        return 1
}

# json_field FILE KEY: KEY of the last JSON line in FILE
json_field() {
        $PY -c "
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{')]
print(json.loads(lines[-1]).get(sys.argv[2], ''))" "$1" "$2"
}

# status_valid PATH...: every ezio-deploy status line in PATH (files, or
# folders searched whole) holds to the published schema, and the phases
# of every stream of them come in its order (status_schema.py)
status_valid() {
        $PY "$EZ_ROOT/tests/integration/status_schema.py" "$EZ_ROOT/config/ezio-status.schema.json" "$@"
}

# secret VALUE FILE...: VALUE is a secret (a token, a signature, a key)
# that may be in the FILEs (relative to $WORK) and in no other file the
# test leaves: finish() searches every one of them
SECRETS=()
SECRET_FILES=()
secret() {
        SECRETS+=("$1")
        shift
        SECRET_FILES+=("$@")
}

# secrets_nowhere: no file of $WORK but those named holds a secret
secrets_nowhere() {
        local s f hits=""
        for s in "${SECRETS[@]}"; do
                while IFS= read -r f; do
                        f=${f#"$WORK"/}
                        [[ " ${SECRET_FILES[*]} " == *" $f "* ]] || hits="$hits $f"
                done < <(grep -rlaF -- "$s" "$WORK" 2> /dev/null)
        done
        if [ -n "$hits" ]; then
                not_ok "${#SECRETS[@]} secret(s) in files that must not hold them:$hits"
        else
                ok "${#SECRETS[@]} secret(s) in no log, status or output of the test ($(find "$WORK" -type f | wc -l) files)"
        fi
}

finish() {
        local v
        [ ${#SECRETS[@]} -eq 0 ] || secrets_nowhere
        # every status line the test kept, against the contract
        if v=$(status_valid "$WORK"); then
                case $v in
                *" 0 status lines"*) ;;
                *) ok "${v##*$'\n'}: all hold to config/ezio-status.schema.json" ;;
                esac
        else
                not_ok "status lines against config/ezio-status.schema.json"
                echo "$v"
        fi
        echo "$(basename "$0"): $T_PASS passed, $T_FAIL failed"
        [ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}
