#!/bin/sh
# Install the Debian packages the build and tests need, only those missing.
#   protobuf-compiler: protoc generates images/pb from images/proto
#   criu:              CRIU's own crit (3.17), to check wire compatibility
#   gcc, make, libc6-dev: C blobs (compel, restorer) and ZDTM test programs
#   python3-venv:      the project's virtual environment on Debian's python
#   iproute2:          network namespaces in the TCP tests
#   redis-server, redis-tools: the redis victim of scripts/bench.py (redis-cli
#                      reads its keys back after the restore)
set -eu
pkgs="protobuf-compiler criu gcc make libc6-dev python3-venv iproute2
      redis-server redis-tools"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: need root to apt-get install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || true
apt-get install -y -q $missing
