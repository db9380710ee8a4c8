/*
 * countfs-backup - a consistent copy of a countfs data directory, taken
 * while the daemon runs (or not), that a daemon can start from.
 *
 * usage: countfs-backup [-q] DATA DEST
 *
 * The work is store_backup() (store/backup.c, which says why the copy is
 * consistent); this file is the command line around it.
 */
#include "../common/log.h"
#include "../store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifndef COUNTFS_VERSION
#define COUNTFS_VERSION "unknown"
#endif

static int usage(FILE *out, int status)
{
	fprintf(out,
		"usage: countfs-backup [-q] DATA DEST\n"
		"Copy the countfs data directory DATA into DEST (made, or an "
		"empty directory),\nconsistently, while countfs runs on DATA "
		"or not.  Start countfs with\n-o data=DEST to restore; see "
		"countfs-backup(1).\n"
		"  -q, --quiet    print errors only\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n");
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	unsigned shards;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "qhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			log_level = LOG_LVL_ERROR;
			break;
		case 'h':
			return usage(stdout, 0);
		case 'V':
			printf("countfs-backup %s\n", COUNTFS_VERSION);
			return 0;
		default:
			return usage(stderr, 2);
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "countfs-backup: %s\n",
			argc - optind < 2 ? "DATA and DEST are needed"
					  : "too many arguments");
		return usage(stderr, 2);
	}
	umask(077); /* the counts are the operator's alone */
	rc = store_backup(argv[optind], argv[optind + 1], &shards);
	if (rc) {
		fprintf(stderr, "countfs-backup: no backup of %s: %s\n",
			argv[optind], strerror(-rc));
		return 1;
	}
	if (log_level >= LOG_LVL_INFO)
		printf("countfs-backup: %s copied to %s (%u shards)\n",
		       argv[optind], argv[optind + 1], shards);
	return 0;
}
