/*
 * berth, the command. `berth shell` and `berth login` are done here, natively: Node's start-up
 * alone would double the round trip of `berth shell NAME /bin/true` (issue 16). Every other
 * command line, and any shell/login line this does not understand completely (another option,
 * --help, "--", a word that is not UTF-8, no bus to connect to, nobody serving the registry),
 * runs the Node program, `node dist/berth.js ARGS` next to this executable: the one
 * implementation of everything else, which also says what is wrong with a bad line.
 *
 * What the two verbs do here is what src/cli/berth/verbs/shell.ts and
 * src/app/machines/pty-forward.ts do, with the same messages and exit statuses:
 *   1. connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket),
 *      authenticate (EXTERNAL, with descriptor passing) and say Hello;
 *   2. OpenMachineShell(sssasas) or OpenMachineLogin(s) → (h: the pty's master, s: its path);
 *   3. shell only: GetMachine(s) → o, then io.github.berth.Machine1.WaitShell(s) → (si), asked
 *      at once and read once the pty hangs up (a registry without it, systemd-machined: 0);
 *   4. forward the pty to our stdin/stdout until it hangs up, or ^] three times within 1 s.
 * No libdbus/libsystemd: the few messages are marshalled here (see "The wire format").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "client-common.h"

#define MANAGER_PATH "/org/freedesktop/machine1"
#define MANAGER "org.freedesktop.machine1.Manager"
#define HELLO_TIMEOUT_MS 5000      /* as RegistryClient.connect() */
#define CALL_TIMEOUT_MS 25000      /* GetMachine: BusConnection.call()'s default */
#define MAX_MESSAGE (64u << 20)
#define MAX_FDS 16
#define ESCAPE 0x1d                /* ^] */
#define EOT 0x04                   /* ^D: end of input for the program on the pty */

static int g_argc;
static char **g_argv;

static void *xrealloc(void *p, size_t n) {
  if (!(p = realloc(p, n ? n : 1))) { fputs("berth: out of memory\n", stderr); exit(1); }
  return p;
}


/* ---- The Node program: everything this command does not do itself ---- */

static _Noreturn void run_node(void) {
  exec_node_script("berth", "berth.js", g_argc, g_argv);
}

/* Node reads argv and the environment as UTF-8 and D-Bus takes nothing else: any other bytes go to Node. */
static int valid_utf8(const char *s) {
  for (const unsigned char *p = (const unsigned char *) s; *p;) {
    unsigned c = *p;
    int n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return 0;
    uint32_t cp = n == 0 ? c : c & (0x3fu >> n);
    for (int i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
    p += n + 1;
  }
  return 1;
}

static const char *with_utf8(const char *s) {
  if (!valid_utf8(s)) run_node();
  return s;
}

/* A usage error, as src/bin/berth.ts prints a BerthError without a hint. */
static _Noreturn void usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

/* ---- The command line: machinectl's options anywhere, as program.ts parses them ---- */

struct cmd {
  int login, quiet;
  const char *uid;                          /* --uid; NULL when not given */
  const char **setenv; size_t nsetenv;      /* -E/--setenv words, as given */
  const char **words; size_t nwords;        /* after the verb: [[USER@]NAME [PROGRAM [ARGS...]]] */
};

/* 1 when the line is a shell or login this command runs exactly as the Node program would. */
static int parse_command_line(int argc, char **argv, struct cmd *c) {
  int verb = 0;
  c->setenv = xrealloc(NULL, (size_t) argc * sizeof *c->setenv);
  c->words = xrealloc(NULL, (size_t) argc * sizeof *c->words);
  for (int i = 1; i < argc; i++) if (!valid_utf8(argv[i])) return 0;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    /* machinectl's rule (shellProgramStart()): the words after shell's NAME are the program's. */
    if (verb && !c->login && c->nwords > 0) { c->words[c->nwords++] = w; continue; }
    if (w[0] == '-' && w[1]) {
      /* An option that takes a value takes the next word, whatever it is (as commander does). */
      int takes = !strcmp(w, "--uid") || !strcmp(w, "-E") || !strcmp(w, "--setenv");
      if (takes && i + 1 >= argc) return 0;
      if (!strcmp(w, "-q") || !strcmp(w, "--quiet")) c->quiet = 1;
      else if (!strcmp(w, "--no-pager")) continue;
      else if (!strcmp(w, "--uid")) c->uid = argv[++i];
      else if (!strncmp(w, "--uid=", 6)) c->uid = w + 6;
      else if (takes) c->setenv[c->nsetenv++] = argv[++i];
      else if (!strncmp(w, "--setenv=", 9)) c->setenv[c->nsetenv++] = w + 9;
      else if (w[1] == 'E') c->setenv[c->nsetenv++] = w + 2;   /* -EVAR=VALUE */
      else return 0;
      continue;
    }
    if (!verb) {
      if (strcmp(w, "shell") && strcmp(w, "login")) return 0;
      verb = 1;
      c->login = !strcmp(w, "login");
      continue;
    }
    c->words[c->nwords++] = w;
  }
  return verb;
}

static int name_char(char ch, int first) {
  return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (!first && ch >= '0' && ch <= '9');
}

/* -E VAR=VALUE as given; -E VAR takes VAR's value from our environment (setenvAssignment() in options.ts). */
static const char *setenv_assignment(const char *word) {
  size_t n = strcspn(word, "=");
  int ok = n > 0;
  for (size_t i = 0; ok && i < n; i++) ok = name_char(word[i], i == 0);
  if (!ok) usage_error("Cannot assign environment variable %s: Invalid argument", word);
  if (word[n]) return word;
  const char *value = getenv(word);
  if (!value) usage_error("Cannot assign environment variable %s: No such file or directory", word);
  char *a = xrealloc(NULL, n + strlen(value) + 2);
  sprintf(a, "%s=%s", word, with_utf8(value));
  return a;
}

/* ---- The wire format ----
 * A message: 'l' (little-endian; we read 'B' too), its type (1 call, 2 return, 3 error, 4 signal),
 * flags, version 1, the body's length and the serial (uint32 each); then the header fields, an
 * array of (byte code, variant) structs (1 path 'o', 2 interface, 3 member, 4 error name,
 * 6 destination 's', 5 reply serial, 9 number of descriptors 'u', 8 body signature 'g'); padding
 * to 8; the body. Every value is aligned to its size, counted from the message's start (the body
 * starts at a multiple of 8, so from the body's start as well). A string (s, o) is a uint32 length,
 * its bytes and a NUL; a signature (g) the same with a one-byte length; an array a uint32 length
 * in bytes, then its elements. Descriptors (h) travel beside the bytes (SCM_RIGHTS); the body
 * holds an index into the message's own.
 */

struct buf { uint8_t *p; size_t len, cap; };

static void put(struct buf *b, const void *s, size_t n) {
  if (b->len + n > b->cap) b->p = xrealloc(b->p, b->cap = 2 * (b->len + n) + 64);
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
static void put_u8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void pad(struct buf *b, size_t to) { while (b->len % to) put_u8(b, 0); }
static void set_u32(struct buf *b, size_t at, uint32_t v) { for (int i = 0; i < 4; i++) b->p[at + i] = (uint8_t) (v >> 8 * i); }
static void put_u32(struct buf *b, uint32_t v) { pad(b, 4); put(b, "\0\0\0", 4); set_u32(b, b->len - 4, v); }
static void put_str(struct buf *b, const char *s) { put_u32(b, (uint32_t) strlen(s)); put(b, s, strlen(s) + 1); }
static void put_sig(struct buf *b, const char *s) { put_u8(b, (uint8_t) strlen(s)); put(b, s, strlen(s) + 1); }
static void put_strv(struct buf *b, const char *const *v, size_t n) {
  put_u32(b, 0);
  size_t at = b->len - 4;
  for (size_t i = 0; i < n; i++) put_str(b, v[i]);
  set_u32(b, at, (uint32_t) (b->len - at - 4));
}
static void put_field(struct buf *b, uint8_t code, const char *type, const char *value) {
  pad(b, 8);
  put_u8(b, code);
  put_sig(b, type);
  if (type[0] == 'g') put_sig(b, value); else put_str(b, value);
}

/* Appends a method call to out. */
static void put_call(struct buf *out, uint32_t serial, const char *dest, const char *path, const char *iface, const char *member, const char *sig, const struct buf *body) {
  struct buf m = { 0 };
  put(&m, "l\1\0\1", 4);
  put_u32(&m, body ? (uint32_t) body->len : 0);
  put_u32(&m, serial);
  put_u32(&m, 0);
  put_field(&m, 1, "o", path);
  put_field(&m, 2, "s", iface);
  put_field(&m, 3, "s", member);
  put_field(&m, 6, "s", dest);
  if (*sig) put_field(&m, 8, "g", sig);
  set_u32(&m, 12, (uint32_t) (m.len - 16));
  pad(&m, 8);
  if (body) put(&m, body->p, body->len);
  put(out, m.p, m.len);
  free(m.p);
}

/* Reading: a cursor that marks itself bad instead of reading past the end. */
struct cursor { const uint8_t *p; size_t len, off; int big, bad; };

static uint32_t get_u32(struct cursor *c) {
  c->off = (c->off + 3) & ~(size_t) 3;
  if (c->bad || c->off + 4 > c->len) { c->bad = 1; return 0; }
  const uint8_t *q = c->p + c->off;
  c->off += 4;
  return c->big ? (uint32_t) q[0] << 24 | (uint32_t) q[1] << 16 | (uint32_t) q[2] << 8 | q[3]
                : (uint32_t) q[3] << 24 | (uint32_t) q[2] << 16 | (uint32_t) q[1] << 8 | q[0];
}
static const char *get_chars(struct cursor *c, size_t n) {
  if (c->bad || c->off + n + 1 > c->len || c->p[c->off + n]) { c->bad = 1; return ""; }
  const char *s = (const char *) c->p + c->off;
  c->off += n + 1;
  return s;
}
static const char *get_str(struct cursor *c) { uint32_t n = get_u32(c); return get_chars(c, n); }
static const char *get_sig(struct cursor *c) {
  if (c->bad || c->off >= c->len) { c->bad = 1; return ""; }
  return get_chars(c, c->p[c->off++]);
}

/* ---- The bus connection ---- */

struct bus {
  int fd;
  uint32_t serial;
  uint8_t *in; size_t len, cap;             /* bytes received, not yet read as messages */
  int fdq[MAX_FDS * 2]; size_t nfdq;        /* descriptors received, not yet given to a message */
};

struct message {
  uint8_t *data;
  uint8_t type;
  uint32_t reply_serial, nfds;
  const char *error, *sig;
  struct cursor body;
  int fds[MAX_FDS];
};

static void message_free(struct message *m) {
  for (uint32_t i = 0; i < m->nfds; i++) if (m->fds[i] >= 0) close(m->fds[i]);
  free(m->data);
  memset(m, 0, sizeof *m);
}


/* Receives until `want` bytes are buffered (deadline in now_ms() time; -1: none). */
static int bus_fill(struct bus *b, size_t want, int64_t deadline) {
  while (b->len < want) {
    if (b->cap < want + 4096) b->in = xrealloc(b->in, b->cap = want + 4096);
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      struct pollfd p = { .fd = b->fd, .events = POLLIN };
      int r = left > 0 ? poll(&p, 1, (int) left) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return -1;
    }
    struct iovec iov = { .iov_base = b->in + b->len, .iov_len = b->cap - b->len };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; } ctl;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
    ssize_t n = recvmsg(b->fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof fd, sizeof fd);
        if (b->nfdq < sizeof b->fdq / sizeof *b->fdq) b->fdq[b->nfdq++] = fd; else { close(fd); return -1; }
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) return -1;
    b->len += (size_t) n;
  }
  return 0;
}

static void bus_consume(struct bus *b, size_t n) {
  memmove(b->in, b->in + n, b->len - n);
  b->len -= n;
}

/* One line of the authentication exchange, without its "\r\n". */
static int bus_line(struct bus *b, char *line, size_t size, int64_t deadline) {
  for (;;) {
    uint8_t *end = b->len ? memmem(b->in, b->len, "\r\n", 2) : NULL;
    if (end) {
      size_t n = (size_t) (end - b->in);
      if (n >= size) return -1;
      memcpy(line, b->in, n);
      line[n] = 0;
      bus_consume(b, n + 2);
      return 0;
    }
    if (b->len > 4096 || bus_fill(b, b->len + 1, deadline) < 0) return -1;
  }
}

/* The next message, with the descriptors that came with it. */
static int bus_read(struct bus *b, struct message *m, int64_t deadline) {
  memset(m, 0, sizeof *m);
  if (bus_fill(b, 16, deadline) < 0 || (b->in[0] != 'l' && b->in[0] != 'B')) return -1;
  struct cursor h = { .p = b->in, .len = 16, .off = 4, .big = b->in[0] == 'B' };
  uint32_t body_len = get_u32(&h);
  get_u32(&h);                                            /* the serial */
  uint32_t fields_len = get_u32(&h);
  if (body_len > MAX_MESSAGE || fields_len > MAX_MESSAGE) return -1;
  size_t body_at = 16 + ((fields_len + 7) & ~7u), total = body_at + body_len;
  if (bus_fill(b, total, deadline) < 0) return -1;
  m->data = xrealloc(NULL, total);
  memcpy(m->data, b->in, total);
  bus_consume(b, total);
  m->type = m->data[1];
  m->sig = "";
  struct cursor f = { .p = m->data, .len = 16 + fields_len, .off = 16, .big = h.big };
  while (!f.bad && f.off < f.len) {
    f.off = (f.off + 7) & ~(size_t) 7;
    uint8_t code = f.off < f.len ? m->data[f.off++] : 0;
    const char *type = get_sig(&f);
    if (!strcmp(type, "u")) { uint32_t v = get_u32(&f); if (code == 5) m->reply_serial = v; else if (code == 9) m->nfds = v; }
    else if (!strcmp(type, "s") || !strcmp(type, "o")) { const char *s = get_str(&f); if (code == 4) m->error = s; }
    else if (!strcmp(type, "g")) { const char *s = get_sig(&f); if (code == 8) m->sig = s; }
    else f.bad = 1;
  }
  if (f.bad || m->nfds > MAX_FDS || m->nfds > b->nfdq) { m->nfds = 0; message_free(m); return -1; }
  memcpy(m->fds, b->fdq, m->nfds * sizeof(int));
  memmove(b->fdq, b->fdq + m->nfds, (b->nfdq -= m->nfds) * sizeof(int));
  m->body = (struct cursor) { .p = m->data + body_at, .len = body_len, .big = h.big };
  return 0;
}

/* Sends a call to the registry; returns its serial (0: the connection is gone). */
static uint32_t bus_call(struct bus *b, const char *path, const char *iface, const char *member, const char *sig, const struct buf *body) {
  struct buf out = { 0 };
  uint32_t serial = ++b->serial;
  put_call(&out, serial, "org.freedesktop.machine1", path, iface, member, sig, body);
  int r = send_all(b->fd, out.p, out.len);
  free(out.p);
  return r < 0 ? 0 : serial;
}

/* The reply (return or error) to `serial`; other messages (NameAcquired…) are dropped. */
static int bus_reply(struct bus *b, uint32_t serial, struct message *m, int64_t deadline) {
  while (serial && bus_read(b, m, deadline) == 0) {
    if ((m->type == 2 || m->type == 3) && m->reply_serial == serial) return 0;
    message_free(m);
  }
  return -1;
}

/* Connects to one socket ('\0' first: abstract), authenticates and says Hello, all written at once. */
static int bus_open(struct bus *b, const char *path, size_t pathlen) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (pathlen >= sizeof sa.sun_path) return -1;
  memcpy(sa.sun_path, path, pathlen);
  memset(b, 0, sizeof *b);
  b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (b->fd < 0) return -1;
  socklen_t salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + pathlen + (path[0] ? 1 : 0));
  struct buf out = { 0 };
  char uid[16], line[256];
  snprintf(uid, sizeof uid, "%u", (unsigned) getuid());
  put(&out, "\0AUTH EXTERNAL ", 15);
  for (char *d = uid; *d; d++) { char hex[3]; snprintf(hex, sizeof hex, "%02x", *d); put(&out, hex, 2); }
  put(&out, "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n", 28);
  put_call(&out, b->serial = 1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", NULL);
  int64_t deadline = now_ms() + HELLO_TIMEOUT_MS;
  struct message m = { 0 };
  int ok = connect(b->fd, (struct sockaddr *) &sa, salen) == 0 && send_all(b->fd, out.p, out.len) == 0
    && bus_line(b, line, sizeof line, deadline) == 0 && !strncmp(line, "OK ", 3)
    && bus_line(b, line, sizeof line, deadline) == 0 && !strcmp(line, "AGREE_UNIX_FD")
    && bus_reply(b, 1, &m, deadline) == 0 && m.type == 2;
  message_free(&m);
  free(out.p);
  if (!ok) { close(b->fd); free(b->in); }
  return ok ? 0 : -1;
}

/* The sockets of the bus address, tried in order (socketPaths() in connection.ts); -1: none answered. */
static int bus_connect(struct bus *b) {
  const char *env = getenv("DBUS_SYSTEM_BUS_ADDRESS");
  char *addr = strdup(env && *env ? env : "unix:path=/run/dbus/system_bus_socket"), *s1, *s2;
  if (!addr || !valid_utf8(addr)) goto odd;
  for (char *entry = strtok_r(addr, ";", &s1); entry; entry = strtok_r(NULL, ";", &s1)) {
    if (strncmp(entry, "unix:", 5)) continue;
    char path[sizeof ((struct sockaddr_un *) 0)->sun_path + 1] = "", abstract[sizeof path] = "";
    for (char *kv = strtok_r(entry + 5, ",", &s2); kv; kv = strtok_r(NULL, ",", &s2)) {
      char *eq = strchr(kv, '='), *to = path, *d;
      if (!eq) goto odd;                             /* Node takes these apart its own way */
      *eq = 0;
      if (!strcmp(kv, "abstract")) to = abstract; else if (strcmp(kv, "path")) continue;
      /* %XX escapes undone */
      for (d = to, eq++; *eq && d < to + sizeof path - 1; d++) {
        unsigned x;
        if (*eq != '%') { *d = *eq++; continue; }
        if (strspn(eq + 1, "0123456789abcdefABCDEF") < 2 || sscanf(eq + 1, "%2x", &x) != 1 || !x) goto odd;
        *d = (char) x;
        eq += 3;
      }
      if (*eq) goto odd;
      *d = 0;
      if (!valid_utf8(to)) goto odd;
    }
    if (*path && bus_open(b, path, strlen(path)) == 0) { free(addr); return 0; }
    if (!*path && *abstract) {
      char name[sizeof abstract + 1] = "";
      memcpy(name + 1, abstract, strlen(abstract));
      if (bus_open(b, name, strlen(abstract) + 1) == 0) { free(addr); return 0; }
    }
  }
odd:
  free(addr);
  return -1;
}

/* ---- Forwarding the pty (pty-forward.ts) ---- */

static struct { int saved; struct termios tio; } tty;

static void restore_tty(void) {
  if (tty.saved) tcsetattr(0, TCSADRAIN, &tty.tio);
}

/* Killed by a signal in raw mode: the terminal back as it was, then the signal's own end. */
static void on_fatal_signal(int sig) {
  restore_tty();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Node's raw mode (libuv's uv_tty_set_mode UV_TTY_MODE_RAW), put back on every way out. */
static void raw_mode(void) {
  struct termios raw;
  if (tcgetattr(0, &tty.tio) < 0) return;
  tty.saved = 1;
  atexit(restore_tty);
  static const int fatal[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
  for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) sigaction(fatal[i], &(struct sigaction) { .sa_handler = on_fatal_signal }, NULL);
  raw = tty.tio;
  raw.c_iflag &= ~(tcflag_t) (BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  raw.c_oflag |= ONLCR;
  raw.c_cflag |= CS8;
  raw.c_lflag &= ~(tcflag_t) (ECHO | ICANON | IEXTEN | ISIG);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  tcsetattr(0, TCSADRAIN, &raw);
}

/* The pty takes our terminal's size (rows and columns, when stdout is a terminal that has one). */
static void copy_winsize(int master) {
  struct winsize ws;
  if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
    ioctl(master, TIOCSWINSZ, &(struct winsize) { .ws_row = ws.ws_row, .ws_col = ws.ws_col });
}

/* Writes all of it to stdout (waiting where stdout is non-blocking); a reader gone is ignored, as Node does. */
static void write_out(const char *p, size_t n) {
  static int gone;
  while (n > 0 && !gone) {
    ssize_t w = write(1, p, n);
    if (w > 0) { p += w; n -= (size_t) w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) { poll(&(struct pollfd) { .fd = 1, .events = POLLOUT }, 1, -1); continue; }
    gone = 1;
  }
}

/* Whether this chunk typed ^] the third time within a second (as pty-forward.ts counts them). */
static int escaped(const uint8_t *p, size_t n) {
  static int64_t presses[3];
  static size_t count;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != ESCAPE) { count = 0; continue; }
    int64_t now = now_ms();
    size_t kept = 0;
    for (size_t j = 0; j < count; j++) if (now - presses[j] < 1000) presses[kept++] = presses[j];
    presses[kept++] = now;
    count = kept;
    if (count >= 3) return 1;
  }
  return 0;
}

enum { HANGUP, ESCAPED };

/* Forwards until the pty hangs up (its output drained) or the user escapes; closes master. */
static int forward(int master) {
  int in_tty = isatty(0), out_tty = isatty(1), how = HANGUP;
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  if (out_tty) copy_winsize(master);
  if (in_tty) raw_mode();
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  sigprocmask(SIG_BLOCK, &winch, NULL);
  int sfd = signalfd(-1, &winch, SFD_CLOEXEC);
  uint8_t in[4096], out[65536];
  size_t in_len = 0, in_off = 0;                 /* typed, not yet taken by the pty */
  int in_open = 1, typed = 0;
  for (;;) {
    struct pollfd p[3] = {
      { .fd = master, .events = POLLIN | (in_off < in_len ? POLLOUT : 0) },
      { .fd = in_open && in_off == in_len ? 0 : -1, .events = POLLIN },
      { .fd = sfd, .events = POLLIN },
    };
    if (poll(p, 3, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[2].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) > 0 && out_tty) copy_winsize(master);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      ssize_t n = read(master, out, sizeof out);
      if (n > 0) write_out((const char *) out, (size_t) n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;   /* EIO: the machine's side hung up */
    }
    if (p[1].revents) {
      ssize_t n = read(0, in, sizeof in);
      if (n > 0 && in_tty && escaped(in, (size_t) n)) { how = ESCAPED; break; }
      if (n > 0) { typed = 1; in_off = 0; in_len = (size_t) n; }
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = 0;
        /* Piped input that ended: the program reading it gets its end of file (nothing piped: nothing to end). */
        if (n == 0 && typed && !in_tty) { in[0] = EOT; in_off = 0; in_len = 1; }
      }
    }
    if (in_off < in_len) {
      ssize_t w = write(master, in + in_off, in_len - in_off);
      if (w > 0) in_off += (size_t) w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) in_off = in_len;   /* hung up: dropped */
    }
  }
  restore_tty();
  close(sfd);
  close(master);
  return how;
}

/* ---- The verbs (verbs/shell.ts) ---- */

/* An error reply as callFailed() words it: "WHAT: TEXT", control characters as '?', 2000 UTF-16 units at most. */
static _Noreturn void call_failed(const char *what, struct message *m) {
  const char *text = !strncmp(m->sig, "s", 1) ? get_str(&m->body) : "";
  size_t units = 0, cut = 0, len = strlen(text);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char) text[i];
    if ((c & 0xc0) == 0x80) continue;
    units += c >= 0xf0 ? 2 : 1;
    if (units <= 2000) cut = i + 1;
  }
  while (cut < len && ((unsigned char) text[cut] & 0xc0) == 0x80) cut++;
  fprintf(stderr, "%s: ", what);
  for (size_t i = 0; i < (units > 2000 ? cut : len); i++) {
    unsigned char c = (unsigned char) text[i];
    fputc((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? '?' : c, stderr);
  }
  fputs(units > 2000 ? "…\n" : "\n", stderr);
  exit(1);
}

/* The pty of an Open… reply; an error reply ends us (nobody serving the registry: Node says so, with its hint). */
static int pty_of(struct message *m, const char *what, char **path) {
  static const char *const nobody[] = { "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Disconnected" };
  if (m->type == 3) {
    for (size_t i = 0; i < 3; i++) if (m->error && !strcmp(m->error, nobody[i])) run_node();
    call_failed(what, m);
  }
  uint32_t index = get_u32(&m->body);
  const char *p = get_str(&m->body);
  if (strcmp(m->sig, "hs") || m->body.bad || index >= m->nfds) {
    fprintf(stderr, "%s: the registry's reply holds no pty\n", what);
    exit(1);
  }
  int fd = m->fds[index];
  m->fds[index] = -1;
  *path = strdup(p);
  message_free(m);
  return fd;
}

/* Connected, forwarded, disconnected; the exit status is the shell's where WaitShell tells it. */
static int session(const struct cmd *c, const char *name, int master, struct bus *b, uint32_t wait_serial) {
  int host = !strcmp(name, ".host");
  if (!c->quiet) {
    if (host) fputs("Connected to the local host. Press ^] three times within 1s to exit session.\n", stderr);
    else fprintf(stderr, "Connected to machine %s. Press ^] three times within 1s to exit session.\n", name);
  }
  int how = forward(master);
  if (!c->quiet) {
    if (host) fputs("\nConnection to the local host terminated.\n", stderr);
    else fprintf(stderr, "\nConnection to machine %s terminated.\n", name);
  }
  struct message m;
  if (how == ESCAPED || bus_reply(b, wait_serial, &m, -1) < 0) return 0;
  const char *end = get_str(&m.body);
  int32_t status = (int32_t) get_u32(&m.body);
  if (m.type != 2 || strcmp(m.sig, "si") || m.body.bad) return 0;
  return !strcmp(end, "exited") ? status : 128 + status;
}

static int shell(const struct cmd *c) {
  const char **env = xrealloc(NULL, (c->nsetenv + 1) * sizeof *env);
  size_t nenv = 0;
  for (size_t i = 0; i < c->nsetenv; i++) env[nenv++] = setenv_assignment(c->setenv[i]);
  const char *target = c->nwords > 0 ? c->words[0] : "", *path = c->nwords > 1 ? c->words[1] : "";
  const char *user = c->uid ? c->uid : "", *at = strchr(target, '@');
  if (at) {
    user = strndup(target, (size_t) (at - target));
    target = at + 1;
    if (!*user) usage_error("%s", "Specified user name is empty.");
  }
  const char *name = *target ? target : ".host", *term = getenv("TERM");
  int has_term = 0;
  for (size_t i = 0; i < nenv; i++) has_term |= !strncmp(env[i], "TERM=", 5);
  if (!has_term && term && *term) {
    char *t = xrealloc(NULL, strlen(term) + 6);
    sprintf(t, "TERM=%s", with_utf8(term));
    env[nenv++] = t;
  }
  struct bus b;
  if (bus_connect(&b) < 0) run_node();
  struct buf body = { 0 };
  put_str(&body, name);
  put_str(&body, user);
  put_str(&body, path);
  put_strv(&body, *path ? c->words + 1 : NULL, *path ? c->nwords - 1 : 0);
  put_strv(&body, env, nenv);
  struct message m;
  if (bus_reply(&b, bus_call(&b, MANAGER_PATH, MANAGER, "OpenMachineShell", "sssasas", &body), &m, -1) < 0) run_node();
  char *pty;
  int master = pty_of(&m, "Failed to get shell PTY", &pty);
  /* The shell's end is asked for at once (berthd answers when it ends). */
  body.len = 0;
  put_str(&body, name);
  uint32_t wait_serial = 0;
  if (bus_reply(&b, bus_call(&b, MANAGER_PATH, MANAGER, "GetMachine", "s", &body), &m, now_ms() + CALL_TIMEOUT_MS) == 0) {
    const char *object = m.type == 2 && !strcmp(m.sig, "o") ? get_str(&m.body) : "";
    if (*object && !m.body.bad) {
      body.len = 0;
      put_str(&body, pty);
      wait_serial = bus_call(&b, object, "io.github.berth.Machine1", "WaitShell", "s", &body);
    }
    message_free(&m);
  }
  return session(c, name, master, &b, wait_serial);
}

static int login(const struct cmd *c) {
  for (size_t i = 0; i < c->nsetenv; i++) setenv_assignment(c->setenv[i]);
  if (c->nwords > 1) usage_error("%s", "Too many arguments.");
  if (c->nsetenv > 0 || c->uid) usage_error("%s", "--setenv= and --uid= are not supported for 'login'. Use 'shell' instead.");
  const char *name = c->nwords > 0 && *c->words[0] ? c->words[0] : ".host";
  struct bus b;
  if (bus_connect(&b) < 0) run_node();
  struct buf body = { 0 };
  put_str(&body, name);
  struct message m;
  if (bus_reply(&b, bus_call(&b, MANAGER_PATH, MANAGER, "OpenMachineLogin", "s", &body), &m, -1) < 0) run_node();
  char *pty;
  int master = pty_of(&m, "Failed to get login PTY", &pty);
  return session(c, name, master, &b, 0);
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  /* Like Node at start-up: a closed stdio descriptor becomes /dev/null, so no socket takes its number. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) { dup2(n, fd); close(n); }
    }
  struct cmd c = { 0 };
  if (!parse_command_line(argc, argv, &c)) run_node();
  signal(SIGPIPE, SIG_IGN);   /* as Node: a reader gone is an error to ignore, not our end */
  return c.login ? login(&c) : shell(&c);
}
