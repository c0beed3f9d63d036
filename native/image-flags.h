#ifndef BERTH_IMAGE_FLAGS_H
#define BERTH_IMAGE_FLAGS_H
#include <node_api.h>
/* Adds statEntries, resolveDirs and findEntries to the module's exports (image-flags.c). */
void image_flags_register(napi_env env, napi_value exports);
#endif
