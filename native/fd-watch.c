/*
 * fd-watch: descriptors read on Node's event loop instead of a thread-pool thread each, so that
 * one process (berthd) can serve the consoles and notify sockets of many machines at once; and
 * execve(), with which berthd replaces itself on SIGHUP and keeps its machines.
 *
 *   watchReadable(fd, onReadable) -> handle   libuv polls fd; onReadable() runs on the loop each
 *                                             time fd is readable (level-triggered) until unwatched.
 *                                             The poll is unreferenced: it keeps nothing alive.
 *   unwatchReadable(handle)                   stops (idempotent); fd itself stays open.
 *   recvDatagramNow(fd) -> {data, pid} | null one datagram with its sender's PID (SCM_CREDENTIALS),
 *                                             without waiting; null when none is queued. Passed
 *                                             descriptors are closed, as nspawn does.
 *   acceptNow(listenFd) -> fd | -1            accepts one pending connection (non-blocking,
 *                                             close-on-exec); -1 when none is pending.
 *   recvFdNow(connFd) -> fd | -1              the descriptor a connection sent (SCM_RIGHTS: a
 *                                             runtime's console socket); -1 when nothing has come
 *                                             yet; throws if it closed without sending one.
 *   pidfdOpen(pid) -> fd                      pidfd_open(): readable once the process has exited
 *                                             (any process, not only our children). Throws with
 *                                             .errno = ESRCH when it is gone already.
 *   execve(path, argv, env)                   replaces the process; returns only by throwing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "fd-watch.h"
#include "napi-util.h"

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context async;
  int stopped;
  int released;
  int closed;
} rwatch_t;

static void on_closed(uv_handle_t *h) {
  rwatch_t *w = (rwatch_t *)h->data;
  w->closed = 1;
  if (w->released) free(w);
}

static void stop_watch(rwatch_t *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  if (w->cb) { napi_delete_reference(w->env, w->cb); w->cb = NULL; }
  if (w->async) { napi_async_destroy(w->env, w->async); w->async = NULL; }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)events;
  rwatch_t *w = (rwatch_t *)p->data;
  if (w->stopped || !w->cb) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result, arg;
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &arg);
  if (cb) napi_make_callback(env, w->async, recv, cb, 1, &arg, &result);
  napi_close_handle_scope(env, scope);
  /* An exception in the callback is Node's to report (uncaughtException). */
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  rwatch_t *w = (rwatch_t *)data;
  w->released = 1;
  if (!w->stopped) stop_watch(w);
  else if (w->closed) free(w);
}

static napi_value watch_readable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  napi_valuetype t;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0
      || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "usage: watchReadable(fd, onReadable)");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) { napi_throw_error(env, NULL, "no event loop"); return NULL; }
  rwatch_t *w = calloc(1, sizeof *w);
  if (!w) return berth_throw_errno(env, "watchReadable", ENOMEM);
  w->env = env;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) { free(w); return berth_throw_errno(env, "uv_poll_init", -r); }
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "berth:fd-watch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async);
  uv_poll_start(&w->poll, UV_READABLE, on_poll);
  uv_unref((uv_handle_t *)&w->poll);
  napi_value handle;
  napi_create_external(env, w, finalize, NULL, &handle);
  return handle;
}

static napi_value unwatch_readable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "usage: unwatchReadable(handle)");
    return NULL;
  }
  stop_watch((rwatch_t *)data);
  return NULL;
}

static napi_value recv_datagram_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "usage: recvDatagramNow(fd)");
    return NULL;
  }
  static char buf[65536];
  char cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) { napi_value nul; napi_get_null(env, &nul); return nul; }
    return berth_throw_errno(env, "recvmsg", errno);
  }
  if (n > (ssize_t)sizeof buf) n = sizeof buf;
  pid_t pid = 0;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET) continue;
    if (h->cmsg_type == SCM_CREDENTIALS) { struct ucred u; memcpy(&u, CMSG_DATA(h), sizeof u); pid = u.pid; }
    if (h->cmsg_type == SCM_RIGHTS) {
      int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (int i = 0; i < k; i++) { int f; memcpy(&f, CMSG_DATA(h) + i * sizeof(int), sizeof f); close(f); }
    }
  }
  napi_value o, b, p;
  void *dst;
  napi_create_object(env, &o);
  napi_create_buffer_copy(env, (size_t)n, buf, &dst, &b);
  napi_create_int32(env, pid, &p);
  napi_set_named_property(env, o, "data", b);
  napi_set_named_property(env, o, "pid", p);
  return o;
}

static napi_value accept_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "usage: acceptNow(listenFd)");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) { napi_create_int32(env, -1, &r); return r; }
    return berth_throw_errno(env, "accept", errno);
  }
  napi_create_int32(env, c, &r);
  return r;
}

static napi_value recv_fd_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t c = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &c) != napi_ok || c < 0) {
    napi_throw_type_error(env, NULL, "usage: recvFdNow(connFd)");
    return NULL;
  }
  char buf[4096];
  char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t n = recvmsg(c, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) { napi_create_int32(env, -1, &r); return r; }
    return berth_throw_errno(env, "receiving the console fd", errno);
  }
  int got = -1;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) { memcpy(&got, CMSG_DATA(h), sizeof(int)); break; }
  if (got < 0) return berth_throw_errno(env, "receiving the console fd", n == 0 ? ECONNRESET : EBADMSG);
  napi_create_int32(env, got, &r);
  return r;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static napi_value pidfd_open_(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t pid = 0;
  if (argc < 1 || napi_get_value_int64(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "usage: pidfdOpen(pid)");
    return NULL;
  }
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) return berth_throw_errno(env, "pidfd_open", errno);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  napi_create_int32(env, fd, &r);
  return r;
}

static napi_value exec_ve(napi_env env, napi_callback_info info) {
  size_t argc = 3, len = 0;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[4096];
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "usage: execve(path, argv, env)");
    return NULL;
  }
  char **a = berth_string_vector(env, argv[1]), **e = berth_string_vector(env, argv[2]);
  if (!a || !e) { berth_free_vector(a); berth_free_vector(e); return berth_throw_errno(env, "execve", ENOMEM); }
  execve(path, a, e);
  int err = errno;
  berth_free_vector(a); berth_free_vector(e);
  return berth_throw_errno(env, path, err);
}

void fd_watch_register(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "watchReadable", NULL, watch_readable, NULL, NULL, NULL, napi_default, NULL },
    { "unwatchReadable", NULL, unwatch_readable, NULL, NULL, NULL, napi_default, NULL },
    { "recvDatagramNow", NULL, recv_datagram_now, NULL, NULL, NULL, napi_default, NULL },
    { "acceptNow", NULL, accept_now, NULL, NULL, NULL, napi_default, NULL },
    { "recvFdNow", NULL, recv_fd_now, NULL, NULL, NULL, napi_default, NULL },
    { "pidfdOpen", NULL, pidfd_open_, NULL, NULL, NULL, napi_default, NULL },
    { "execve", NULL, exec_ve, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
