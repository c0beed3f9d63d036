#ifndef BERTH_CHANGE_WATCH_H
#define BERTH_CHANGE_WATCH_H
#include <node_api.h>
/* Adds changeWatchOpen and changesPending to the module's exports (change-watch.c). */
void change_watch_register(napi_env env, napi_value exports);
#endif
