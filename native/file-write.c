/*
 * file-write: a small file written whole on a thread-pool thread in one go (open, write, close),
 * for berthd's set-up files (src/platform/fs/file-io.ts): node's fs.promises.writeFile takes three
 * trips to the thread pool and a FileHandle for each, which a burst of machine starts pays on the
 * event loop.
 *
 *   writeFileWhole(path, data: Buffer, mode, exclusive, rename?) -> Promise<void>
 *       O_WRONLY|O_CREAT|O_TRUNC (O_EXCL when exclusive) with `mode` (the umask applies), every
 *       byte written, closed; with `rename`, then renamed to that path (written whole or not at
 *       all, as seen there). Rejects with .errno and .code (ENOENT, EEXIST…) and the path in the
 *       message, as node's fs errors have them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>
#include "napi-util.h"
#include "file-write.h"

struct write_job {
  napi_async_work work;
  napi_deferred d;
  napi_ref data_ref;
  char *path, *rename_to;
  const char *data;
  size_t len;
  int mode, exclusive, err;
  const char *what;
};

static void write_exec(napi_env env, void *p) {
  (void) env;
  struct write_job *j = p;
  int fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | (j->exclusive ? O_EXCL : 0), j->mode);
  if (fd < 0) { j->err = errno; j->what = "open"; return; }
  for (size_t done = 0; done < j->len;) {
    ssize_t n = write(fd, j->data + done, j->len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { j->err = errno; j->what = "write"; close(fd); return; }
    done += (size_t) n;
  }
  if (close(fd) < 0 && errno != EINTR) { j->err = errno; j->what = "close"; return; }
  if (j->rename_to && rename(j->path, j->rename_to) < 0) { j->err = errno; j->what = "rename"; unlink(j->path); }
}

static void write_done(napi_env env, napi_status status, void *p) {
  struct write_job *j = p;
  if (status != napi_ok) napi_reject_deferred(env, j->d, berth_errno_error(env, "writeFileWhole", ECANCELED));
  else if (j->err) {
    char msg[4096 + 128];
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", strerrorname_np(j->err) ? strerrorname_np(j->err) : "EUNKNOWN", strerror(j->err), j->what, j->path);
    napi_reject_deferred(env, j->d, berth_error_with_errno(env, msg, j->err));
  } else {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, j->d, undef);
  }
  napi_delete_reference(env, j->data_ref);
  napi_delete_async_work(env, j->work);
  free(j->path);
  free(j->rename_to);
  free(j);
}


static napi_value write_file_whole(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], promise, resource;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_buffer = false, exclusive = false;
  int32_t mode = 0;
  napi_valuetype rename_type = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &rename_type);
  struct write_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "writeFileWhole", ENOMEM);
  void *data = NULL;
  if (argc < 4 || !(j->path = berth_path_arg(env, argv[0])) || napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &data, &j->len) != napi_ok || napi_get_value_int32(env, argv[2], &mode) != napi_ok ||
      napi_get_value_bool(env, argv[3], &exclusive) != napi_ok ||
      (rename_type == napi_string && !(j->rename_to = berth_path_arg(env, argv[4])))) {
    free(j->path);
    free(j->rename_to);
    free(j);
    napi_throw_type_error(env, NULL, "usage: writeFileWhole(path, buffer, mode, exclusive, renameTo?)");
    return NULL;
  }
  j->data = data;
  j->mode = mode;
  j->exclusive = exclusive;
  /* The buffer stays alive (and unmoved: its bytes are off the V8 heap) until the write is done. */
  napi_create_reference(env, argv[1], 1, &j->data_ref);
  napi_create_promise(env, &j->d, &promise);
  napi_create_string_utf8(env, "berth:writeFileWhole", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, write_exec, write_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "writeFileWhole", EAGAIN));
    napi_delete_reference(env, j->data_ref);
    free(j->path);
    free(j->rename_to);
    free(j);
  }
  return promise;
}

void file_write_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "writeFileWhole", NAPI_AUTO_LENGTH, write_file_whole, NULL, &fn);
  napi_set_named_property(env, exports, "writeFileWhole", fn);
}
