#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a Windows program under Wine for ctest (the MinGW preset's CMAKE_CROSSCOMPILING_EMULATOR)
# in a Wine prefix of its own, made on first use. A crash must fail the test: by default Wine
# starts a debugger on an unhandled exception, and a crash in a thread other than the main one
# can then end the process with status 0. The prefix's AeDebug debugger is a program that does
# not exist, so an unhandled exception ends the process at once with the exception's code.
set -Eeuo pipefail
trap 'echo "wine-run.sh: line $LINENO failed (status $?)" >&2' ERR
export WINEPREFIX="${PMRKIT_WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/pmrkit-wine}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}" # no Mono or Gecko installer
aedebug='HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug'
mkdir -p "$(dirname "$WINEPREFIX")"
(
    flock 9 # ctest runs tests in parallel: one of them makes the prefix
    if [ ! -f "$WINEPREFIX/.pmrkit-ready" ]; then
        wineboot --init >/dev/null 2>&1
        wine reg add "$aedebug" /v Debugger /d 'pmrkit-no-debugger.exe' /f >/dev/null 2>&1
        wine reg add "$aedebug" /v Auto /d 1 /f >/dev/null 2>&1
        wineserver --wait
        touch "$WINEPREFIX/.pmrkit-ready"
    fi
) 9>"$WINEPREFIX.lock"
# A program that dies before it flushes its output, or a Wine or a step above that fails before it
# starts, leaves ctest nothing to show but "Failed": these lines say which, and the status.
status=0
wine "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "wine-run.sh: $1 ended with status $status" >&2
fi
exit "$status"
