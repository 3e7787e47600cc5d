#define _GNU_SOURCE
#include <poll.h>
#include <stddef.h>
#include <time.h>

#include "axon_io.h"

int axon_wait_readable(int fd, int microseconds) {
    if (fd < 0 || microseconds < 0 || microseconds >= 1000000) return -1;
    struct pollfd entry = { fd, POLLIN, 0 };
    struct timespec limit = { 0, (long)microseconds * 1000 };
    int ready = ppoll(&entry, 1, &limit, NULL);
    return ready > 0 ? 1 : ready;
}
