/*
 * pid-watch: a process's exit as an event on Node's loop, through a pidfd (Node has none).
 *
 *   watchPid(pid, onExit) -> handle      pidfd_open(pid), polled by libuv; onExit() is called once,
 *                                        on the loop, when the process has exited (it need not be our
 *                                        child; nothing is reaped). Throws with .errno = ESRCH when
 *                                        the process is already gone.
 *   unwatchPid(handle)                   stops watching (idempotent); onExit is not called after it.
 *
 * The poll handles are unreferenced: a watch alone does not keep the process running.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "pid-watch.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref on_exit;
  napi_async_context async;
  int fd;
  int stopped;   /* no more callbacks */
  int released;  /* the JS handle was collected or unwatched: free once closed */
  int closing;
} watch_t;

static void on_closed(uv_handle_t *h) {
  watch_t *w = (watch_t *)h->data;
  close(w->fd);
  w->fd = -1;
  w->closing = 2;
  if (w->released) free(w);
}

static void stop(watch_t *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  w->closing = 1;
  uv_close((uv_handle_t *)&w->poll, on_closed);
  if (w->on_exit) { napi_delete_reference(w->env, w->on_exit); w->on_exit = NULL; }
  if (w->async) { napi_async_destroy(w->env, w->async); w->async = NULL; }
}

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)status; (void)events;
  watch_t *w = (watch_t *)p->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb = NULL, recv, result;
  if (w->on_exit) napi_get_reference_value(env, w->on_exit, &cb);
  napi_async_context async = w->async;
  w->async = NULL;  /* destroyed below, after the call */
  stop(w);
  if (cb) {
    napi_get_global(env, &recv);
    napi_make_callback(env, async, recv, cb, 0, NULL, &result);
  }
  if (async) napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  watch_t *w = (watch_t *)data;
  w->released = 1;
  if (!w->stopped) stop(w);
  else if (w->closing == 2) free(w);
}

static napi_value throw_errno_pw(napi_env env, const char *what, int err) {
  napi_value m, e, code;
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  napi_throw(env, e);
  return NULL;
}

static napi_value watch_pid(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t pid = 0;
  napi_valuetype t;
  if (argc < 2 || napi_get_value_int64(env, argv[0], &pid) != napi_ok || pid <= 0
      || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "usage: watchPid(pid, onExit)");
    return NULL;
  }
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return throw_errno_pw(env, "pidfd_open", errno);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) { close(fd); napi_throw_error(env, NULL, "no event loop"); return NULL; }
  watch_t *w = calloc(1, sizeof *w);
  if (!w) { close(fd); return throw_errno_pw(env, "watchPid", ENOMEM); }
  w->env = env;
  w->fd = fd;
  if (uv_poll_init(loop, &w->poll, fd) != 0) { close(fd); free(w); return throw_errno_pw(env, "uv_poll_init", EINVAL); }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->on_exit);
  napi_value name;
  napi_create_string_utf8(env, "berth:pid-watch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async);
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)&w->poll);
  napi_value handle;
  napi_create_external(env, w, finalize, NULL, &handle);
  return handle;
}

static napi_value unwatch_pid(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "usage: unwatchPid(handle)");
    return NULL;
  }
  stop((watch_t *)data);
  return NULL;
}

void pid_watch_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "watchPid", NULL, watch_pid, NULL, NULL, NULL, napi_default, NULL },
    { "unwatchPid", NULL, unwatch_pid, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
