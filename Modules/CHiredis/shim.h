#ifndef AXON_CHIREDIS_SHIM_H
#define AXON_CHIREDIS_SHIM_H

// hiredis 0.14.1 (Debian libhiredis-dev). Only 0.14 APIs are used: no redisOptions, no TLS, no RESP3.
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#endif
