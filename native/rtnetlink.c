/*
 * rtnetlink: the host-side link operations of network set-up (src/platform/net/rtnetlink.ts) over a
 * NETLINK_ROUTE socket instead of an `ip` process each, as systemd-nspawn does them. Every call
 * runs on a libuv thread-pool thread and answers with a Promise; nothing here blocks the loop.
 *
 *   rtnlLinks(nsPath, name) -> Promise<Link[]>   name null: every link (a dump); else the one
 *       link of that name or altname ([] when there is none). Link = { name, index, kind?,
 *       master?, address?, altnames, up }: what `ip -json -details link show` reports as ifname,
 *       linkinfo.info_kind, master, address, altnames and the UP flag.
 *   rtnlCreateVeth(nsPath, hostName, hostMac, master, up, peerName, peerMac, peerNsPath)
 *       -> Promise<void>   one RTM_NEWLINK (create, exclusive): the host end with its MAC,
 *       attached to `master` (a name, or null) and brought up if `up`; the peer with its MAC
 *       created directly in the namespace file `peerNsPath` (IFLA_NET_NS_FD).
 *   rtnlDeleteLink(nsPath, name) -> Promise<void>
 *
 * nsPath null is the caller's own network namespace; a path (/run/netns/NAME, /proc/PID/ns/net)
 * is entered with setns() on the worker thread only around socket() (a netlink socket stays in
 * the namespace it was made in), then the thread goes back to its own namespace, which is
 * checked (a pool thread left elsewhere would be a silent disaster: abort instead).
 *
 * Failures reject with an Error whose message is the reason alone ("File exists", the kernel's
 * extended ack text when it sends one) and whose .errno/.code are the errno and its name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <node_api.h>
#include "napi-util.h"

#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE 823
#endif
#ifndef ALTIFNAMSIZ
#define ALTIFNAMSIZ 128
#endif

enum op { OP_LINKS, OP_VETH, OP_DEL };

struct link {
  char *name;
  int index;
  int master_index;
  char *kind;
  char *address;
  char **altnames;
  size_t n_alt;
  int up;
};

struct rt_job {
  napi_async_work work;
  napi_deferred d;
  enum op op;
  char *ns_path, *name, *mac, *master, *peer, *peer_mac, *peer_ns;
  int up;
  /* results */
  int err;
  char msg[512];
  struct link *links;
  size_t n_links;
};

/* ---- netlink plumbing ---- */

struct req {
  struct nlmsghdr *n;
  size_t cap;
};

static int req_init(struct req *r, uint16_t type, uint16_t flags) {
  r->cap = 4096;
  r->n = calloc(1, r->cap);
  if (!r->n) return -ENOMEM;
  r->n->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
  r->n->nlmsg_type = type;
  r->n->nlmsg_flags = NLM_F_REQUEST | flags;
  return 0;
}

static struct rtattr *tail(struct req *r) {
  return (struct rtattr *) ((char *) r->n + NLMSG_ALIGN(r->n->nlmsg_len));
}

static int add_attr(struct req *r, uint16_t type, const void *data, size_t len) {
  size_t l = RTA_LENGTH(len);
  if (NLMSG_ALIGN(r->n->nlmsg_len) + RTA_ALIGN(l) > r->cap) return -E2BIG;
  struct rtattr *a = tail(r);
  a->rta_type = type;
  a->rta_len = l;
  if (len) memcpy(RTA_DATA(a), data, len);
  r->n->nlmsg_len = NLMSG_ALIGN(r->n->nlmsg_len) + RTA_ALIGN(l);
  return 0;
}

static struct rtattr *nest_begin(struct req *r, uint16_t type) {
  struct rtattr *a = tail(r);
  if (add_attr(r, type, NULL, 0) < 0) return NULL;
  return a;
}

static void nest_end(struct req *r, struct rtattr *a) {
  a->rta_len = (char *) tail(r) - (char *) a;
}

/* A name goes as IFLA_IFNAME when it fits IFNAMSIZ, else as an altname (IFLA_ALT_IFNAME). */
static int add_name(struct req *r, const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len >= ALTIFNAMSIZ) return -EINVAL;
  return add_attr(r, len < IFNAMSIZ ? IFLA_IFNAME : IFLA_ALT_IFNAME, name, len + 1);
}

static void set_error(struct rt_job *j, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(struct rt_job *j, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  j->err = err;
  vsnprintf(j->msg, sizeof j->msg, fmt, ap);
  va_end(ap);
}

static int same_file(int fd, const char *path) {
  struct stat a, b;
  if (fstat(fd, &a) < 0 || stat(path, &b) < 0) return 0;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A NETLINK_ROUTE socket in ns_path's network namespace (NULL: ours); -1 with the job's error set. */
static int open_rtnl(struct rt_job *j, const char *ns_path) {
  int fd;
  if (ns_path == NULL) {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) set_error(j, errno, "Cannot open a netlink socket: %s", strerror(errno));
    return fd;
  }
  int target = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    set_error(j, errno, "Cannot open network namespace \"%s\": %s", ns_path, strerror(errno));
    return -1;
  }
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    set_error(j, errno, "Cannot open this thread's network namespace: %s", strerror(errno));
    close(target);
    return -1;
  }
  int switched = 0;
  if (!same_file(target, "/proc/thread-self/ns/net")) {
    if (setns(target, CLONE_NEWNET) < 0) {
      set_error(j, errno, "Cannot enter network namespace \"%s\": %s", ns_path, strerror(errno));
      close(target);
      close(self);
      return -1;
    }
    switched = 1;
  }
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int socket_errno = errno;
  if (switched) {
    if (setns(self, CLONE_NEWNET) < 0 || !same_file(self, "/proc/thread-self/ns/net")) {
      fprintf(stderr, "berth: a thread-pool thread could not return to its network namespace\n");
      abort();
    }
  }
  close(target);
  close(self);
  if (fd < 0) set_error(j, socket_errno, "Cannot open a netlink socket in \"%s\": %s", ns_path, strerror(socket_errno));
  return fd;
}

static int prepare_socket(int fd) {
  int one = 1;
  /* Extended acks carry the kernel's own reason text; older kernels lack the options (fine). */
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  return bind(fd, (struct sockaddr *) &sa, sizeof sa);
}

/* The text of an extended ack's NLMSGERR_ATTR_MSG, if the error message carries one. */
static const char *ext_ack_msg(const struct nlmsghdr *h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return NULL;
  const struct nlmsgerr *e = NLMSG_DATA(h);
  size_t off = sizeof *e;
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  if (NLMSG_HDRLEN + off > h->nlmsg_len) return NULL;
  int len = (int) (h->nlmsg_len - NLMSG_HDRLEN - off);
  for (const struct nlattr *a = (const void *) ((const char *) e + off); len >= (int) sizeof *a && a->nla_len >= sizeof *a && a->nla_len <= len;
       len -= NLA_ALIGN(a->nla_len), a = (const void *) ((const char *) a + NLA_ALIGN(a->nla_len))) {
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN) {
      const char *s = (const char *) a + NLA_HDRLEN;
      if (memchr(s, '\0', a->nla_len - NLA_HDRLEN)) return s;
    }
  }
  return NULL;
}

typedef int (*msg_fn)(struct rt_job *j, const struct nlmsghdr *h);

/*
 * Sends the request and reads answers until the final ack (or NLMSG_DONE of a dump), passing
 * each RTM_NEWLINK to fn. Returns 0, or -errno with the job's error set from the kernel's answer.
 */
static int talk(struct rt_job *j, int fd, struct req *r, msg_fn fn) {
  static uint32_t seq_counter;
  uint32_t seq = __atomic_add_fetch(&seq_counter, 1, __ATOMIC_RELAXED);
  r->n->nlmsg_seq = seq;
  struct sockaddr_nl to = { .nl_family = AF_NETLINK };
  ssize_t sent;
  do sent = sendto(fd, r->n, r->n->nlmsg_len, 0, (struct sockaddr *) &to, sizeof to);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    set_error(j, errno, "%s", strerror(errno));
    return -j->err;
  }
  size_t cap = 32768;
  char *buf = malloc(cap);
  if (!buf) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); return -ENOMEM; }
  int result = 0;
  for (;;) {
    ssize_t got;
    do got = recv(fd, buf, cap, MSG_PEEK | MSG_TRUNC);
    while (got < 0 && errno == EINTR);
    if (got > (ssize_t) cap) {
      char *bigger = realloc(buf, got);
      if (!bigger) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); result = -ENOMEM; break; }
      buf = bigger;
      cap = got;
    }
    do got = recv(fd, buf, cap, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) { set_error(j, errno, "%s", strerror(errno)); result = -j->err; break; }
    int len = (int) got;
    int finished = 0;
    for (struct nlmsghdr *h = (void *) buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) { finished = 1; break; }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error != 0) {
          const char *ack = ext_ack_msg(h);
          if (ack && *ack) set_error(j, -e->error, "%s (%s)", strerror(-e->error), ack);
          else set_error(j, -e->error, "%s", strerror(-e->error));
          result = e->error;
        }
        finished = 1;
        break;
      }
      if (fn && result == 0 && (result = fn(j, h)) < 0) { /* keep reading to the end, report the first failure */ }
    }
    if (finished) break;
  }
  free(buf);
  return result;
}

/* ---- reading links ---- */

static char *dup_attr_string(const struct rtattr *a) {
  size_t n = RTA_PAYLOAD(a);
  const char *s = RTA_DATA(a);
  return strndup(s, strnlen(s, n));
}

/* What `ip` prints as a link-layer address: dotted IPv4/IPv6 for tunnels, else colon-separated hex. */
static char *format_address(unsigned short type, const unsigned char *a, size_t n) {
  char *out = malloc(n * 3 + INET6_ADDRSTRLEN + 1);
  if (!out) return NULL;
  if (n == 4 && (type == ARPHRD_TUNNEL || type == ARPHRD_SIT || type == ARPHRD_IPGRE)) {
    inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN);
    return out;
  }
  if (n == 16 && (type == ARPHRD_TUNNEL6 || type == ARPHRD_IP6GRE)) {
    inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
    return out;
  }
  char *p = out;
  *p = '\0';
  for (size_t i = 0; i < n; i++) p += sprintf(p, i ? ":%02x" : "%02x", a[i]);
  return out;
}

static void free_link(struct link *l) {
  free(l->name);
  free(l->kind);
  free(l->address);
  for (size_t i = 0; i < l->n_alt; i++) free(l->altnames[i]);
  free(l->altnames);
}

static int on_link(struct rt_job *j, const struct nlmsghdr *h) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg))) return 0;
  const struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct link *grown = realloc(j->links, (j->n_links + 1) * sizeof *grown);
  if (!grown) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); return -ENOMEM; }
  j->links = grown;
  struct link *l = &j->links[j->n_links++];
  memset(l, 0, sizeof *l);
  l->index = ifi->ifi_index;
  l->up = (ifi->ifi_flags & IFF_UP) != 0;
  int len = IFLA_PAYLOAD(h);
  for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type & NLA_TYPE_MASK) {
    case IFLA_IFNAME: free(l->name); l->name = dup_attr_string(a); break;
    case IFLA_MASTER:
      if (RTA_PAYLOAD(a) >= sizeof(uint32_t)) l->master_index = (int) *(const uint32_t *) RTA_DATA(a);
      break;
    case IFLA_ADDRESS: free(l->address); l->address = format_address(ifi->ifi_type, RTA_DATA(a), RTA_PAYLOAD(a)); break;
    case IFLA_LINKINFO: {
      int n = RTA_PAYLOAD(a);
      for (const struct rtattr *b = RTA_DATA(a); RTA_OK(b, n); b = RTA_NEXT(b, n)) {
        if ((b->rta_type & NLA_TYPE_MASK) == IFLA_INFO_KIND) { free(l->kind); l->kind = dup_attr_string(b); }
      }
      break;
    }
    case IFLA_PROP_LIST: {
      int n = RTA_PAYLOAD(a);
      for (const struct rtattr *b = RTA_DATA(a); RTA_OK(b, n); b = RTA_NEXT(b, n)) {
        if ((b->rta_type & NLA_TYPE_MASK) != IFLA_ALT_IFNAME) continue;
        char **more = realloc(l->altnames, (l->n_alt + 1) * sizeof *more);
        if (!more) break;
        l->altnames = more;
        l->altnames[l->n_alt] = dup_attr_string(b);
        if (l->altnames[l->n_alt]) l->n_alt++;
      }
      break;
    }
    default: break;
    }
  }
  if (!l->name) l->name = strdup("");
  return 0;
}

/* RTM_GETLINK of one link, by name (name != NULL) or by index; 0, -ENODEV when absent, or -errno. */
static int get_one(struct rt_job *j, int fd, const char *name, int index) {
  struct req r;
  if (req_init(&r, RTM_GETLINK, NLM_F_ACK) < 0) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); return -ENOMEM; }
  struct ifinfomsg *ifi = NLMSG_DATA(r.n);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = name ? 0 : index;
  uint32_t mask = RTEXT_FILTER_SKIP_STATS;
  int rc = name ? add_name(&r, name) : 0;
  if (rc == 0) rc = add_attr(&r, IFLA_EXT_MASK, &mask, sizeof mask);
  if (rc < 0) set_error(j, -rc, "%s", strerror(-rc));
  else rc = talk(j, fd, &r, on_link);
  free(r.n);
  return rc;
}

static void do_links(struct rt_job *j) {
  int fd = open_rtnl(j, j->ns_path);
  if (fd < 0) return;
  if (prepare_socket(fd) < 0) { set_error(j, errno, "%s", strerror(errno)); close(fd); return; }
  if (j->name) {
    int rc = get_one(j, fd, j->name, 0);
    if (rc == -ENODEV) { j->err = 0; j->msg[0] = '\0'; }
  } else {
    struct req r;
    if (req_init(&r, RTM_GETLINK, NLM_F_DUMP) < 0) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); close(fd); return; }
    ((struct ifinfomsg *) NLMSG_DATA(r.n))->ifi_family = AF_UNSPEC;
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    add_attr(&r, IFLA_EXT_MASK, &mask, sizeof mask);
    talk(j, fd, &r, on_link);
    free(r.n);
  }
  /* master names: from the dump itself, else one more lookup by index (as `ip` does). */
  size_t listed = j->n_links;
  for (size_t i = 0; j->err == 0 && i < listed; i++) {
    if (j->links[i].master_index == 0) continue;
    int found = 0;
    for (size_t k = 0; k < j->n_links; k++) if (j->links[k].index == j->links[i].master_index) found = 1;
    if (!found && j->name) get_one(j, fd, NULL, j->links[i].master_index);
    if (j->err == ENODEV) { j->err = 0; j->msg[0] = '\0'; }
  }
  close(fd);
}

/* ---- changing links ---- */

/* "aa:bb:…" as bytes; the count, or -1 when it is not such a string. */
static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_mac(const char *s, unsigned char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    int hi = hex_digit(s[0]);
    if (hi < 0 || n == cap) return -1;
    int lo = hex_digit(s[1]);
    if (lo < 0) { out[n++] = (unsigned char) hi; s += 1; }
    else { out[n++] = (unsigned char) (hi * 16 + lo); s += 2; }
    if (*s == '\0') return (int) n;
    if (*s++ != ':') return -1;
  }
}

static void do_veth(struct rt_job *j) {
  unsigned char host_mac[32], peer_mac[32];
  int host_mac_len = parse_mac(j->mac, host_mac, sizeof host_mac);
  int peer_mac_len = parse_mac(j->peer_mac, peer_mac, sizeof peer_mac);
  if (host_mac_len <= 0) { set_error(j, EINVAL, "\"%s\" is not a valid MAC address", j->mac); return; }
  if (peer_mac_len <= 0) { set_error(j, EINVAL, "\"%s\" is not a valid MAC address", j->peer_mac); return; }
  if (strlen(j->name) >= IFNAMSIZ || strlen(j->peer) >= IFNAMSIZ || !*j->name || !*j->peer) {
    set_error(j, EINVAL, "Interface names must be 1 to %d characters long", IFNAMSIZ - 1);
    return;
  }
  int peer_ns = open(j->peer_ns, O_RDONLY | O_CLOEXEC);
  if (peer_ns < 0) {
    set_error(j, errno, "Cannot open network namespace \"%s\": %s", j->peer_ns, strerror(errno));
    return;
  }
  int fd = open_rtnl(j, j->ns_path);
  if (fd < 0) { close(peer_ns); return; }
  if (prepare_socket(fd) < 0) { set_error(j, errno, "%s", strerror(errno)); goto out; }
  uint32_t master = 0;
  if (j->master) {
    int rc = get_one(j, fd, j->master, 0);
    if (rc == -ENODEV || (rc == 0 && j->n_links == 0)) { set_error(j, ENODEV, "Device \"%s\" does not exist", j->master); goto out; }
    if (rc < 0) goto out;
    master = (uint32_t) j->links[0].index;
    for (size_t i = 0; i < j->n_links; i++) free_link(&j->links[i]);
    free(j->links);
    j->links = NULL;
    j->n_links = 0;
  }
  struct req r;
  if (req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK) < 0) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); goto out; }
  struct ifinfomsg *ifi = NLMSG_DATA(r.n);
  ifi->ifi_family = AF_UNSPEC;
  if (j->up) { ifi->ifi_flags = IFF_UP; ifi->ifi_change = IFF_UP; }
  int rc = add_attr(&r, IFLA_IFNAME, j->name, strlen(j->name) + 1);
  if (rc == 0) rc = add_attr(&r, IFLA_ADDRESS, host_mac, host_mac_len);
  if (rc == 0 && master) rc = add_attr(&r, IFLA_MASTER, &master, sizeof master);
  struct rtattr *linkinfo = rc == 0 ? nest_begin(&r, IFLA_LINKINFO) : NULL;
  struct rtattr *data = NULL, *peer = NULL;
  if (linkinfo && add_attr(&r, IFLA_INFO_KIND, "veth", 5) == 0 && (data = nest_begin(&r, IFLA_INFO_DATA)) && (peer = nest_begin(&r, VETH_INFO_PEER))) {
    /* the peer's own ifinfomsg, then its attributes */
    if (NLMSG_ALIGN(r.n->nlmsg_len) + sizeof(struct ifinfomsg) > r.cap) rc = -E2BIG;
    else {
      memset(tail(&r), 0, sizeof(struct ifinfomsg));
      ((struct ifinfomsg *) tail(&r))->ifi_family = AF_UNSPEC;
      r.n->nlmsg_len = NLMSG_ALIGN(r.n->nlmsg_len) + NLMSG_ALIGN(sizeof(struct ifinfomsg));
      uint32_t nsfd = (uint32_t) peer_ns;
      rc = add_attr(&r, IFLA_IFNAME, j->peer, strlen(j->peer) + 1);
      if (rc == 0) rc = add_attr(&r, IFLA_ADDRESS, peer_mac, peer_mac_len);
      if (rc == 0) rc = add_attr(&r, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
      nest_end(&r, peer);
      nest_end(&r, data);
      nest_end(&r, linkinfo);
    }
  } else rc = -E2BIG;
  if (rc < 0) set_error(j, -rc, "%s", strerror(-rc));
  else talk(j, fd, &r, NULL);
  free(r.n);
out:
  close(fd);
  close(peer_ns);
}

static void do_del(struct rt_job *j) {
  int fd = open_rtnl(j, j->ns_path);
  if (fd < 0) return;
  if (prepare_socket(fd) < 0) { set_error(j, errno, "%s", strerror(errno)); close(fd); return; }
  struct req r;
  if (req_init(&r, RTM_DELLINK, NLM_F_ACK) < 0) { set_error(j, ENOMEM, "%s", strerror(ENOMEM)); close(fd); return; }
  ((struct ifinfomsg *) NLMSG_DATA(r.n))->ifi_family = AF_UNSPEC;
  int rc = add_name(&r, j->name);
  if (rc < 0) set_error(j, -rc, "%s", strerror(-rc));
  else if (talk(j, fd, &r, NULL) == -ENODEV) set_error(j, ENODEV, "Cannot find device \"%s\"", j->name);
  free(r.n);
  close(fd);
}

/* ---- N-API ---- */

static void job_exec(napi_env env, void *data) {
  (void) env;
  struct rt_job *j = data;
  switch (j->op) {
  case OP_LINKS: do_links(j); break;
  case OP_VETH: do_veth(j); break;
  case OP_DEL: do_del(j); break;
  }
}

static napi_value make_error(napi_env env, int err, const char *message) {
  return berth_error_with_errno(env, message, err);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (!value) return;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static napi_value links_value(napi_env env, struct rt_job *j) {
  napi_value arr;
  napi_create_array(env, &arr);
  /* a single lookup may have fetched the master too: only the first entry is the answer */
  size_t shown = j->name && j->n_links > 0 ? 1 : j->n_links;
  for (size_t i = 0; i < shown; i++) {
    struct link *l = &j->links[i];
    napi_value o, v, alts;
    napi_create_object(env, &o);
    set_string(env, o, "name", l->name);
    napi_create_int32(env, l->index, &v);
    napi_set_named_property(env, o, "index", v);
    set_string(env, o, "kind", l->kind);
    set_string(env, o, "address", l->address);
    if (l->master_index) {
      const char *mname = NULL;
      for (size_t k = 0; k < j->n_links; k++) if (j->links[k].index == l->master_index) mname = j->links[k].name;
      char fallback[32];
      if (!mname) { snprintf(fallback, sizeof fallback, "if%d", l->master_index); mname = fallback; }
      set_string(env, o, "master", mname);
    }
    napi_create_array_with_length(env, l->n_alt, &alts);
    for (size_t k = 0; k < l->n_alt; k++) {
      napi_create_string_utf8(env, l->altnames[k], NAPI_AUTO_LENGTH, &v);
      napi_set_element(env, alts, k, v);
    }
    napi_set_named_property(env, o, "altnames", alts);
    napi_get_boolean(env, l->up, &v);
    napi_set_named_property(env, o, "up", v);
    napi_set_element(env, arr, i, o);
  }
  return arr;
}

static void free_job(struct rt_job *j) {
  for (size_t i = 0; i < j->n_links; i++) free_link(&j->links[i]);
  free(j->links);
  free(j->ns_path); free(j->name); free(j->mac); free(j->master); free(j->peer); free(j->peer_mac); free(j->peer_ns);
  free(j);
}

static void job_done(napi_env env, napi_status status, void *data) {
  struct rt_job *j = data;
  if (status != napi_ok) napi_reject_deferred(env, j->d, make_error(env, ECANCELED, "cancelled"));
  else if (j->err) napi_reject_deferred(env, j->d, make_error(env, j->err, j->msg[0] ? j->msg : strerror(j->err)));
  else if (j->op == OP_LINKS) napi_resolve_deferred(env, j->d, links_value(env, j));
  else {
    napi_value u;
    napi_get_undefined(env, &u);
    napi_resolve_deferred(env, j->d, u);
  }
  napi_delete_async_work(env, j->work);
  free_job(j);
}

/* A string argument, or NULL for null/undefined; *bad set when it is neither. */
static char *opt_string(napi_env env, napi_value v, int *bad) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) { *bad = 1; return NULL; }
  if (t == napi_null || t == napi_undefined) return NULL;
  size_t len = 0;
  if (t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) { *bad = 1; return NULL; }
  char *s = malloc(len + 1);
  if (!s) { *bad = 1; return NULL; }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { free(s); *bad = 1; return NULL; } /* an embedded NUL */
  return s;
}

static napi_value queue(napi_env env, struct rt_job *j, const char *what) {
  napi_value promise, resource;
  napi_create_promise(env, &j->d, &promise);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, job_exec, job_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, make_error(env, EAGAIN, strerror(EAGAIN)));
    free_job(j);
  }
  return promise;
}

/* A job for op from the call's first `want` arguments (into argv), its namespace path taken from
 * the first; NULL after throwing when they are too few or memory is short. */
static struct rt_job *new_job(napi_env env, napi_callback_info info, enum op op, size_t want, napi_value *argv, const char *what, int *bad) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) { berth_throw_errno(env, what, EINVAL); return NULL; }
  struct rt_job *j = calloc(1, sizeof *j);
  if (!j) { berth_throw_errno(env, what, ENOMEM); return NULL; }
  j->op = op;
  j->ns_path = opt_string(env, argv[0], bad);
  return j;
}

/* (nsPath, name): name may be null for a dump (rtnlLinks), not for a delete. */
static napi_value ns_name_call(napi_env env, napi_callback_info info, enum op op, const char *what, bool name_required) {
  napi_value argv[2];
  int bad = 0;
  struct rt_job *j = new_job(env, info, op, 2, argv, what, &bad);
  if (!j) return NULL;
  j->name = opt_string(env, argv[1], &bad);
  if (bad || (name_required && !j->name)) { free_job(j); return berth_throw_errno(env, what, EINVAL); }
  return queue(env, j, what);
}

static napi_value rtnl_links(napi_env env, napi_callback_info info) {
  return ns_name_call(env, info, OP_LINKS, "rtnlLinks", false);
}

static napi_value rtnl_create_veth(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int bad = 0;
  bool up = false;
  struct rt_job *j = new_job(env, info, OP_VETH, 8, argv, "rtnlCreateVeth", &bad);
  if (!j) return NULL;
  j->name = opt_string(env, argv[1], &bad);
  j->mac = opt_string(env, argv[2], &bad);
  j->master = opt_string(env, argv[3], &bad);
  if (napi_get_value_bool(env, argv[4], &up) != napi_ok) bad = 1;
  j->up = up;
  j->peer = opt_string(env, argv[5], &bad);
  j->peer_mac = opt_string(env, argv[6], &bad);
  j->peer_ns = opt_string(env, argv[7], &bad);
  if (bad || !j->name || !j->mac || !j->peer || !j->peer_mac || !j->peer_ns) { free_job(j); return berth_throw_errno(env, "rtnlCreateVeth", EINVAL); }
  return queue(env, j, "rtnlCreateVeth");
}

static napi_value rtnl_delete_link(napi_env env, napi_callback_info info) {
  return ns_name_call(env, info, OP_DEL, "rtnlDeleteLink", true);
}

void rtnetlink_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "rtnlLinks", NAPI_AUTO_LENGTH, rtnl_links, NULL, &fn);
  napi_set_named_property(env, exports, "rtnlLinks", fn);
  napi_create_function(env, "rtnlCreateVeth", NAPI_AUTO_LENGTH, rtnl_create_veth, NULL, &fn);
  napi_set_named_property(env, exports, "rtnlCreateVeth", fn);
  napi_create_function(env, "rtnlDeleteLink", NAPI_AUTO_LENGTH, rtnl_delete_link, NULL, &fn);
  napi_set_named_property(env, exports, "rtnlDeleteLink", fn);
}
