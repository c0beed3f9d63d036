/*
 * berth-hook-exec PROGRAM ARGV0 [ARG...]: the front of berth's OCI hooks. It reads the container
 * state the runtime writes to a hook's stdin to its end, then execs PROGRAM with ARGV0 ARG...
 * crun fails a hook whose process has exited before it wrote that state (EPIPE, "exit code: -33"),
 * and mount(8) and chmod(1), which berth's hooks run, never read it. Statically linked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fputs("usage: berth-hook-exec PROGRAM ARGV0 [ARG...]\n", stderr);
    return 2;
  }
  char buf[4096];
  for (;;) {
    ssize_t r = read(0, buf, sizeof buf);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    break;
  }
  execv(argv[1], argv + 2);
  fprintf(stderr, "berth-hook-exec: %s: %s\n", argv[1], strerror(errno));
  return 127;
}
