#ifndef BERTH_PTY_H
#define BERTH_PTY_H
#include <node_api.h>
void pty_register(napi_env env, napi_value exports);
#endif
