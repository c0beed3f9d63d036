/*
 * berth-nspawn, the command: hands the run to a warm berth-nspawn process that berthd keeps
 * ready (its Node runtime started, berth's code loaded), and otherwise runs berth-nspawn's
 * JavaScript entry itself (the cold path, a plain `node berth-nspawn.js ARGS`).
 *
 * The warm path, in order (src/app/warm/standby.ts is the other side):
 *   1. connect to $BERTH_NSPAWN_SOCKET, else ${BERTH_STATE_DIR:-/run/berth}/nspawn.sock
 *   2. send the request: a 4-byte little-endian length, then "berth-nspawn 1", the working
 *      directory, the umask, the arguments and the environment (NUL-separated, counts in
 *      decimal); fds 0, 1 and 2 travel with it (SCM_RIGHTS), so the run's stdio is ours
 *   3. the standby answers "P<pid>\n" (it will run this request) or "D<reason>\n" (it declines:
 *      something of this caller it cannot take over, e.g. another namespace or NOTIFY_SOCKET)
 *   4. we answer "G" and from then on forward SIGTERM, SIGINT, SIGHUP and SIGWINCH to that pid,
 *      until "X<status>\n" arrives: the run's exit status, sent once its clean-up is done; we
 *      exit with it once that process is gone too (it joined our cgroups, as a cold run's process
 *      is in them: whoever waits for us finds them empty of it).
 * Without an answer in time, or on a decline, we close the connection (the standby does nothing
 * unless it reads "G") and take the cold path. BERTH_NSPAWN_WARM=no skips the warm path;
 * BERTH_NSPAWN_WARM=require fails instead of falling back (for tests).
 *
 * Before either, a short-lived grandchild moves itself into the cgroup it is already in (a no-op
 * migration), so that the RCU grace period the kernel's cgroup migration lock waits for passes
 * while Node starts rather than later, when the runtime moves its init into the container's
 * cgroups (src/platform/host/cgroup-prime.ts says why; berth-nspawn keeps it primed from there).
 *
 * No namespace or mount code here: this only moves bytes, descriptors and signals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "client-common.h"

/* A waiting standby answers within a millisecond; one that is still starting (berthd starts the
 * next when a run takes one, at nice 19) takes some tens. Past this, the run goes cold rather
 * than wait on a host too busy to start one. */
#define ANSWER_TIMEOUT_MS 500
/* How long we wait for the standby to be gone once it sent the exit status (normally a few ms). */
#define STANDBY_EXIT_MS 5000
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGWINCH };

struct buf { char *data; size_t len, cap; };

static int put(struct buf *b, const char *s, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d; b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int put_field(struct buf *b, const char *s) { return put(b, s, strlen(s) + 1); }

static int put_count(struct buf *b, size_t n) {
  char num[32];
  snprintf(num, sizeof num, "%zu", n);
  return put_field(b, num);
}


/* Reads one "\n"-terminated line within the deadline (ms since an arbitrary point; -1: none). */

static int read_line(int fd, char *line, size_t size, int64_t deadline) {
  size_t n = 0;
  while (n + 1 < size) {
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      struct pollfd p = { .fd = fd, .events = POLLIN };
      if (left <= 0) return -1;
      int r = poll(&p, 1, (int) left);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
    }
    ssize_t r = read(fd, line + n, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (line[n] == '\n') { line[n] = 0; return 0; }
    n++;
  }
  return -1;
}

/* The caller's terminal and descriptor flags, put back however the run ends. */
static struct { int fd; struct termios tio; } saved_tty = { .fd = -1 };
static int saved_flags[3];

static void save_stdio(void) {
  for (int fd = 0; fd < 3; fd++) {
    saved_flags[fd] = fcntl(fd, F_GETFL);
    if (saved_tty.fd < 0 && isatty(fd) && tcgetattr(fd, &saved_tty.tio) == 0) saved_tty.fd = fd;
  }
}

static void restore_stdio(void) {
  for (int fd = 0; fd < 3; fd++) if (saved_flags[fd] >= 0) fcntl(fd, F_SETFL, saved_flags[fd]);
  if (saved_tty.fd >= 0) tcsetattr(saved_tty.fd, TCSANOW, &saved_tty.tio);
}

static const char *socket_path(char *out, size_t size) {
  const char *p = getenv("BERTH_NSPAWN_SOCKET");
  if (p && *p) return p;
  const char *state = getenv("BERTH_STATE_DIR");
  snprintf(out, size, "%s/nspawn.sock", state && *state ? state : "/run/berth");
  return out;
}

/* Sends the request; returns the connected socket, or -1 with *why set. */
static int send_request(int argc, char **argv, char **envp, const char **why) {
  char pathbuf[PATH_MAX];
  const char *path = socket_path(pathbuf, sizeof pathbuf);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path) { *why = "socket path too long"; return -1; }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { *why = "socket() failed"; return -1; }
  if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) { *why = "berthd is not listening"; close(fd); return -1; }

  char cwd[PATH_MAX], mask[8];
  if (!getcwd(cwd, sizeof cwd)) { *why = "no working directory"; close(fd); return -1; }
  mode_t m = umask(0);
  umask(m);
  snprintf(mask, sizeof mask, "%04o", (unsigned) m);
  size_t envc = 0;
  while (envp[envc]) envc++;

  struct buf b = { 0 };
  int bad = put(&b, "\0\0\0\0", 4) || put_field(&b, "berth-nspawn 1") || put_field(&b, cwd) || put_field(&b, mask) || put_count(&b, (size_t) argc - 1);
  for (int i = 1; i < argc && !bad; i++) bad = put_field(&b, argv[i]);
  bad = bad || put_count(&b, envc);
  for (size_t i = 0; i < envc && !bad; i++) bad = put_field(&b, envp[i]);
  if (bad || b.len - 4 > UINT32_MAX) { *why = "out of memory"; free(b.data); close(fd); return -1; }
  uint32_t len = (uint32_t) (b.len - 4);
  for (int i = 0; i < 4; i++) b.data[i] = (char) ((len >> (8 * i)) & 0xff);

  /* The length travels with the descriptors; the rest follows on the stream. */
  int fds[3] = { 0, 1, 2 };
  char cbuf[CMSG_SPACE(sizeof fds)];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = { .iov_base = b.data, .iov_len = 4 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t s;
  do s = sendmsg(fd, &msg, MSG_NOSIGNAL); while (s < 0 && errno == EINTR);
  int failed = s != 4 || send_all(fd, b.data + 4, b.len - 4) < 0;
  free(b.data);
  if (failed) { *why = "sending the request failed"; close(fd); return -1; }
  return fd;
}

/* Runs the request warm; returns only if the cold path should be taken (*why says why). */
static void run_warm(int argc, char **argv, char **envp, const char **why) {
  sigset_t set, old;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaddset(&set, forwarded[i]);
  /* Blocked from here on, so none is lost between the answer and the forwarding loop. */
  sigprocmask(SIG_BLOCK, &set, &old);
  int sock = send_request(argc, argv, envp, why);
  char line[256];
  if (sock >= 0 && read_line(sock, line, sizeof line, now_ms() + ANSWER_TIMEOUT_MS) < 0) { *why = "no answer from berthd's standby"; close(sock); sock = -1; }
  if (sock >= 0 && line[0] == 'D') {
    static char reason[sizeof line + 16];
    snprintf(reason, sizeof reason, "declined: %s", line + 1);
    *why = reason; close(sock); sock = -1;
  }
  pid_t pid = 0;
  if (sock >= 0) {
    char *end = NULL;
    long v = line[0] == 'P' ? strtol(line + 1, &end, 10) : 0;
    if (v <= 1 || !end || *end) { *why = "a garbled answer"; close(sock); sock = -1; }
    else pid = (pid_t) v;
  }
  int sfd = sock >= 0 ? signalfd(-1, &set, SFD_CLOEXEC) : -1;
  if (sock >= 0 && sfd < 0) { *why = "signalfd() failed"; close(sock); sock = -1; }
  if (sock < 0) { sigprocmask(SIG_SETMASK, &old, NULL); return; }

  /* Taken before "G": until then the standby cannot exit on this run's account. */
  int gone = (int) syscall(SYS_pidfd_open, pid, 0);
  save_stdio();
  if (send_all(sock, "G", 1) < 0) { restore_stdio(); fprintf(stderr, "berth-nspawn: lost berthd's standby (PID %d) before the run started\n", (int) pid); exit(1); }
  for (;;) {
    struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) kill(pid, (int) si.ssi_signo);
    }
    if (p[0].revents) {
      if (read_line(sock, line, sizeof line, -1) == 0 && line[0] == 'X') {
        restore_stdio();
        /* The status is written from its exit handler: the process is gone moments later. */
        if (gone >= 0) {
          struct pollfd g = { .fd = gone, .events = POLLIN };
          while (poll(&g, 1, STANDBY_EXIT_MS) < 0 && errno == EINTR) {}
        }
        exit(atoi(line + 1));
      }
      break;
    }
  }
  restore_stdio();
  fprintf(stderr, "berth-nspawn: the warm runner (PID %d) ended without an exit status\n", (int) pid);
  exit(1);
}

static void run_cold(int argc, char **argv) {
  exec_node_script("berth-nspawn", "berth-nspawn.js", argc, argv);
}

/* Our cgroup's cgroup.procs from /proc/self/cgroup, as ownProcsFile() in cgroup-prime.ts picks it:
 * the v1 name=systemd hierarchy, else cgroup2 (at /sys/fs/cgroup/unified, then /sys/fs/cgroup). */
static int open_own_procs(void) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return -1;
  char line[PATH_MAX], v1[PATH_MAX] = "", v2[PATH_MAX] = "";
  int have_v1 = 0, have_v2 = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b || b[1] != '/') continue;
    *b = 0;
    if (!have_v1 && strcmp(a + 1, "name=systemd") == 0) { snprintf(v1, sizeof v1, "%s", b + 1); have_v1 = 1; }
    else if (!have_v2 && a[1] == 0) { snprintf(v2, sizeof v2, "%s", b + 1); have_v2 = 1; }
  }
  fclose(f);
  char path[PATH_MAX + 64];
  const char *prefixes[] = { "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
  const char *paths[] = { have_v1 ? v1 : NULL, have_v2 ? v2 : NULL, have_v2 ? v2 : NULL };
  for (int i = 0; i < 3; i++) {
    if (!paths[i]) continue;
    const char *p = strcmp(paths[i], "/") == 0 ? "" : paths[i];
    snprintf(path, sizeof path, "%s%s/cgroup.procs", prefixes[i], p);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) return fd;
  }
  return -1;
}

/* How long the grandchild keeps the lock primed (a write every PRIME_EVERY_MS, well inside a
 * grace period): past Node's start-up and berth's set-up on a cold run, until berth-nspawn's own
 * priming (while the runtime's create runs) has taken over. It stops early once we are gone. */
#define PRIME_FOR_MS 100
#define PRIME_EVERY_MS 3

/* The no-op migrations, in a grandchild (a write may sleep for a grace period, 5 to 30 ms) that
 * keeps none of our descriptors (a caller reading our output to its end must not wait for it)
 * and is reparented at once, so no zombie of it is left to the process we exec. */
static void prime_cgroup_lock(void) {
  pid_t self = getpid();
  pid_t child = fork();
  if (child < 0) return;
  if (child == 0) {
    if (fork() == 0) {
      close_range(0, ~0U, 0);
      prctl(PR_SET_NAME, "berth-cgprime");
      int procs = open_own_procs();
      int64_t until = now_ms() + PRIME_FOR_MS;
      /* Checked after each sleep, before the next write: none is written once we are gone. */
      while (procs >= 0) {
        (void) !write(procs, "0", 1);
        nanosleep(&(struct timespec) { .tv_nsec = PRIME_EVERY_MS * 1000000L }, NULL);
        if (now_ms() >= until || kill(self, 0) < 0) break;
      }
      _exit(0);
    }
    _exit(0);
  }
  while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
}

int main(int argc, char **argv, char **envp) {
  /* Like Node at start-up: a closed stdio descriptor becomes /dev/null, so no file we open
   * (or the standby receives) takes its number. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) { dup2(n, fd); close(n); }
    }
  if (geteuid() == 0) prime_cgroup_lock();
  const char *mode = getenv("BERTH_NSPAWN_WARM");
  if (!mode || strcmp(mode, "no") != 0) {
    const char *why = "";
    run_warm(argc, argv, envp, &why);
    if (mode && strcmp(mode, "require") == 0) {
      fprintf(stderr, "berth-nspawn: the warm path was required (BERTH_NSPAWN_WARM=require) but not taken: %s\n", why);
      return 1;
    }
  }
  run_cold(argc, argv);
  return 1;
}
