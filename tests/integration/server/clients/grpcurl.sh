#!/usr/bin/env bash
# A grpcurl user's session with ferry-server, without .proto files (server reflection):
# list the services, log in, list applications.
# usage: grpcurl.sh GRPCURL ADDRESS CA_FILE PASSWORD
set -euo pipefail
grpcurl=$1 address=$2 ca=$3 password=$4
tls=(-cacert "$ca" -authority localhost)

services=$("$grpcurl" "${tls[@]}" "$address" list)
for service in ferry.v1.ApplicationService ferry.v1.SessionService grpc.health.v1.Health; do
  grep -qx "$service" <<<"$services" || { echo "service $service not listed: $services" >&2; exit 1; }
done

token=$("$grpcurl" "${tls[@]}" -d "{\"username\": \"admin\", \"password\": \"$password\"}" \
  "$address" ferry.v1.SessionService/Create | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

"$grpcurl" "${tls[@]}" -H "authorization: Bearer $token" -d '{}' "$address" ferry.v1.ApplicationService/List
