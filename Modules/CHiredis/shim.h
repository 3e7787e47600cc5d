#ifndef AXON_CHIREDIS_SHIM_H
#define AXON_CHIREDIS_SHIM_H

// hiredis 0.14.1 (Debian libhiredis-dev). Only 0.14 APIs are used: no redisOptions, no TLS, no RESP3.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <sys/select.h>

// Waits up to `microseconds` (below one second) for `fd` to become readable: 1 when it is, 0 when the time passed,
// -1 on an error or a descriptor `select` cannot watch (FD_SETSIZE and above). For a caller that waits for its
// reply on its own thread (see ConnectionCore.awaitReplyInline); `poll` counts only milliseconds.
static inline int axon_wait_readable(int fd, int microseconds) {
    if (fd < 0 || fd >= FD_SETSIZE || microseconds < 0 || microseconds >= 1000000) return -1;
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    struct timeval limit = { 0, microseconds };
    return select(fd + 1, &set, NULL, NULL, &limit);
}

#endif
