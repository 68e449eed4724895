#!/bin/sh
# The project's requirements.txt, installed the MWAA way: under MWAA's essential constraints,
# plus Airflow's constraints when requirements.txt names none (see sandbox/mwaa/requirements.py).
# Usage: install-requirements.sh REQUIREMENTS CONSTRAINT_FILE...  (paths without spaces)
set -eu
requirements=$1
shift
constraints=""
for file in "$@"; do
    constraints="$constraints -c $file"
done
# shellcheck disable=SC2086  # one word per constraint flag and path
exec uv pip install --no-cache --compile-bytecode --python /opt/airflow/venv/bin/python \
    -r "$requirements" $constraints
