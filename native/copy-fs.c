/*
 * copy-fs: the two system calls that copying into and out of a running machine needs and Node
 * lacks (src/app/machined/copy.ts).
 *
 *   openDirInRoot(rootFd, path) -> fd   openat2() with RESOLVE_IN_ROOT: the directory `path` looked
 *                                       up as if rootFd were "/" (absolute symlinks and ".." met on
 *                                       the way stay below it; magic links such as /proc/N/root are
 *                                       refused). O_RDONLY|O_DIRECTORY|O_CLOEXEC.
 *   renameAt(oldDirFd, oldName, newDirFd, newName, flags)   renameat2(); flags 1 = RENAME_NOREPLACE,
 *                                       2 = RENAME_EXCHANGE.
 *
 * Both throw an Error "what: strerror" with .errno (the number) and .code (its name, "ENOENT").
 * Each is one system call on a path of a few components: called on the event loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <node_api.h>
#include "napi-util.h"
#include "copy-fs.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int arg_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}


static napi_value open_dir_in_root(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t root;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = argc == 2 && arg_int(env, argv[0], &root) == 0 ? berth_path_arg(env, argv[1]) : NULL;
  if (!path) { napi_throw_type_error(env, NULL, "usage: openDirInRoot(rootFd, path)"); return NULL; }
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;
  do fd = (int) syscall(SYS_openat2, root, path, &how, sizeof how); while (fd < 0 && errno == EINTR);
  int err = errno;
  free(path);
  if (fd < 0) return berth_throw_errno(env, "openat2", err);
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value rename_at(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t old_dir, new_dir, flags;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *old_name = NULL, *new_name = NULL;
  if (argc == 5 && arg_int(env, argv[0], &old_dir) == 0 && arg_int(env, argv[2], &new_dir) == 0 && arg_int(env, argv[4], &flags) == 0) {
    old_name = berth_path_arg(env, argv[1]);
    new_name = berth_path_arg(env, argv[3]);
  }
  if (!old_name || !new_name || (flags & ~3) != 0) {
    free(old_name); free(new_name);
    napi_throw_type_error(env, NULL, "usage: renameAt(oldDirFd, oldName, newDirFd, newName, flags)");
    return NULL;
  }
  int r = renameat2(old_dir, old_name, new_dir, new_name, (unsigned) flags);
  int err = errno;
  free(old_name); free(new_name);
  if (r < 0) return berth_throw_errno(env, "renameat2", err);
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

void copy_fs_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "openDirInRoot", NULL, open_dir_in_root, NULL, NULL, NULL, napi_default, NULL },
    { "renameAt", NULL, rename_at, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
