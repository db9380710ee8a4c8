/*
 * client.c - count views from C on persistent file descriptors.
 *
 * Keep one fd open per counter: each append is then one write(), one FUSE
 * round trip, and pread() at offset 0 reads the current count.
 *
 *   $ cc -O2 -o /tmp/countfs-client examples/client.c
 *   $ /tmp/countfs-client mnt demo 10000
 *   recorded 10000 views of demo in 0.41 s (24390/s); count is now 10000
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char path[4096], buf[32];
	long n, i;
	int w, r;
	ssize_t len;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MOUNTPOINT VIDEO N\n", argv[0]);
		return 2;
	}
	n = atol(argv[3]);
	snprintf(path, sizeof(path), "%s/videos/%s/views", argv[1], argv[2]);
	w = open(path, O_WRONLY | O_APPEND);
	r = open(path, O_RDONLY);
	if (w < 0 || r < 0) {
		perror(path);
		return 1;
	}
	len = pread(r, buf, sizeof(buf) - 1, 0);
	long before = len > 0 ? (buf[len] = 0, atol(buf)) : 0;
	double t0 = now();
	for (i = 0; i < n; i++) {
		if (write(w, "\n", 1) != 1) {
			perror("write");
			return 1;
		}
	}
	double dt = now() - t0;
	len = pread(r, buf, sizeof(buf) - 1, 0);
	if (len <= 0) {
		perror("pread");
		return 1;
	}
	buf[len] = 0;
	printf(
	    "recorded %ld views of %s in %.2f s (%.0f/s); count is now %ld\n",
	    n, argv[2], dt, n / (dt > 0 ? dt : 1), atol(buf));
	close(w);
	close(r);
	return atol(buf) == before + n ? 0 : 1;
}
