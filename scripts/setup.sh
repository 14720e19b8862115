#!/bin/sh
# Installs the system programs fam-mirror needs when they are missing (Debian/Ubuntu apt-get):
# rsync always; with --tests also the OpenSSH server and client the end-to-end tests start.
# Uses sudo when not run as root. Does nothing when everything is there.
set -eu
need=""
command -v rsync >/dev/null 2>&1 || need="$need rsync"
if [ "${1:-}" = "--tests" ]; then
  [ -x /usr/sbin/sshd ] || need="$need openssh-server"
  command -v ssh-keygen >/dev/null 2>&1 || need="$need openssh-client"
fi
[ -z "$need" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "fam-mirror setup: please install:$need (no apt-get here)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "fam-mirror setup: installing$need"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
