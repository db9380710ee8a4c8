#!/bin/sh
# mariadb.sh - throwaway MariaDB servers for the tests, in temp dirs.
#
#   mariadb.sh start DIR PORT   init DIR (once), start mariadbd on 127.0.0.1:PORT
#                               and DIR/sock; database countfs, user countfs
#                               with the password in DIR/password
#   mariadb.sh stop DIR         stop it (SIGTERM, then SIGKILL after 30 s)
#   mariadb.sh kill DIR         SIGKILL, as a crash
#   mariadb.sh pid DIR          its PID
#
# Runs as root or as the invoking user; the server runs as that user.
set -eu
cmd=$1 dir=$2

pid() { cat "$dir/pid" 2>/dev/null; }

case $cmd in
start)
	port=$3
	mkdir -p "$dir"
	user=$(id -un)
	if [ ! -d "$dir/data/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
			--auth-root-authentication-method=socket --skip-test-db \
			>"$dir/install.log" 2>&1
		echo "pw$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/password"
		pw=$(cat "$dir/password")
		cat >"$dir/init.sql" <<SQL
CREATE DATABASE IF NOT EXISTS countfs;
CREATE USER IF NOT EXISTS 'countfs'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'countfs'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL ON countfs.* TO 'countfs'@'127.0.0.1';
GRANT ALL ON countfs.* TO 'countfs'@'localhost';
SQL
		init="--init-file=$dir/init.sql"
	else
		init=""
	fi
	mariadbd --no-defaults --datadir="$dir/data" --user="$user" \
		--socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 \
		--pid-file="$dir/pid" --skip-name-resolve --innodb-buffer-pool-size=64M \
		--innodb-log-file-size=48M --skip-log-bin ${init:+"$init"} \
		>>"$dir/server.log" 2>&1 &
	i=0
	until mariadb --no-defaults -S "$dir/sock" -u root -e 'select 1' >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			echo "mariadbd in $dir did not start:" >&2
			tail -20 "$dir/server.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	# The init file runs before the socket opens; wait for the user too.
	until mariadb --no-defaults -h 127.0.0.1 -P "$port" -u countfs \
		-p"$(cat "$dir/password")" countfs -e 'select 1' >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le 600 ] || { echo "user countfs missing in $dir" >&2; exit 1; }
		sleep 0.1
	done
	;;
stop)
	p=$(pid) || exit 0
	kill "$p" 2>/dev/null || exit 0
	i=0
	while kill -0 "$p" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || { kill -9 "$p"; break; }
		sleep 0.1
	done
	;;
kill)
	if p=$(pid); then
		kill -9 "$p" 2>/dev/null || true
	fi
	;;
pid)
	pid
	;;
esac
