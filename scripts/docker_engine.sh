#!/usr/bin/env bash
# Make a Docker engine answer for the compose runtime's tests: nothing to do when `docker info`
# works; as root on Debian, install docker.io + debootstrap (the offline base image) and start
# dockerd in the background. Otherwise say what to do; the Docker tests then fail naming it
# (or are skipped with SANDBOX_SKIP_DOCKER_TESTS=1).
set -uo pipefail

engine_answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if engine_answers && [ ${#need[@]} -eq 0 -o "${need[*]}" = "docker.io" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "docker_engine.sh: no Docker engine answers and I cannot install one here (needs root and apt-get);" \
         "start dockerd yourself, or set SANDBOX_SKIP_DOCKER_TESTS=1" >&2
    exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "docker_engine.sh: installing ${need[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || {
            echo "docker_engine.sh: apt-get install ${need[*]} failed" >&2; exit 0; }
fi
if ! engine_answers; then
    echo "docker_engine.sh: starting dockerd (log: /var/log/mwaa-sandbox-dockerd.log)"
    setsid nohup dockerd >/var/log/mwaa-sandbox-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        engine_answers && break
        sleep 1
    done
fi
if engine_answers; then
    echo "docker_engine.sh: Docker engine $(docker info --format '{{.ServerVersion}}') answers"
else
    echo "docker_engine.sh: dockerd did not answer within 60 s; see /var/log/mwaa-sandbox-dockerd.log" >&2
fi
