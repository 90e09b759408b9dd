#!/usr/bin/env bash
# Generates the Python stubs of the contracts in protos/ into ferry/v1 (protobuf, gRPC, and typed
# .pyi from mypy-protobuf), checks that the committed stubs match the protos, and lints the protos
# with buf. The proto paths mirror the Python package path (protos/ferry/v1 -> ferry.v1), so the
# generated imports ("from ferry.v1 import types_pb2") work without rewriting.
#
# Usage: hack/protos.sh generate | check | lint
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"          # protoc-gen-mypy and protoc-gen-mypy_grpc live there
# google/api/annotations.proto ships with googleapis-common-protos; buf cannot reach its registry here.
GOOGLEAPIS=$("$PY" -c 'import google.api, pathlib; print(pathlib.Path(google.api.__path__[0]).parents[1])')
PROTOS=(protos/ferry/v1/*.proto)

generate_into() {
  "$PY" -m grpc_tools.protoc -Iprotos -I"$GOOGLEAPIS" \
    --python_out="$1" --grpc_python_out="$1" --mypy_out=quiet:"$1" --mypy_grpc_out=quiet:"$1" "${PROTOS[@]}"
}

case "${1:-}" in
  generate)
    rm -f ferry/v1/*_pb2.py ferry/v1/*_pb2.pyi ferry/v1/*_pb2_grpc.py ferry/v1/*_pb2_grpc.pyi
    generate_into .
    echo "generated ferry/v1 from ${#PROTOS[@]} proto files" ;;
  check)
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    generate_into "$tmp"
    if ! diff -r -q -x '__init__.py' -x '__pycache__' -x 'py.typed' "$tmp/ferry/v1" ferry/v1; then
      echo "the committed stubs in ferry/v1 do not match protos/: run 'make protos' and commit" >&2
      exit 1
    fi
    echo "generated stubs match protos/" ;;
  lint)
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    "$PY" -m grpc_tools.protoc -Iprotos -I"$GOOGLEAPIS" --include_imports --include_source_info \
      --descriptor_set_out="$tmp/ferry.binpb" "${PROTOS[@]}"
    BUF=${BUF:-$(hack/tools.sh --print-bin)/buf}
    "$BUF" lint "$tmp/ferry.binpb" --config protos/buf.yaml --path ferry/v1
    echo "buf lint: clean" ;;
  *) echo "usage: $0 generate | check | lint" >&2; exit 2 ;;
esac
