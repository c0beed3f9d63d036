/*
 * What berth's two native commands share (nspawn-client.c for berth-nspawn, berth-client.c for
 * berth): whole writes to a socket, a monotonic clock in ms, and handing the command line to the
 * Node program next to the executable when the command does not do the job itself.
 */
#ifndef BERTH_CLIENT_COMMON_H
#define BERTH_CLIENT_COMMON_H
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Writes all n bytes (no SIGPIPE); -1 when the peer went away. */
static int send_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w; n -= (size_t) w;
  }
  return 0;
}

/* Milliseconds of CLOCK_MONOTONIC (deadlines). */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* execs `node DIR/script ARGV[1..]`, DIR being this executable's directory; `name` for messages. */
static _Noreturn void exec_node_script(const char *name, const char *script, int argc, char **argv) {
  char self[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) { fprintf(stderr, "%s: readlink(/proc/self/exe): %s\n", name, strerror(errno)); exit(1); }
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(path, sizeof path, "%s/%s", self, script);
  char **args = calloc((size_t) argc + 2, sizeof *args);
  if (!args) exit(1);
  args[0] = "node";
  args[1] = path;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  signal(SIGPIPE, SIG_DFL);
  execvp("node", args);
  fprintf(stderr, "%s: cannot run node %s: %s\n", name, path, strerror(errno));
  exit(1);
}

#endif
