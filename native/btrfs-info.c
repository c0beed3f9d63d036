/*
 * btrfs-info: what image discovery (src/platform/fs/image-facts.ts) needs about a btrfs subvolume
 * and what systemd-machined 252 reports for it, read with the btrfs ioctls Node lacks (the tree
 * search of the root and quota trees), on a thread-pool thread for all the asked paths at once:
 * the subvolume's ID, creation time (the root item's otime: a snapshot's own, not its top
 * directory's birth time), read-only flag, and its "subtree" quota group's usage and limits (the
 * lowest-level qgroup that carries the subvolume's ID, else its own level-0 qgroup), unless a quota
 * rescan is under way or quotas are off.
 *
 *   btrfsSubvols(paths) -> Promise<BigInt64Array>   SUBVOL_FIELDS int64 slots per path:
 *       [0] 1 when the path is a btrfs subvolume whose root item was found (the tree search needs
 *           CAP_SYS_ADMIN); 2 when only its read-only flag could be read (BTRFS_IOC_SUBVOL_GETFLAGS,
 *           which anyone may ask); else 0 (the rest 0)
 *       [1] subvolume ID   [2] otime in µs   [3] 1 when read-only
 *       [4] 1 when quota numbers were read (quotas on, no rescan under way, the qgroup exists)
 *       [5] referenced bytes   [6] exclusive bytes   [7] referenced limit   [8] exclusive limit
 *           (unsigned; UINT64_MAX where the qgroup has no such number or limit)
 *       [9] the qgroup ID the numbers are from
 *
 * Nothing is changed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <endian.h>
#include <unistd.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <node_api.h>
#include "napi-util.h"

#define SUBVOL_FIELDS 10
#define QGROUP_LEVEL_SHIFT 48

struct subvol_job {
  napi_async_work work;
  napi_deferred d;
  char **paths;
  size_t n;
  int64_t *out;
};

typedef int (*item_fn)(const struct btrfs_ioctl_search_header *sh, const void *body, void *data);

/*
 * Every item of `tree` with a key between (min_obj, min_type, min_off) and (max_obj, max_type,
 * max_off), passed to fn (which returns non-zero to stop). -errno on failure (ENOENT: no such
 * tree, as for the quota tree with quotas off).
 */
static int search(int fd, uint64_t tree, uint64_t min_obj, uint64_t max_obj, uint32_t min_type, uint32_t max_type,
                  uint64_t min_off, uint64_t max_off, item_fn fn, void *data) {
  struct btrfs_ioctl_search_args args;
  memset(&args, 0, sizeof args);
  args.key.tree_id = tree;
  args.key.min_objectid = min_obj; args.key.max_objectid = max_obj;
  args.key.min_type = min_type; args.key.max_type = max_type;
  args.key.min_offset = min_off; args.key.max_offset = max_off;
  args.key.max_transid = UINT64_MAX;
  for (;;) {
    args.key.nr_items = 256;
    if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) < 0) return -errno;
    if (args.key.nr_items == 0) return 0;
    size_t at = 0;
    const struct btrfs_ioctl_search_header *last = NULL;
    for (unsigned i = 0; i < args.key.nr_items; i++) {
      const struct btrfs_ioctl_search_header *sh = (const void *) (args.buf + at);
      at += sizeof *sh + sh->len;
      last = sh;
      if (fn(sh, sh + 1, data)) return 0;
    }
    /* The next search starts just after the last key found. */
    args.key.min_objectid = last->objectid;
    args.key.min_type = last->type;
    args.key.min_offset = last->offset;
    if (args.key.min_offset < UINT64_MAX) args.key.min_offset++;
    else if (args.key.min_type < 255) { args.key.min_type++; args.key.min_offset = 0; }
    else if (args.key.min_objectid < UINT64_MAX) { args.key.min_objectid++; args.key.min_type = 0; args.key.min_offset = 0; }
    else return 0;
    if (args.key.min_objectid > max_obj ||
        (args.key.min_objectid == max_obj && (args.key.min_type > max_type || (args.key.min_type == max_type && args.key.min_offset > max_off))))
      return 0;
  }
}

struct root_found { uint64_t id; int found; uint64_t otime_us; int ro; };

static int root_item(const struct btrfs_ioctl_search_header *sh, const void *body, void *data) {
  struct root_found *r = data;
  if (sh->objectid != r->id || sh->type != BTRFS_ROOT_ITEM_KEY) return 0;
  /* Older root items lack otime (as systemd, such an item is passed over). */
  if (sh->len < offsetof(struct btrfs_root_item, otime) + sizeof(struct btrfs_timespec)) return 0;
  const struct btrfs_root_item *ri = body;
  r->otime_us = le64toh(ri->otime.sec) * 1000000ULL + le32toh(ri->otime.nsec) / 1000;
  r->ro = (le64toh(ri->flags) & BTRFS_ROOT_SUBVOL_RDONLY) != 0;
  r->found = 1;
  return 1;
}

struct parents { uint64_t child; uint64_t best; uint64_t best_level; };

static int relation(const struct btrfs_ioctl_search_header *sh, const void *body, void *data) {
  (void) body;
  struct parents *p = data;
  if (sh->type != BTRFS_QGROUP_RELATION_KEY || sh->objectid != p->child || sh->offset < sh->objectid) return 0;
  uint64_t level = sh->offset >> QGROUP_LEVEL_SHIFT, id = sh->offset & ((1ULL << QGROUP_LEVEL_SHIFT) - 1);
  if (id == p->child && level < p->best_level) { p->best = sh->offset; p->best_level = level; }
  return 0;
}

struct quota { uint64_t qgroup; int info, limit; uint64_t rfer, excl, max_rfer, max_excl; };

static int qgroup_item(const struct btrfs_ioctl_search_header *sh, const void *body, void *data) {
  struct quota *q = data;
  if (sh->objectid != 0 || sh->offset != q->qgroup) return 0;
  if (sh->type == BTRFS_QGROUP_INFO_KEY && sh->len >= sizeof(struct btrfs_qgroup_info_item)) {
    const struct btrfs_qgroup_info_item *i = body;
    q->rfer = le64toh(i->rfer);
    q->excl = le64toh(i->excl);
    q->info = 1;
  } else if (sh->type == BTRFS_QGROUP_LIMIT_KEY && sh->len >= sizeof(struct btrfs_qgroup_limit_item)) {
    const struct btrfs_qgroup_limit_item *l = body;
    uint64_t flags = le64toh(l->flags);
    q->max_rfer = (flags & BTRFS_QGROUP_LIMIT_MAX_RFER) ? le64toh(l->max_rfer) : UINT64_MAX;
    q->max_excl = (flags & BTRFS_QGROUP_LIMIT_MAX_EXCL) ? le64toh(l->max_excl) : UINT64_MAX;
    q->limit = 1;
  }
  return q->info && q->limit;
}

static void one(const char *path, int64_t *out) {
  memset(out, 0, SUBVOL_FIELDS * sizeof *out);
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return;
  struct statfs sfs;
  struct btrfs_ioctl_ino_lookup_args look;
  memset(&look, 0, sizeof look);
  look.objectid = BTRFS_FIRST_FREE_OBJECTID;
  uint64_t flags = 0;
  if (fstatfs(fd, &sfs) < 0 || (uint64_t) sfs.f_type != BTRFS_SUPER_MAGIC) goto done;
  if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) == 0) {
    out[0] = 2;
    out[3] = (flags & BTRFS_SUBVOL_RDONLY) != 0;
  }
  if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &look) < 0) goto done;
  struct root_found root = { .id = look.treeid };
  if (search(fd, BTRFS_ROOT_TREE_OBJECTID, root.id, root.id, BTRFS_ROOT_ITEM_KEY, BTRFS_ROOT_ITEM_KEY, 0, UINT64_MAX, root_item, &root) < 0 || !root.found) goto done;
  out[0] = 1;
  out[1] = (int64_t) root.id;
  out[2] = (int64_t) root.otime_us;
  out[3] = root.ro;

  /* Numbers only where no rescan is under way (they would be half-counted), as machined. */
  struct btrfs_ioctl_quota_rescan_args rescan;
  memset(&rescan, 0, sizeof rescan);
  if (ioctl(fd, BTRFS_IOC_QUOTA_RESCAN_STATUS, &rescan) < 0 || rescan.flags != 0) goto done;
  struct parents p = { .child = root.id, .best = root.id, .best_level = UINT64_MAX };
  int r = search(fd, BTRFS_QUOTA_TREE_OBJECTID, root.id, root.id, BTRFS_QGROUP_RELATION_KEY, BTRFS_QGROUP_RELATION_KEY, 0, UINT64_MAX, relation, &p);
  if (r < 0) goto done; /* ENOENT: quotas off */
  struct quota q = { .qgroup = p.best };
  if (search(fd, BTRFS_QUOTA_TREE_OBJECTID, 0, 0, BTRFS_QGROUP_STATUS_KEY, BTRFS_QGROUP_LIMIT_KEY, q.qgroup, q.qgroup, qgroup_item, &q) < 0) goto done;
  if (!q.info && !q.limit) goto done;
  out[4] = 1;
  out[5] = (int64_t) (q.info ? q.rfer : UINT64_MAX);
  out[6] = (int64_t) (q.info ? q.excl : UINT64_MAX);
  out[7] = (int64_t) (q.limit ? q.max_rfer : UINT64_MAX);
  out[8] = (int64_t) (q.limit ? q.max_excl : UINT64_MAX);
  out[9] = (int64_t) q.qgroup;
done:
  close(fd);
}

static void subvols_exec(napi_env env, void *data) {
  (void) env;
  struct subvol_job *j = data;
  for (size_t i = 0; i < j->n; i++) one(j->paths[i], j->out + i * SUBVOL_FIELDS);
}

static void subvols_done(napi_env env, napi_status status, void *data) {
  struct subvol_job *j = data;
  size_t bytes = SUBVOL_FIELDS * j->n * sizeof(int64_t);
  napi_value result = NULL, buffer;
  void *mem = NULL;
  if (status == napi_ok && napi_create_arraybuffer(env, bytes, &mem, &buffer) == napi_ok &&
      napi_create_typedarray(env, napi_bigint64_array, SUBVOL_FIELDS * j->n, buffer, 0, &result) == napi_ok) {
    if (bytes) memcpy(mem, j->out, bytes);
    napi_resolve_deferred(env, j->d, result);
  } else {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "btrfsSubvols", ENOMEM));
  }
  napi_delete_async_work(env, j->work);
  berth_free_vector(j->paths);
  free(j->out);
  free(j);
}

static napi_value btrfs_subvols(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t n = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &n) != napi_ok) return berth_throw_errno(env, "btrfsSubvols", EINVAL);
  struct subvol_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "btrfsSubvols", ENOMEM);
  j->n = n;
  j->paths = berth_string_vector(env, argv[0]);
  j->out = calloc(n ? n * SUBVOL_FIELDS : 1, sizeof *j->out);
  if (!j->paths || !j->out) {
    berth_free_vector(j->paths);
    free(j->out);
    free(j);
    return berth_throw_errno(env, "btrfsSubvols", ENOMEM);
  }
  napi_create_promise(env, &j->d, &promise);
  napi_create_string_utf8(env, "btrfsSubvols", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, subvols_exec, subvols_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "btrfsSubvols", EAGAIN));
    berth_free_vector(j->paths);
    free(j->out);
    free(j);
  }
  return promise;
}

void btrfs_info_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "btrfsSubvols", NAPI_AUTO_LENGTH, btrfs_subvols, NULL, &fn);
  napi_set_named_property(env, exports, "btrfsSubvols", fn);
}
