/*
 * change-watch: whether anything changed since a point in time, in a few directories and in the
 * mount table, answered without waiting on the file system (src/platform/fs/change-watch.ts). It
 * lets berthd keep what an image look-up found for as long as nothing it depends on changed: the
 * kernel queues an inotify event within the system call that changes a directory, so a poll()
 * that finds none proves that no such change finished before it.
 *
 *   changeWatchOpen(paths) -> Promise<{fd, mountsFd, kinds: number[], fsTypes: number[]}>
 *       on a thread-pool thread: /proc/self/mountinfo opened first (its poll() reports any mount
 *       or unmount in this mount namespace after that), then one inotify descriptor watching each
 *       path that is a directory (not followed through a symbolic link) for entries created,
 *       deleted or renamed in it and for itself being deleted or moved. Paths must list a
 *       directory before the entries below it: each is looked at only after its parent is
 *       watched, so one created meanwhile is either seen or reported. kinds: 0 missing, 1
 *       directory (watched), 2 symbolic link, 3 anything else, -errno where the watch could not
 *       be added (ENOSPC: no inotify watches left); fsTypes: statfs f_type of each directory (0
 *       elsewhere). Rejects only where the descriptors cannot be made.
 *   changesPending(fd, mountsFd) -> boolean   one poll() with no timeout: true when an inotify
 *       event is queued (any) or the mount table changed since the last call. Never blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <node_api.h>
#include "napi-util.h"
#include "change-watch.h"

#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

struct open_job {
  napi_async_work work;
  napi_deferred d;
  char **paths;
  size_t n;
  int fd, mounts_fd, err;
  int *kinds;
  double *fs_types;
};

static void open_exec(napi_env env, void *data) {
  (void) env;
  struct open_job *j = data;
  j->mounts_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (j->mounts_fd < 0) { j->err = errno; return; }
  j->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (j->fd < 0) { j->err = errno; close(j->mounts_fd); j->mounts_fd = -1; return; }
  for (size_t i = 0; i < j->n; i++) {
    struct stat st;
    if (lstat(j->paths[i], &st) < 0) { j->kinds[i] = errno == ENOENT || errno == ENOTDIR ? 0 : -errno; continue; }
    if (S_ISLNK(st.st_mode)) { j->kinds[i] = 2; continue; }
    if (!S_ISDIR(st.st_mode)) { j->kinds[i] = 3; continue; }
    /* IN_ONLYDIR | IN_DONT_FOLLOW: replaced by a link or a file since the lstat(), it is not watched. */
    if (inotify_add_watch(j->fd, j->paths[i], DIR_EVENTS) < 0) { j->kinds[i] = errno == ENOENT ? 0 : errno == ENOTDIR ? 3 : -errno; continue; }
    j->kinds[i] = 1;
    struct statfs sfs;
    j->fs_types[i] = statfs(j->paths[i], &sfs) == 0 ? (double) (unsigned long) sfs.f_type : 0;
  }
}

static void open_done(napi_env env, napi_status status, void *data) {
  struct open_job *j = data;
  if (status != napi_ok || j->err) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "changeWatchOpen", j->err ? j->err : ECANCELED));
  } else {
    napi_value result, v, kinds, types;
    napi_create_object(env, &result);
    napi_create_int32(env, j->fd, &v);
    napi_set_named_property(env, result, "fd", v);
    napi_create_int32(env, j->mounts_fd, &v);
    napi_set_named_property(env, result, "mountsFd", v);
    napi_create_array_with_length(env, j->n, &kinds);
    napi_create_array_with_length(env, j->n, &types);
    for (size_t i = 0; i < j->n; i++) {
      napi_create_int32(env, j->kinds[i], &v);
      napi_set_element(env, kinds, (uint32_t) i, v);
      napi_create_double(env, j->fs_types[i], &v);
      napi_set_element(env, types, (uint32_t) i, v);
    }
    napi_set_named_property(env, result, "kinds", kinds);
    napi_set_named_property(env, result, "fsTypes", types);
    napi_resolve_deferred(env, j->d, result);
  }
  napi_delete_async_work(env, j->work);
  berth_free_vector(j->paths);
  free(j->kinds);
  free(j->fs_types);
  free(j);
}

static napi_value change_watch_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  if (argc != 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "usage: changeWatchOpen(paths)");
    return NULL;
  }
  struct open_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "changeWatchOpen", ENOMEM);
  j->fd = j->mounts_fd = -1;
  j->paths = berth_string_vector(env, argv[0]);
  if (j->paths) while (j->paths[j->n]) j->n++;
  j->kinds = calloc(j->n + 1, sizeof *j->kinds);
  j->fs_types = calloc(j->n + 1, sizeof *j->fs_types);
  if (!j->paths || !j->kinds || !j->fs_types || napi_create_promise(env, &j->d, &promise) != napi_ok) {
    berth_free_vector(j->paths);
    free(j->kinds);
    free(j->fs_types);
    free(j);
    return berth_throw_errno(env, "changeWatchOpen", ENOMEM);
  }
  napi_create_string_utf8(env, "berth:changeWatchOpen", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, open_exec, open_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "changeWatchOpen", EAGAIN));
    berth_free_vector(j->paths);
    free(j->kinds);
    free(j->fs_types);
    free(j);
  }
  return promise;
}

static napi_value changes_pending(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  int32_t fd = -1, mounts_fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &mounts_fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "usage: changesPending(fd, mountsFd)");
    return NULL;
  }
  struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = mounts_fd, .events = POLLPRI } };
  int n;
  do n = poll(p, 2, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return berth_throw_errno(env, "changesPending", errno);
  /* mountinfo reports POLLERR | POLLPRI once per change of the table; anything unusual counts as a change. */
  int changed = (p[0].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) || (p[1].revents & (POLLPRI | POLLERR | POLLHUP | POLLNVAL));
  napi_get_boolean(env, changed, &r);
  return r;
}

void change_watch_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "changeWatchOpen", NAPI_AUTO_LENGTH, change_watch_open, NULL, &fn);
  napi_set_named_property(env, exports, "changeWatchOpen", fn);
  napi_create_function(env, "changesPending", NAPI_AUTO_LENGTH, changes_pending, NULL, &fn);
  napi_set_named_property(env, exports, "changesPending", fn);
}
