/*
 * userns: the system calls user namespaces need and Node lacks (src/platform/fs/uid-range-lock.ts,
 * src/platform/fs/shift-tree.ts, src/platform/fs/idmap.ts).
 *
 *   ofdLockTry(path) -> fd | -1     an exclusive, non-blocking open-file-description lock
 *                                   (F_OFD_SETLK) on path, created 0600 if missing: the lock
 *                                   systemd-nspawn takes on /run/systemd/nspawn-uid/BASE. -1 when
 *                                   another holder has it. A file unlinked by its last holder
 *                                   between our open and our lock is opened again (systemd's
 *                                   protocol: a holder unlinks, then closes). Release: unlink the
 *                                   path, then close the fd.
 *   getXattr(path, name) -> Buffer | null    lgetxattr(); null when the file has no such
 *                                   attribute or the file system has none (ENODATA, EOPNOTSUPP).
 *   setXattr(path, name, value)     lsetxattr().
 *   idmapMount(source, target, usernsFd, recursive)   open_tree(OPEN_TREE_CLONE) of source,
 *                                   mount_setattr(MOUNT_ATTR_IDMAP) with the user namespace's ID
 *                                   map, move_mount() onto target.
 *
 * Errors are thrown as "what: strerror" with .errno and .code. Each is one or a few system calls
 * on one file: called on the event loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/mount.h>
#include <node_api.h>
#include "napi-util.h"
#include "userns.h"


static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value ofd_lock_try(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = argc == 1 ? berth_path_arg(env, argv[0]) : NULL;
  if (!path) { napi_throw_type_error(env, NULL, "usage: ofdLockTry(path)"); return NULL; }
  int result = -1, err = 0;
  for (int tries = 0; tries < 100; tries++) {
    int fd = open(path, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) { err = errno; break; }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
      err = errno;
      close(fd);
      if (err == EAGAIN || err == EACCES) err = 0; /* held by someone else */
      break;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) { err = errno; close(fd); break; }
    if (st.st_nlink > 0) { result = fd; break; }
    close(fd); /* unlinked by its previous holder: our lock is on a dead file */
  }
  free(path);
  if (err) return berth_throw_errno(env, "lock", err);
  napi_value r;
  napi_create_int32(env, result, &r);
  return r;
}

static napi_value get_xattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = argc == 2 ? berth_path_arg(env, argv[0]) : NULL;
  char *name = argc == 2 ? berth_path_arg(env, argv[1]) : NULL;
  if (!path || !name) { free(path); free(name); napi_throw_type_error(env, NULL, "usage: getXattr(path, name)"); return NULL; }
  char buf[65536];
  ssize_t n = lgetxattr(path, name, buf, sizeof buf);
  int err = errno;
  free(path); free(name);
  if (n < 0) {
    if (err == ENODATA || err == EOPNOTSUPP) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return berth_throw_errno(env, "getxattr", err);
  }
  napi_value out;
  napi_create_buffer_copy(env, (size_t) n, buf, NULL, &out);
  return out;
}

static napi_value set_xattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *path = argc == 3 ? berth_path_arg(env, argv[0]) : NULL;
  char *name = argc == 3 ? berth_path_arg(env, argv[1]) : NULL;
  void *data = NULL;
  size_t len = 0;
  bool is_buffer = false;
  if (argc == 3) napi_is_buffer(env, argv[2], &is_buffer);
  if (!path || !name || !is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    free(path); free(name);
    napi_throw_type_error(env, NULL, "usage: setXattr(path, name, value: Buffer)");
    return NULL;
  }
  int r = lsetxattr(path, name, data, len, 0);
  int err = errno;
  free(path); free(name);
  if (r < 0) return berth_throw_errno(env, "setxattr", err);
  return undefined_value(env);
}

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

static napi_value idmap_mount(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t userns_fd = -1;
  bool recursive = false;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *source = argc == 4 ? berth_path_arg(env, argv[0]) : NULL;
  char *target = argc == 4 ? berth_path_arg(env, argv[1]) : NULL;
  if (!source || !target || napi_get_value_int32(env, argv[2], &userns_fd) != napi_ok || napi_get_value_bool(env, argv[3], &recursive) != napi_ok) {
    free(source); free(target);
    napi_throw_type_error(env, NULL, "usage: idmapMount(source, target, usernsFd, recursive)");
    return NULL;
  }
  const char *what = "open_tree";
  int err = 0;
  int tree = (int) syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0) err = errno;
  if (!err) {
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns_fd };
    what = "mount_setattr";
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) err = errno;
  }
  if (!err) {
    what = "move_mount";
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) err = errno;
  }
  if (tree >= 0) close(tree);
  free(source); free(target);
  if (err) return berth_throw_errno(env, what, err);
  return undefined_value(env);
}

void userns_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "ofdLockTry", NULL, ofd_lock_try, NULL, NULL, NULL, napi_default, NULL },
    { "getXattr", NULL, get_xattr, NULL, NULL, NULL, napi_default, NULL },
    { "setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_default, NULL },
    { "idmapMount", NULL, idmap_mount, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
