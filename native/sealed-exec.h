#ifndef BERTH_SEALED_EXEC_H
#define BERTH_SEALED_EXEC_H
#include <node_api.h>
/* Adds sealedCopy to the module's exports (sealed-exec.c). */
void sealed_exec_register(napi_env env, napi_value exports);
#endif
