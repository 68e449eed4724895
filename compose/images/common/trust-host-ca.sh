#!/bin/sh
# Build steps trust the build host's CA bundle (outbound HTTPS may pass a re-signing proxy):
# /etc/ssl/sandbox-build-ca.crt is the host's bundle, or the image's own when the host has none.
set -eu
host=/tmp/sandbox-build/host-ca.crt
target=/etc/ssl/sandbox-build-ca.crt
if [ -s "$host" ]; then
    cp "$host" "$target"
else
    ln -sf /etc/ssl/certs/ca-certificates.crt "$target"
fi
