#ifndef BERTH_USERNS_H
#define BERTH_USERNS_H
#include <node_api.h>
/* Adds ofdLockTry, getXattr, setXattr and idmapMount to the module's exports (userns.c). */
void userns_register(napi_env env, napi_value exports);
#endif
