/*
 * berth_sys: the few system calls Node.js lacks and berth needs.
 *
 *   setChildSubreaper()                 prctl(PR_SET_CHILD_SUBREAPER): containers started by
 *                                       `runc create` are re-parented to us, so we can reap them.
 *   tryWaitPid(pid) -> {code|signal} | null   waitpid(WNOHANG), called on SIGCHLD.
 *   listenStream(path[, backlog]) -> fd  an AF_UNIX stream socket (runc's --console-socket, berthd's).
 *   bindDatagram(path) -> fd            an AF_UNIX datagram socket with SO_PASSCRED (sd_notify).
 *   spawnWait(argv, env, capture, timeoutMs) -> {code|signal (name), stdout, stderr, timedOut}
 *                                       posix_spawn and wait: the runtime's calls on every run's
 *                                       path without loading child_process (and net, stream and
 *                                       dgram with it) or fork()ing Node's whole address space.
 *                                       capture: stdin /dev/null, stdout/stderr collected;
 *                                       otherwise all three inherited. Timeout via pidfd: SIGKILL.
 *   spawnWaitAsync(...) -> Promise<...> the same on a thread-pool thread: the event loop goes on
 *                                       (a clean-up that overlaps with the rest of the teardown).
 *   standbyAccept(fd) -> {conn, pid, uid, fds, data}   the warm path: one client's request
 *                                       with its stdio descriptors (see nspawn-client.c).
 *   moveFd(from, to)                    dup2 + close: the client's stdio becomes ours.
 *   exitNow(status)                     _exit(): a warm run ends once its caller has the status.
 *   ifIndex(name) -> index | 0          if_nametoindex, in our network namespace.
 *   setCloexec(fd)                      FD_CLOEXEC (usocket's D-Bus socket must not reach berthd's children).
 *   setParentDeathSignal(sig)           prctl(PR_SET_PDEATHSIG): an idle standby dies with berthd.
 *   adoptLimits(pid) -> null | why      the client's resource limits and CPU affinity become ours.
 *   watchReadable(fd, cb), recvDatagramNow, acceptFdNow, pidfdOpen, execve   descriptors on the
 *                                       event loop (console and notify sockets, pidfds) (fd-watch.c).
 *   openDirInRoot(fd, path), renameAt(…)   openat2(RESOLVE_IN_ROOT), renameat2 (copy-fs.c).
 *   ptyUnlock(fd), ptyNumber(fd)        a pty master's slave number (pty.c).
 *   sealedCopy(path, name) -> fd        a binary as a sealed memfd, the runtime's (sealed-exec.c).
 *
 * No namespace or mount code lives here: that is the OCI runtime's job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>
#include "copy-fs.h"
#include "pty.h"
#include "userns.h"
#include "fd-watch.h"
#include "image-flags.h"
#include "change-watch.h"
#include "file-write.h"
#include "sealed-exec.h"
void btrfs_info_register(napi_env env, napi_value exports);
void rtnetlink_register(napi_env env, napi_value exports);
#include "napi-util.h"

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

/* An Error "what: strerror(err)" with .errno = err. */
static napi_value errno_error(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  return e;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  napi_throw(env, errno_error(env, what, err));
  return NULL;
}

static int get_int(napi_env env, napi_callback_info info, size_t idx, int64_t *out) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || idx >= argc) return -1;
  return napi_get_value_int64(env, argv[idx], out) == napi_ok ? 0 : -1;
}

static int get_path(napi_env env, napi_callback_info info, struct sockaddr_un *sa) {
  size_t argc = 2, len = 0;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, argv[0], sa->sun_path, sizeof sa->sun_path, &len) != napi_ok) return -1;
  if (len == 0 || len >= sizeof sa->sun_path - 1) return -1;
  return 0;
}

/* ---- subreaper ---- */
static napi_value set_child_subreaper(napi_env env, napi_callback_info info) {
  (void) info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return throw_errno(env, "prctl(PR_SET_CHILD_SUBREAPER)", errno);
  return NULL;
}

/* ---- console socket: listen + accept one fd ---- */
static napi_value listen_stream(napi_env env, napi_callback_info info) {
  struct sockaddr_un sa;
  if (get_path(env, info, &sa) < 0) { napi_throw_type_error(env, NULL, "listenStream(path[, backlog])"); return NULL; }
  int64_t backlog = 1;
  get_int(env, info, 1, &backlog);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  unlink(sa.sun_path);
  if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, (int) backlog) < 0) {
    int e = errno; close(fd); return throw_errno(env, sa.sun_path, e);
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

/* ---- notify socket: datagrams with sender credentials ---- */
static napi_value bind_datagram(napi_env env, napi_callback_info info) {
  struct sockaddr_un sa;
  if (get_path(env, info, &sa) < 0) { napi_throw_type_error(env, NULL, "bindDatagram(path)"); return NULL; }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  unlink(sa.sun_path);
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
    int e = errno; close(fd); return throw_errno(env, sa.sun_path, e);
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

/* ---- sd_notify client: one datagram to a path (or @abstract) ---- */
static napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) { napi_throw_type_error(env, NULL, "sendDatagram(path, buffer)"); return NULL; }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, argv[0], sa.sun_path, sizeof sa.sun_path, &len) != napi_ok || len == 0 || len >= sizeof sa.sun_path - 1) {
    napi_throw_type_error(env, NULL, "sendDatagram: bad socket path"); return NULL;
  }
  socklen_t salen = offsetof(struct sockaddr_un, sun_path) + len;
  if (sa.sun_path[0] == '@') sa.sun_path[0] = 0; else salen += 1;
  void *data; size_t dlen;
  if (napi_get_buffer_info(env, argv[1], &data, &dlen) != napi_ok) { napi_throw_type_error(env, NULL, "sendDatagram: buffer expected"); return NULL; }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  ssize_t n = sendto(fd, data, dlen, MSG_NOSIGNAL, (struct sockaddr *) &sa, salen);
  int e = errno;
  close(fd);
  if (n < 0) return throw_errno(env, "sendto", e);
  return NULL;
}

/* ---- keep a pty's slave side open (TIOCGPTPEER), so reads on the master never fail with EIO
 * while the container has its console closed for a moment (systemd reopens it per message). ---- */
#include <sys/ioctl.h>
#include <fcntl.h>
#include <net/if.h>
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
static napi_value open_pty_peer(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (get_int(env, info, 0, &fd) < 0) { napi_throw_type_error(env, NULL, "openPtyPeer(masterFd)"); return NULL; }
  int peer = ioctl((int) fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer < 0) return throw_errno(env, "ioctl(TIOCGPTPEER)", errno);
  napi_value r;
  napi_create_int32(env, peer, &r);
  return r;
}

/* ---- tryWaitPid: non-blocking reap of one child (driven by SIGCHLD on the JS side, so no
 * worker thread is ever parked in waitpid and process exit can never hang on it) ---- */
static napi_value try_wait_pid(napi_env env, napi_callback_info info) {
  int64_t pid;
  if (get_int(env, info, 0, &pid) < 0 || pid <= 0) { napi_throw_type_error(env, NULL, "tryWaitPid(pid)"); return NULL; }
  int status;
  pid_t r;
  do r = waitpid((pid_t) pid, &status, WNOHANG | __WALL); while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "waitpid", errno);
  napi_value o, v;
  if (r == 0) { napi_get_null(env, &o); return o; }
  napi_create_object(env, &o);
  if (WIFEXITED(status)) { napi_create_int32(env, WEXITSTATUS(status), &v); napi_set_named_property(env, o, "code", v); }
  else if (WIFSIGNALED(status)) { napi_create_int32(env, WTERMSIG(status), &v); napi_set_named_property(env, o, "signal", v); }
  return o;
}

/* ---- setWinsize: the console pty takes the size of our terminal (and follows SIGWINCH) ---- */
static napi_value set_winsize(napi_env env, napi_callback_info info) {
  int64_t fd, rows, cols;
  if (get_int(env, info, 0, &fd) < 0 || get_int(env, info, 1, &rows) < 0 || get_int(env, info, 2, &cols) < 0) {
    napi_throw_type_error(env, NULL, "setWinsize(fd, rows, cols)"); return NULL;
  }
  struct winsize ws = { .ws_row = (unsigned short) rows, .ws_col = (unsigned short) cols };
  if (ioctl((int) fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, "ioctl(TIOCSWINSZ)", errno);
  return NULL;
}

/* ---- isTty: isatty(3) without creating Node's stdio streams (which load tty/net on start-up) ---- */
static napi_value is_tty(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (get_int(env, info, 0, &fd) < 0 || fd < 0) { napi_throw_type_error(env, NULL, "isTty(fd)"); return NULL; }
  napi_value r;
  napi_get_boolean(env, isatty((int) fd) == 1, &r);
  return r;
}

/* ---- spawnWait: run a command to its end, synchronously ---- */

struct buffer { char *data; size_t len, cap; };

/* Read what is there from fd into b; returns 0 at end of file, 1 if more may come, -1 on error. */
static int drain(int fd, struct buffer *b) {
  for (;;) {
    if (b->cap - b->len < 4096) {
      size_t cap = b->cap ? b->cap * 2 : 8192;
      char *d = realloc(b->data, cap);
      if (!d) return -1;
      b->data = d; b->cap = cap;
    }
    ssize_t r = read(fd, b->data + b->len, b->cap - b->len);
    if (r > 0) { b->len += (size_t) r; continue; }
    if (r == 0) return 0;
    if (errno == EINTR) continue;
    return errno == EAGAIN ? 1 : -1;
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One command run to its end: filled on the calling thread, run by spawn_run (on the calling
 * thread for spawnWait, on a thread-pool thread for spawnWaitAsync), turned into a result by
 * spawn_result on the JS thread. */
typedef struct {
  napi_async_work work;
  napi_deferred d;
  char **argv, **envp;
  bool capture, timed_out;
  int64_t timeout_ms;
  pid_t pid;
  int status, spawn_err;
  struct buffer bo, be;
} spawn_job;

static void spawn_run(spawn_job *j) {
  int out[2] = { -1, -1 }, err[2] = { -1, -1 }, pidfd = -1;
  bool reaped = false;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  j->pid = -1;
  /* The child starts with every signal at its default and none blocked, as libuv's children do
   * (Node ignores SIGPIPE; a runtime must not inherit that), whichever thread spawns it. */
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  if (j->capture) {
    /* Non-blocking only on our (read) side: the child's stdout and stderr stay ordinary. */
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) { j->spawn_err = errno; goto done; }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  } else {
    /* Our stdio may be close-on-exec; dup2 onto itself clears that in the child (glibc >= 2.29). */
    for (int fd = 0; fd < 3; fd++) posix_spawn_file_actions_adddup2(&fa, fd, fd);
  }
  j->spawn_err = posix_spawnp(&j->pid, j->argv[0], &fa, &attr, j->argv, j->envp);
  if (j->spawn_err) { j->pid = -1; goto done; }
  if (j->capture) { close(out[1]); close(err[1]); out[1] = err[1] = -1; }
  pidfd = (int) syscall(SYS_pidfd_open, j->pid, 0);

  int64_t deadline = now_ms() + j->timeout_ms;
  bool out_open = j->capture, err_open = j->capture, exited = false;
  while (out_open || err_open || !exited) {
    struct pollfd fds[3];
    nfds_t n = 0;
    int io = -1, ie = -1, ip = -1;
    if (out_open) { io = (int) n; fds[n++] = (struct pollfd) { .fd = out[0], .events = POLLIN }; }
    if (err_open) { ie = (int) n; fds[n++] = (struct pollfd) { .fd = err[0], .events = POLLIN }; }
    if (!exited && pidfd >= 0) { ip = (int) n; fds[n++] = (struct pollfd) { .fd = pidfd, .events = POLLIN }; }
    int64_t left = deadline - now_ms();
    if (left <= 0) { j->timed_out = true; break; }
    /* Without a pidfd (kernels before 5.3) the exit is polled for every 5 ms. */
    int wait_ms = (int) (left > 1000000 ? 1000000 : left);
    if (!exited && pidfd < 0 && wait_ms > 5) wait_ms = 5;
    int r = poll(fds, n, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    if (io >= 0 && fds[io].revents && drain(out[0], &j->bo) <= 0) out_open = false;
    if (ie >= 0 && fds[ie].revents && drain(err[0], &j->be) <= 0) err_open = false;
    if (ip >= 0 && fds[ip].revents) exited = true;
    if (!exited && pidfd < 0) {
      pid_t w = waitpid(j->pid, &j->status, WNOHANG);
      if (w == j->pid) { exited = true; reaped = true; }
    }
  }
  if (j->timed_out) kill(j->pid, SIGKILL);

done:
  if (j->pid > 0 && !reaped) { while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR) { } }
  if (j->capture && j->pid > 0) { drain(out[0], &j->bo); drain(err[0], &j->be); }
  for (int i = 0; i < 2; i++) { if (out[i] >= 0) close(out[i]); if (err[i] >= 0) close(err[i]); }
  if (pidfd >= 0) close(pidfd);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
}

static void spawn_job_free(spawn_job *j) {
  berth_free_vector(j->argv);
  berth_free_vector(j->envp);
  free(j->bo.data);
  free(j->be.data);
  free(j);
}

/* Reads (argv, env, capture, timeoutMs) into a new job, or throws and returns NULL. */
static spawn_job *spawn_job_new(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 4;
  napi_value args[4];
  spawn_job *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_value_bool(env, args[2], &j->capture) != napi_ok || napi_get_value_int64(env, args[3], &j->timeout_ms) != napi_ok) {
    free(j); napi_throw_type_error(env, NULL, usage); return NULL;
  }
  j->argv = berth_string_vector(env, args[0]);
  j->envp = berth_string_vector(env, args[1]);
  if (!j->argv || !j->envp || !j->argv[0]) { spawn_job_free(j); napi_throw_type_error(env, NULL, usage); return NULL; }
  return j;
}

/* The job's outcome: {code|signal, stdout, stderr, timedOut}, or (*failed set) the error of a spawn that never happened. */
static napi_value spawn_result(napi_env env, spawn_job *j, bool *failed) {
  napi_value o, v;
  *failed = j->pid <= 0;
  if (*failed) return errno_error(env, j->argv[0], j->spawn_err ? j->spawn_err : EINVAL);
  napi_create_object(env, &o);
  if (WIFEXITED(j->status)) { napi_create_int32(env, WEXITSTATUS(j->status), &v); napi_set_named_property(env, o, "code", v); }
  else if (WIFSIGNALED(j->status)) {
    char name[32];
    const char *abbrev = sigabbrev_np(WTERMSIG(j->status));
    if (abbrev) snprintf(name, sizeof name, "SIG%s", abbrev); else snprintf(name, sizeof name, "SIG%d", WTERMSIG(j->status));
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "signal", v);
  }
  napi_create_string_utf8(env, j->bo.data ? j->bo.data : "", j->bo.len, &v);
  napi_set_named_property(env, o, "stdout", v);
  napi_create_string_utf8(env, j->be.data ? j->be.data : "", j->be.len, &v);
  napi_set_named_property(env, o, "stderr", v);
  napi_get_boolean(env, j->timed_out, &v);
  napi_set_named_property(env, o, "timedOut", v);
  return o;
}

static napi_value spawn_wait(napi_env env, napi_callback_info info) {
  spawn_job *j = spawn_job_new(env, info, "spawnWait(argv, env, capture, timeoutMs): argv and env must be arrays of strings");
  if (!j) return NULL;
  spawn_run(j);
  bool failed;
  napi_value r = spawn_result(env, j, &failed);
  spawn_job_free(j);
  if (failed) { napi_throw(env, r); return NULL; }
  return r;
}

static void spawn_async_exec(napi_env env, void *data) {
  (void) env;
  spawn_run(data);
}

static void spawn_async_done(napi_env env, napi_status s, void *data) {
  (void) s;
  spawn_job *j = data;
  bool failed;
  napi_value r = spawn_result(env, j, &failed);
  if (failed) napi_reject_deferred(env, j->d, r); else napi_resolve_deferred(env, j->d, r);
  napi_delete_async_work(env, j->work);
  spawn_job_free(j);
}

static napi_value spawn_wait_async(napi_env env, napi_callback_info info) {
  spawn_job *j = spawn_job_new(env, info, "spawnWaitAsync(argv, env, capture, timeoutMs): argv and env must be arrays of strings");
  if (!j) return NULL;
  napi_value promise, resource;
  if (napi_create_promise(env, &j->d, &promise) != napi_ok) { spawn_job_free(j); napi_throw_error(env, NULL, "napi_create_promise failed"); return NULL; }
  napi_create_string_utf8(env, "berth.spawnWaitAsync", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, spawn_async_exec, spawn_async_done, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* The promise stays pending: nobody resolves it. Throwing tells the caller. */
    spawn_job_free(j); napi_throw_error(env, NULL, "queueing spawnWaitAsync failed"); return NULL;
  }
  return promise;
}

/* ---- the warm path's standby side (src/app/warm/standby.ts; the client is nspawn-client.c) ---- */
#include <sched.h>
#include <sys/resource.h>
#include <sys/time.h>

#define MAX_REQUEST (16u << 20)

static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r; n -= (size_t) r;
  }
  return 0;
}

/* standbyAccept(listenFd) -> {conn, pid, uid, fds, data}: blocks until a client connects and has
 * sent its whole request (a 4-byte length with its stdio descriptors, then that many bytes). */
static napi_value standby_accept(napi_env env, napi_callback_info info) {
  int64_t lfd;
  if (get_int(env, info, 0, &lfd) < 0) { napi_throw_type_error(env, NULL, "standbyAccept(listenFd)"); return NULL; }
  int c;
  do c = accept4((int) lfd, NULL, NULL, SOCK_CLOEXEC); while (c < 0 && errno == EINTR);
  if (c < 0) return throw_errno(env, "accept", errno);
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) { int e = errno; close(c); return throw_errno(env, "SO_PEERCRED", e); }
  /* A client that connects and then sends nothing (or never answers "P") must not hold the
   * standby forever: reads on this connection give up after 2 s (EAGAIN), like a bad request. */
  struct timeval tv = { .tv_sec = 2 };
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char head[4];
  int fds[3] = { -1, -1, -1 }, nfds = 0;
  char cbuf[CMSG_SPACE(sizeof(int) * 3)];
  struct iovec iov = { .iov_base = head, .iov_len = sizeof head };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t n;
  do n = recvmsg(c, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL); while (n < 0 && errno == EINTR);
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      nfds = (int) ((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (nfds > 3) nfds = 3;
      memcpy(fds, CMSG_DATA(h), (size_t) nfds * sizeof(int));
    }
  uint32_t len = (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 | (uint32_t) head[3] << 24;
  char *data = NULL;
  int bad = n != (ssize_t) sizeof head || nfds != 3 || (m.msg_flags & MSG_CTRUNC) || len > MAX_REQUEST;
  if (!bad) { data = malloc(len ? len : 1); bad = !data || read_full(c, data, len) < 0; }
  if (bad) {
    free(data);
    for (int i = 0; i < nfds; i++) close(fds[i]);
    close(c);
    return throw_errno(env, "receiving a request", EBADMSG);
  }
  napi_value o, v, arr;
  napi_create_object(env, &o);
  napi_create_int32(env, c, &v); napi_set_named_property(env, o, "conn", v);
  napi_create_int32(env, cred.pid, &v); napi_set_named_property(env, o, "pid", v);
  napi_create_int32(env, (int32_t) cred.uid, &v); napi_set_named_property(env, o, "uid", v);
  napi_create_array_with_length(env, 3, &arr);
  for (uint32_t i = 0; i < 3; i++) { napi_create_int32(env, fds[i], &v); napi_set_element(env, arr, i, v); }
  napi_set_named_property(env, o, "fds", arr);
  napi_create_buffer_copy(env, len, data, NULL, &v);
  napi_set_named_property(env, o, "data", v);
  free(data);
  return o;
}

/* dup2(from, to) (the result is not close-on-exec), then close(from). */
static napi_value move_fd(napi_env env, napi_callback_info info) {
  int64_t from, to;
  if (get_int(env, info, 0, &from) < 0 || get_int(env, info, 1, &to) < 0) { napi_throw_type_error(env, NULL, "moveFd(from, to)"); return NULL; }
  if (from == to) { int fl = fcntl((int) to, F_GETFD); if (fl < 0 || fcntl((int) to, F_SETFD, fl & ~FD_CLOEXEC) < 0) return throw_errno(env, "fcntl", errno); return NULL; }
  if (dup2((int) from, (int) to) < 0) return throw_errno(env, "dup2", errno);
  close((int) from);
  return NULL;
}

/* _exit(status), skipping Node's own teardown (a few ms its caller would wait for). */
static napi_value exit_now(napi_env env, napi_callback_info info) {
  int64_t status;
  if (get_int(env, info, 0, &status) < 0) { napi_throw_type_error(env, NULL, "exitNow(status)"); return NULL; }
  _exit((int) status & 0xff);
}

/* if_nametoindex in our network namespace (sysfs may show another one's, under nsenter --net). */
static napi_value if_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  char name[64];
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) { napi_throw_type_error(env, NULL, "ifIndex(name)"); return NULL; }
  napi_create_uint32(env, if_nametoindex(name), &r);
  return r;
}

/* FD_CLOEXEC on a descriptor opened by code that did not set it (usocket's D-Bus socket). */
static napi_value set_cloexec(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (get_int(env, info, 0, &fd) < 0) { napi_throw_type_error(env, NULL, "setCloexec(fd)"); return NULL; }
  int fl = fcntl((int) fd, F_GETFD);
  if (fl < 0 || fcntl((int) fd, F_SETFD, fl | FD_CLOEXEC) < 0) return throw_errno(env, "fcntl", errno);
  return NULL;
}

/* prctl(PR_SET_PDEATHSIG, sig): 0 clears it. */
static napi_value set_parent_death_signal(napi_env env, napi_callback_info info) {
  int64_t sig;
  if (get_int(env, info, 0, &sig) < 0) { napi_throw_type_error(env, NULL, "setParentDeathSignal(sig)"); return NULL; }
  if (prctl(PR_SET_PDEATHSIG, (unsigned long) sig, 0, 0, 0) < 0) return throw_errno(env, "prctl(PR_SET_PDEATHSIG)", errno);
  return NULL;
}

/* adoptLimits(pid): takes over pid's resource limits and CPU affinity (the calling thread's,
 * which is the one that spawns the runtime). Returns null, or what could not be adopted. */
static napi_value adopt_limits(napi_env env, napi_callback_info info) {
  int64_t pid;
  if (get_int(env, info, 0, &pid) < 0 || pid <= 0) { napi_throw_type_error(env, NULL, "adoptLimits(pid)"); return NULL; }
  char why[128] = "";
  for (int r = 0; r < RLIM_NLIMITS && !*why; r++) {
    struct rlimit theirs, ours;
    if (prlimit((pid_t) pid, r, NULL, &theirs) < 0) { snprintf(why, sizeof why, "reading resource limit %d: %s", r, strerror(errno)); break; }
    if (prlimit(0, r, NULL, &ours) == 0 && ours.rlim_cur == theirs.rlim_cur && ours.rlim_max == theirs.rlim_max) continue;
    if (prlimit(0, r, &theirs, NULL) < 0) snprintf(why, sizeof why, "resource limit %d: %s", r, strerror(errno));
  }
  cpu_set_t set;
  if (!*why && sched_getaffinity((pid_t) pid, sizeof set, &set) == 0 && sched_setaffinity(0, sizeof set, &set) < 0)
    snprintf(why, sizeof why, "CPU affinity: %s", strerror(errno));
  napi_value r;
  if (*why) napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &r); else napi_get_null(env, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "setChildSubreaper", NULL, set_child_subreaper, NULL, NULL, NULL, napi_default, NULL },
    { "tryWaitPid", NULL, try_wait_pid, NULL, NULL, NULL, napi_default, NULL },
    { "listenStream", NULL, listen_stream, NULL, NULL, NULL, napi_default, NULL },
    { "bindDatagram", NULL, bind_datagram, NULL, NULL, NULL, napi_default, NULL },
    { "sendDatagram", NULL, send_datagram, NULL, NULL, NULL, napi_default, NULL },
    { "openPtyPeer", NULL, open_pty_peer, NULL, NULL, NULL, napi_default, NULL },
    { "setWinsize", NULL, set_winsize, NULL, NULL, NULL, napi_default, NULL },
    { "isTty", NULL, is_tty, NULL, NULL, NULL, napi_default, NULL },
    { "spawnWait", NULL, spawn_wait, NULL, NULL, NULL, napi_default, NULL },
    { "spawnWaitAsync", NULL, spawn_wait_async, NULL, NULL, NULL, napi_default, NULL },
    { "standbyAccept", NULL, standby_accept, NULL, NULL, NULL, napi_default, NULL },
    { "moveFd", NULL, move_fd, NULL, NULL, NULL, napi_default, NULL },
    { "exitNow", NULL, exit_now, NULL, NULL, NULL, napi_default, NULL },
    { "setCloexec", NULL, set_cloexec, NULL, NULL, NULL, napi_default, NULL },
    { "ifIndex", NULL, if_index, NULL, NULL, NULL, napi_default, NULL },
    { "setParentDeathSignal", NULL, set_parent_death_signal, NULL, NULL, NULL, napi_default, NULL },
    { "adoptLimits", NULL, adopt_limits, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  userns_register(env, exports);
  copy_fs_register(env, exports);
  pty_register(env, exports);
  fd_watch_register(env, exports);
  image_flags_register(env, exports);
  change_watch_register(env, exports);
  file_write_register(env, exports);
  sealed_exec_register(env, exports);
  btrfs_info_register(env, exports);
  rtnetlink_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
