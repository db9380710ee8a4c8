#!/bin/sh
# nginx-ingest.sh - an nginx access log into countfs, through /ingest.
#
# For logs already written (history, or another host's).  To count live
# requests, let nginx write into /ingest itself: nginx-countfs.conf.
#
# Each request for a video (/watch?v=ID or /videos/ID/...) becomes a view of
# ID at the request's own time, and its response size an event of type
# bytes; requests answered 4xx/5xx count as type errors.  awk turns the
# log's lines into ingest lines; one `>>` of the whole batch records them.
#
#     examples/nginx-ingest.sh MOUNTPOINT [ACCESS_LOG]   (default: stdin)
#     tail -F /var/log/nginx/access.log | examples/nginx-ingest.sh /mnt/counts
#
# With `tail -F` the events flow in as they come: awk flushes each line.
# awk checks each id, so every line it writes is valid; on a mount with
# -o ingest=skip a line that still is not (a timestamp outside the kept
# window) is dropped alone, not with the lines awk wrote with it.
set -eu
mnt=${1:?usage: nginx-ingest.sh MOUNTPOINT [ACCESS_LOG]}
shift
TZ=UTC awk '
BEGIN { months = "JanFebMarAprMayJunJulAugSepOctNovDec" }
# combined format: IP - USER [28/Nov/2026:01:02:03 +0000] "GET /x HTTP/1.1" STATUS BYTES ...
{
	path = $7; status = $9; bytes = $10
	id = ""
	if (match(path, /[?&]v=[A-Za-z0-9_.-]+/))
		id = substr(path, RSTART + 3, RLENGTH - 3)
	else if (match(path, /^\/videos\/[A-Za-z0-9_.-]+/))
		id = substr(path, 9, RLENGTH - 8)
	if (id == "" || length(id) > 128)
		next
	# [dd/Mon/yyyy:hh:mm:ss and the zone +hhmm in $5
	split(substr($4, 2), t, "[/:]")
	mon = (index(months, t[2]) + 2) / 3
	ts = mktime(t[3] " " mon " " t[1] " " t[4] " " t[5] " " t[6])
	zone = $5; sign = substr(zone, 1, 1) == "-" ? -1 : 1
	ts -= sign * (substr(zone, 2, 2) * 3600 + substr(zone, 4, 2) * 60)
	print id, "views", "@" ts
	if (bytes ~ /^[0-9]+$/)
		print id, "bytes", bytes, "@" ts
	if (status >= 400)
		print id, "errors", "@" ts
	fflush()
}' "$@" >>"$mnt/ingest"
