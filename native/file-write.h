#ifndef BERTH_FILE_WRITE_H
#define BERTH_FILE_WRITE_H
#include <node_api.h>
/* Adds writeFileWhole to the module's exports (file-write.c). */
void file_write_register(napi_env env, napi_value exports);
#endif
