#!/usr/bin/env bash
# Installs the Debian packages the tests need (git, redis-server, openssh-server, openssl, slapd
# (the LDAP directory behind Dex in the SSO tests), and chromium with a font for the web UI's
# browser tests) when they are missing. As root it installs
# them with apt-get; otherwise it says what to install.
set -euo pipefail

declare -A provides=( [git]=git [redis-server]=redis-server [sshd]=openssh-server [openssl]=openssl
                      [chromium]=chromium )
missing=()
for cmd in git redis-server openssl chromium; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${provides[$cmd]}")
done
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/sbin/slapd ] || missing+=(slapd)
[ -x /usr/lib/git-core/git-http-backend ] || missing+=(git)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)

if [ ${#missing[@]} -eq 0 ]; then
  echo "[system] git, redis-server, sshd, slapd, openssl, chromium present"
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "[system] missing packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[system] installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Packages start their services on install; tests start their own on free ports.
for svc in redis-server ssh slapd; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  service "$svc" stop >/dev/null 2>&1 || true
done
echo "[system] installed ${missing[*]}"
