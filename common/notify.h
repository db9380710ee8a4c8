/*
 * notify.h - tell the service manager how the daemon is doing.
 *
 * The sd_notify(3) datagram protocol, by hand (a few lines beat a
 * dependency on libsystemd): when NOTIFY_SOCKET is set, as it is for a
 * systemd unit of Type=notify, send it "READY=1" once the mount serves and
 * "STOPPING=1" when it goes down.  Without the variable, nothing happens.
 */
#ifndef COUNTFS_NOTIFY_H
#define COUNTFS_NOTIFY_H

/* Send @state ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET; errors ignored. */
void notify_service(const char *state);

#endif
