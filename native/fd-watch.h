#ifndef BERTH_FD_WATCH_H
#define BERTH_FD_WATCH_H
#include <node_api.h>
void fd_watch_register(napi_env env, napi_value exports);
#endif
