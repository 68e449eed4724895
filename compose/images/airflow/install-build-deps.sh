#!/bin/sh
# What MWAA's package set needs beyond Python: psycopg2 and pycurl build from source (no wheels
# for MWAA's pins), so a compiler and the libpq/libcurl headers stay in the image, as user
# requirements may need them too (MWAA's image has them).
set -eu
export DEBIAN_FRONTEND=noninteractive
packages="gcc g++ libc6-dev make pkg-config libpq-dev libcurl4-openssl-dev libssl-dev procps curl"
# Debian's Python ships its headers separately; python:3.11-slim has them already.
python3 - <<'PY' || packages="$packages python3-dev"
import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))
PY
apt-get update
apt-get install -y --no-install-recommends $packages
apt-get clean
rm -rf /var/lib/apt/lists/*
