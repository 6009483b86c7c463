#!/bin/sh
# Builds go-ethereum v1.13.15 (the consortium's Clique engine) once into
# ${XDG_CACHE_HOME:-~/.cache}/coc-geth/v1.13.15/geth and prints its path (see testkit/geth.py).
set -e
cd "$(dirname "$0")/.."
exec .venv/bin/python -m testkit.geth
