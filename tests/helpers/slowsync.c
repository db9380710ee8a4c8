/*
 * slowsync.c - an LD_PRELOAD shim that makes each fdatasync and fsync of
 * a process take COUNTFS_SYNC_US microseconds more (default 2000), as on
 * a disk.  On tmpfs a sync costs nothing, so concurrent writers would
 * never find one running to share: the test of group commit uses this.
 *
 *   $ cc -shared -fPIC -o slowsync.so tests/helpers/slowsync.c
 *   $ LD_PRELOAD=./slowsync.so countfs ... -o sync=always
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void disk_delay(void)
{
	const char *us = getenv("COUNTFS_SYNC_US");

	usleep(us ? (useconds_t)atoi(us) : 2000);
}

int fdatasync(int fd)
{
	disk_delay();
	return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
	disk_delay();
	return (int)syscall(SYS_fsync, fd);
}
