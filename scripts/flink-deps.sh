#!/usr/bin/env bash
# Installs what the optional Flink job needs, idempotently (a second run only checks):
#
#   $FRAUDSTREAM_FLINK_DIR (default ~/.cache/fraudstream/flink)
#     venv/   Python with apache-flink 2.3.0 and fraudstream's runtime dependencies
#     lib/    flink-connector-kafka.jar (4.0.1-2.0) and kafka-clients.jar (3.9.1)
#
# Why a venv of its own: apache-flink 2.3.0 needs pandas<2.3, and its apache-beam needs
# numpy<2.2, redis<6 and cloudpickle~=2.2; fraudstream pins numpy 2.4.6, pandas 3.1.1 and
# redis 8.1.0. One environment cannot hold both, and installing PyFlink into .venv would
# downgrade them under everything else. The job's Python (client and workers) is this venv;
# fraudstream itself is not installed in it but put on PYTHONPATH by `fraudstream flink run`,
# so the venv always runs the checkout's code.
#
# Why the jars come out of a PyPI wheel: Maven Central is not reachable from our machines.
# shigawire-apache-flink-libraries 2.0.0.post1 carries the Kafka connector built for Flink 2.0,
# which works on 2.3. ONLY those two jars are taken (pinned by the wheel's sha256): installing
# that wheel would put Flink 2.0 core jars next to 2.3's and every job would fail with
# NoSuchMethodError.
#
# Usage: scripts/flink-deps.sh [--check]   (--check: exit 1 if anything is missing, install nothing)
set -euo pipefail

FLINK_VERSION="2.3.0"
LIBS_WHEEL="shigawire-apache-flink-libraries==2.0.0.post1"
LIBS_SHA256="aaa65537d3f0c0ff279185d8243024f0efd95788ba044bf249ba0f40b69289cd"
JARS=(flink-connector-kafka.jar kafka-clients.jar)
# fraudstream pins that conflict with apache-flink / apache-beam: installed unpinned (pip picks
# the newest version both allow).
RELAX="numpy pandas redis"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${FRAUDSTREAM_FLINK_DIR:-$HOME/.cache/fraudstream/flink}"
VENV="$DIR/venv"
LIB="$DIR/lib"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1

requirements() {
    # fraudstream's runtime dependencies from pyproject.toml, conflicting pins relaxed.
    "$PYTHON" - "$ROOT/pyproject.toml" "$RELAX" <<'EOF'
import re, sys, tomllib
relax = set(sys.argv[2].split())
with open(sys.argv[1], "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
for dep in deps:
    name = re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower()
    print(name if name in relax else dep)
EOF
}

stamp_text() {
    { echo "apache-flink==$FLINK_VERSION"; requirements; } | sort
}

venv_ok() {
    [[ -x "$VENV/bin/python" && -f "$VENV/.fraudstream-stamp" ]] &&
        [[ "$(cat "$VENV/.fraudstream-stamp")" == "$(stamp_text)" ]] &&
        "$VENV/bin/python" -c "import pyflink, lightgbm, pydantic, orjson" 2>/dev/null
}

jars_ok() {
    for jar in "${JARS[@]}"; do
        [[ -s "$LIB/$jar" ]] || return 1
    done
    [[ -f "$LIB/.fraudstream-stamp" && "$(cat "$LIB/.fraudstream-stamp")" == "$LIBS_SHA256" ]]
}

if ((check_only)); then
    ok=1
    venv_ok || { echo "missing or outdated: $VENV (PyFlink $FLINK_VERSION venv)"; ok=0; }
    jars_ok || { echo "missing: Kafka connector jars in $LIB"; ok=0; }
    ((ok)) && echo "Flink deps OK in $DIR"
    ((ok))
    exit
fi

mkdir -p "$DIR"

if venv_ok; then
    echo "PyFlink venv up to date: $VENV"
else
    echo "creating the PyFlink venv in $VENV (about 450 MB download, 850 MB on disk)"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    mapfile -t reqs < <(requirements)
    "$VENV/bin/python" -m pip install --quiet "apache-flink==$FLINK_VERSION" "${reqs[@]}"
    stamp_text >"$VENV/.fraudstream-stamp"
fi

if jars_ok; then
    echo "Kafka connector jars present: $LIB"
else
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    echo "$LIBS_WHEEL --hash=sha256:$LIBS_SHA256" >"$tmp/req.txt"
    "$VENV/bin/python" -m pip download --quiet --no-deps --require-hashes -r "$tmp/req.txt" -d "$tmp"
    mkdir -p "$LIB"
    for jar in "${JARS[@]}"; do
        unzip -o -q -j "$tmp"/shigawire_apache_flink_libraries-*.whl "pyflink/lib/$jar" -d "$tmp/jars"
        mv "$tmp/jars/$jar" "$LIB/$jar"
    done
    echo "$LIBS_SHA256" >"$LIB/.fraudstream-stamp"
    echo "Kafka connector jars in $LIB"
fi

echo "Flink deps OK in $DIR"
