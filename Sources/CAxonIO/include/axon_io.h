#ifndef AXON_IO_H
#define AXON_IO_H

// Waits up to `microseconds` (below one second) for `fd` to become readable (or hung up, or failed): 1 when it is, 0
// when the time passed, -1 on an error. For a caller that waits for its reply on its own thread
// (ConnectionCore.waitInline): `poll` counts only milliseconds and `select` cannot watch descriptors of 1024 and above,
// so this is `ppoll`, which glibc declares only under _GNU_SOURCE (set in axon_io.c, not in a header Swift imports).
int axon_wait_readable(int fd, int microseconds);

#endif
