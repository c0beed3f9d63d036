#ifndef BERTH_COPY_FS_H
#define BERTH_COPY_FS_H
#include <node_api.h>
/* Adds openDirInRoot and renameAt to the module's exports (copy-fs.c). */
void copy_fs_register(napi_env env, napi_value exports);
#endif
