#!/usr/bin/env bash
# A real, clock-driven virtual audio device for the live demo and its test (tests/test_demo.py),
# without a sound card or kernel module: a JACK server (jackd2) with its dummy backend at 16 kHz,
# which PortAudio (libportaudio2, what sounddevice loads) reaches through its JACK host API.
# The dummy backend runs one period of 256 frames (16 ms) every 16 ms of wall-clock time, like a
# sound card; its "system" ports carry silence. Clients connect to each other: the test plays a wav
# from one client into the demo's input and records the demo's output.
#
#   bash tools/ci/audio_setup.sh          install jackd2 + libportaudio2 (apt, as root) if missing,
#                                         start the server if none is running
#   bash tools/ci/audio_setup.sh stop     stop the server this script started
#
# Synchronous mode (-S; AVSE_JACK_SYNC=0 turns it off): the server waits for every client each
# period, so a client that the machine (another job, the hypervisor) kept off the CPU for a few ms
# delays the period instead of letting the others read a stale or half-written buffer. In the default
# asynchronous mode that happened without any client being told (the late client gets the xrun, the
# reader does not): the cause of the live-demo test's "samples were lost or changed" on idle machines.
# How long the server waits is its client timeout (-t; by default two periods, 32 ms, which a
# virtual machine's vCPU being descheduled by its host exceeds now and then): 2 s here.
#
# Real-time scheduling (-R) is used where allowed (root, or an rtprio limit), so that other jobs on
# the machine cannot make the server or its clients miss a period; elsewhere it runs without.
set -euo pipefail

RATE="${AVSE_JACK_RATE:-16000}"
PERIOD="${AVSE_JACK_PERIOD:-256}"
SYNC="${AVSE_JACK_SYNC:-1}"
TIMEOUT_MS="${AVSE_JACK_TIMEOUT_MS:-2000}"
STATE="${AVSE_AUDIO_STATE:-${TMPDIR:-/tmp}/avse-audio}"
mkdir -p "$STATE"
PIDFILE="$STATE/jackd.pid"
LOG="$STATE/jackd.log"

# Stop returns only once the server has exited: a start right after a stop that did not wait found
# the old server still registered ("'default' server already active") and failed, or clients
# reached the dying one.
stop_server() {
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
            sleep 0.2
        fi
        echo "audio_setup: JACK server $pid stopped"
    fi
    rm -f "$PIDFILE"
}

if [ "${1:-start}" = "stop" ]; then
    stop_server
    exit 0
fi

have_portaudio() {
    ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2'
}

if ! command -v jackd >/dev/null 2>&1 || ! command -v jack_wait >/dev/null 2>&1 || ! have_portaudio; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends jackd2 libportaudio2 >/dev/null
    else
        echo "audio_setup: needs jackd2 and libportaudio2: run as root on Debian/Ubuntu, or" \
             "sudo apt-get install jackd2 libportaudio2" >&2
        exit 1
    fi
fi

running() {
    [ "$(jack_wait -c 2>/dev/null)" = "running" ]
}

if running; then
    echo "audio_setup: a JACK server is already running (its sample rate must be $RATE Hz for the demo)"
    exit 0
fi

start() {
    # setsid: the server outlives this script (CI runs the tests after it returns).
    local sync=()
    [ "$SYNC" = 1 ] && sync=(-S -t "$TIMEOUT_MS")
    setsid jackd "$@" "${sync[@]}" -d dummy -r "$RATE" -p "$PERIOD" -C 2 -P 2 >"$LOG" 2>&1 < /dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 50); do
        running && return 0
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

mode="real-time"
if ! start -R -P 70; then
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    mode="non-real-time"
    start --no-realtime || { echo "audio_setup: jackd did not start; see $LOG" >&2; cat "$LOG" >&2; exit 1; }
fi
if grep -qi "cannot use real-time\|cannot lock down" "$LOG"; then
    mode="non-real-time (no permission for real-time scheduling)"
fi
[ "$SYNC" = 1 ] && mode="$mode, synchronous"
echo "audio_setup: JACK dummy server (pid $(cat "$PIDFILE")) at $RATE Hz, $PERIOD-frame periods, $mode; log $LOG"
