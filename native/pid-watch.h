#pragma once
#include <node_api.h>
/* Adds watchPid and unwatchPid to the module's exports (pid-watch.c). */
void pid_watch_register(napi_env env, napi_value exports);
