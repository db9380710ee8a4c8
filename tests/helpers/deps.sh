#!/bin/sh
# deps.sh [build|test] - install what countfs needs to build (and run),
# or to build and test, when missing.  Only as root and only where apt-get
# exists; otherwise say what to install.
PKGS="gcc make pkg-config libfuse3-dev fuse3 liblmdb-dev libmariadb-dev"
[ "${1:-test}" = build ] || PKGS="$PKGS lmdb-utils mariadb-server mariadb-client redis-server redis-tools bats shellcheck python3 valgrind util-linux procps tmux gnuplot-nox prometheus prometheus-node-exporter curl nodejs man-db groff-base systemd nginx-light"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	# shellcheck disable=SC2086 # one word per package
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "countfs needs:$missing (run as root to install them: make deps)" >&2
	exit 1
fi
