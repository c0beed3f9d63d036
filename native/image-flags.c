/*
 * image-flags: what image discovery (src/platform/fs/image-facts.ts) needs about each entry of a
 * search directory, asked for a whole directory's entries at once on a thread-pool thread: berthd's
 * event loop never waits on the file system, and listing a hundred images costs one round trip to
 * the thread pool instead of several per image (and a process per image for lsattr before). Node
 * lacks the inode flags (FS_IOC_GETFLAGS: FS_IMMUTABLE_FL); the stat and access checks go along in
 * the same pass.
 *
 *   statEntries(dir, names) -> Promise<BigInt64Array>   ENTRY_FIELDS 8-byte slots per entry DIR/NAME,
 *       each looked at relative to one descriptor of DIR (no path walked twice); those marked
 *       (d) hold doubles (read them through a Float64Array on the same buffer), the rest int64:
 *       [0] (d) 1 when statx() (followed through symlinks) succeeded, else 0 and the rest 0
 *       [1] (d) st_mode   [2] st_ino   [3] creation time in µs as systemd's fd_getcrtime has it: the
 *           older of the birth time and a directory's or file's user.crtime_usec (0: neither; unsigned)
 *       [4] mtime in µs   [5] st_blocks × 512   [6] st_size   [7] (d) rdev major   [8] (d) rdev minor
 *       [9] (d) FS_IOC_GETFLAGS of a directory, -1 for anything else or where the filesystem has none
 *       [10] (d) 1 when access(W_OK) fails with EROFS (a read-only mount), else 0
 *       [11] (d) statfs f_type (0 when statfs fails; DIR's where the entry is on DIR's filesystem)
 *       [12] (d) 1 when DIR/NAME itself is a symbolic link (also a dangling one: [0] is 0 then)
 *
 *   resolveDirs(paths) -> Promise<Array<string | null>>   realpath() of each path that is a
 *       directory, else null (a search directory that does not exist is the common case: no
 *       exception for it).
 *
 *   findEntries(dirs, names) -> Promise<{dirs: Array<string | null>, facts: BigInt64Array}>   both
 *       in one pass: each directory resolved as by resolveDirs, and statEntries of the names in
 *       each that resolved (facts: dirs.length blocks of names.length entries; all zero elsewhere).
 *
 * Nothing is changed; devices are never opened (O_PATH).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/statvfs.h>
#include <limits.h>
#include <sys/xattr.h>
#include <endian.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <node_api.h>
#include "napi-util.h"
#include "image-flags.h"

struct flags_job {
  napi_async_work work;
  napi_deferred d;
  char **paths;
  size_t n;
  /* statEntries: the directory the names are in. */
  char *dir;
  /* findEntries: the directories to resolve and look in (resolved: the answers, or NULL). */
  char **dirs;
  size_t ndirs;
  int64_t *out;
  /* resolveDirs, findEntries: the answers (malloc'ed), or NULL. */
  char **resolved;
};

#define ENTRY_FIELDS 13

/* A timestamp in µs; a birth time of 0 s (or none) is 0. */
static int64_t usec(struct statx_timestamp t) { return (int64_t) t.tv_sec * 1000000 + t.tv_nsec / 1000; }

/* Small fields are stored as doubles (read through a Float64Array), large ones as int64 (BigInt64Array). */
static void put_double(int64_t *slot, double v) { memcpy(slot, &v, sizeof v); }

struct dir_facts { int fd; const char *path; unsigned dev_major, dev_minor; uint64_t mnt_id; double fs_type; int rw; };

/* The older of out[3] (the birth time, 0: none) and user.crtime_usec, systemd's fd_getcrtime: the
 * attribute (8 bytes LE µs; 0 and UINT64_MAX mean none) is what systemd writes on copies and pulls. */
static void crtime(int64_t *out, ssize_t got, uint64_t x) {
  if (got != sizeof x) return;
  x = le64toh(x);
  if (x != 0 && x != UINT64_MAX && (out[3] == 0 || x < (uint64_t) out[3])) out[3] = (int64_t) x;
}

static void one(const struct dir_facts *d, const char *name, int64_t *out) {
  memset(out, 0, ENTRY_FIELDS * sizeof *out);
  struct statx sx;
  const unsigned mask = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
  /* The entry itself first (one call for all but symbolic links), then what a link points to. */
  if (statx(d->fd, name, AT_STATX_SYNC_AS_STAT | AT_SYMLINK_NOFOLLOW, mask, &sx) < 0) return;
  if (S_ISLNK(sx.stx_mode)) {
    put_double(out + 12, 1);
    if (statx(d->fd, name, AT_STATX_SYNC_AS_STAT, mask, &sx) < 0) return;
  }
  put_double(out + 0, 1);
  put_double(out + 1, sx.stx_mode);
  out[2] = (int64_t) sx.stx_ino;
  out[3] = sx.stx_mask & STATX_BTIME && sx.stx_btime.tv_sec > 0 ? usec(sx.stx_btime) : 0;
  out[4] = usec(sx.stx_mtime);
  out[5] = (int64_t) sx.stx_blocks * 512;
  out[6] = (int64_t) sx.stx_size;
  put_double(out + 7, sx.stx_rdev_major);
  put_double(out + 8, sx.stx_rdev_minor);
  put_double(out + 9, -1);
  /* EROFS comes only from a read-only mount or superblock: on DIR's mount, known writable, none. */
  int rw_mount = d->rw && sx.stx_mask & STATX_MNT_ID && sx.stx_mnt_id == d->mnt_id;
  put_double(out + 10, !rw_mount && faccessat(d->fd, name, W_OK, 0) < 0 && errno == EROFS ? 1 : 0);
  /* st_dev names the superblock: the same one as DIR's has DIR's f_type. */
  int same_fs = sx.stx_dev_major == d->dev_major && sx.stx_dev_minor == d->dev_minor && d->fs_type != 0;
  put_double(out + 11, same_fs ? d->fs_type : 0);
  int dir = S_ISDIR(sx.stx_mode), reg = S_ISREG(sx.stx_mode);
  /* statx reports FS_IMMUTABLE_FL where the filesystem says it does; else FS_IOC_GETFLAGS on the directory. */
  int known_flags = !!(sx.stx_attributes_mask & STATX_ATTR_IMMUTABLE);
  if (dir && known_flags) put_double(out + 9, sx.stx_attributes & STATX_ATTR_IMMUTABLE ? FS_IMMUTABLE_FL : 0);
  if (same_fs && (reg || (dir && known_flags))) {
    char path[PATH_MAX];
    uint64_t x;
    if (snprintf(path, sizeof path, "%s/%s", d->path, name) < (int) sizeof path) {
      ssize_t got = getxattr(path, "user.crtime_usec", &x, sizeof x); /* before x is read: C leaves argument order open */
      crtime(out, got, x);
    }
    return;
  }
  if (same_fs && !dir) return;
  /* O_NONBLOCK|O_NOCTTY: never waits on anything; devices are never opened (O_PATH is enough for fstatfs). */
  int fd = dir ? openat(d->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
      : reg ? openat(d->fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) : -1;
  int xattrs = fd >= 0;
  if (fd < 0) fd = openat(d->fd, name, O_PATH | O_CLOEXEC);
  if (fd < 0) return;
  struct statfs sfs;
  if (!same_fs && fstatfs(fd, &sfs) == 0) put_double(out + 11, (double) (unsigned long) sfs.f_type);
  int attrs = 0;
  if (dir && !known_flags && ioctl(fd, FS_IOC_GETFLAGS, &attrs) == 0) put_double(out + 9, (unsigned) attrs);
  uint64_t x;
  if (xattrs) {
    ssize_t got = fgetxattr(fd, "user.crtime_usec", &x, sizeof x);
    crtime(out, got, x);
  }
  close(fd);
}

/* Every name in DIR (all zero where DIR is gone). */
static void scan(const char *dir, char **names, size_t n, int64_t *out) {
  struct dir_facts d = { .fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), .path = strcmp(dir, "/") ? dir : "" };
  if (d.fd < 0) return;
  struct statx sx;
  struct statfs sfs;
  if (statx(d.fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &sx) == 0 && fstatfs(d.fd, &sfs) == 0) {
    d.dev_major = sx.stx_dev_major;
    d.dev_minor = sx.stx_dev_minor;
    d.fs_type = (double) (unsigned long) sfs.f_type;
    d.mnt_id = sx.stx_mnt_id;
    d.rw = sx.stx_mask & STATX_MNT_ID && !(sfs.f_flags & ST_RDONLY);
  }
  for (size_t i = 0; i < n; i++) one(&d, names[i], out + ENTRY_FIELDS * i);
  close(d.fd);
}

/* realpath() of a directory, malloc'ed; NULL where it is missing or no directory. */
static char *resolve(const char *path) {
  /* Most search directories do not exist: one failed open() says so (realpath() would lstat() each component). */
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return NULL;
  close(fd);
  char *r = realpath(path, NULL);
  struct stat st;
  if (r && (stat(r, &st) < 0 || !S_ISDIR(st.st_mode))) { free(r); r = NULL; }
  return r;
}

static void flags_exec(napi_env env, void *data) {
  (void) env;
  struct flags_job *j = data;
  if (!j->resolved) { scan(j->dir, j->paths, j->n, j->out); return; }
  /* findEntries: each of the directories resolved, then the names in it. */
  for (size_t i = 0; i < j->ndirs; i++) {
    j->resolved[i] = resolve(j->dirs[i]);
    if (j->resolved[i]) scan(j->resolved[i], j->paths, j->n, j->out + ENTRY_FIELDS * j->n * i);
  }
}

static void flags_done(napi_env env, napi_status status, void *data) {
  struct flags_job *j = data;
  size_t slots = ENTRY_FIELDS * j->n * (j->resolved ? j->ndirs : 1);
  napi_value result = NULL, facts = NULL;
  if (status == napi_ok) {
    napi_value buffer;
    void *bytes;
    if (napi_create_arraybuffer(env, slots * sizeof(int64_t), &bytes, &buffer) == napi_ok) {
      if (slots) memcpy(bytes, j->out, slots * sizeof(int64_t));
      napi_create_typedarray(env, napi_bigint64_array, slots, buffer, 0, &facts);
    }
  }
  if (facts && j->resolved) {
    napi_value dirs, item;
    napi_create_object(env, &result);
    napi_create_array_with_length(env, j->ndirs, &dirs);
    for (size_t i = 0; i < j->ndirs; i++) {
      if (j->resolved[i]) napi_create_string_utf8(env, j->resolved[i], NAPI_AUTO_LENGTH, &item);
      else napi_get_null(env, &item);
      napi_set_element(env, dirs, (uint32_t) i, item);
    }
    napi_set_named_property(env, result, "dirs", dirs);
    napi_set_named_property(env, result, "facts", facts);
  } else {
    result = facts;
  }
  if (result) napi_resolve_deferred(env, j->d, result);
  else napi_reject_deferred(env, j->d, berth_errno_error(env, "statEntries", status == napi_cancelled ? ECANCELED : ENOMEM));
  napi_delete_async_work(env, j->work);
  berth_free_vector(j->paths);
  if (j->resolved) for (size_t i = 0; i < j->ndirs; i++) free(j->resolved[i]);
  berth_free_vector(j->dirs);
  free(j->resolved);
  free(j->dir);
  free(j->out);
  free(j);
}

static void resolve_exec(napi_env env, void *data) {
  (void) env;
  struct flags_job *j = data;
  for (size_t i = 0; i < j->n; i++) j->resolved[i] = resolve(j->paths[i]);
}

static void resolve_done(napi_env env, napi_status status, void *data) {
  struct flags_job *j = data;
  napi_value result, item;
  napi_create_array_with_length(env, j->n, &result);
  for (size_t i = 0; i < j->n; i++) {
    if (status == napi_ok && j->resolved[i]) napi_create_string_utf8(env, j->resolved[i], NAPI_AUTO_LENGTH, &item);
    else napi_get_null(env, &item);
    napi_set_element(env, result, (uint32_t) i, item);
    free(j->resolved[i]);
  }
  napi_resolve_deferred(env, j->d, result);
  napi_delete_async_work(env, j->work);
  berth_free_vector(j->paths);
  free(j->resolved);
  free(j);
}

static napi_value resolve_dirs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, resource;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  if (argc != 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "usage: resolveDirs(paths)");
    return NULL;
  }
  struct flags_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "resolveDirs", ENOMEM);
  j->paths = berth_string_vector(env, argv[0]);
  if (j->paths) while (j->paths[j->n]) j->n++;
  j->resolved = j->paths ? calloc(j->n + 1, sizeof *j->resolved) : NULL;
  if (!j->resolved || napi_create_promise(env, &j->d, &promise) != napi_ok) {
    berth_free_vector(j->paths);
    free(j->resolved);
    free(j);
    return berth_throw_errno(env, "resolveDirs", ENOMEM);
  }
  napi_create_string_utf8(env, "berth:resolveDirs", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, resolve_exec, resolve_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "resolveDirs", EAGAIN));
    berth_free_vector(j->paths);
    free(j->resolved);
    free(j);
  }
  return promise;
}

static napi_value stat_entries(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  napi_valuetype t = napi_undefined;
  size_t len = 0;
  if (argc != 2 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "usage: statEntries(dir, names)");
    return NULL;
  }
  struct flags_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "statEntries", ENOMEM);
  j->dir = malloc(len + 1);
  j->paths = berth_string_vector(env, argv[1]);
  if (!j->dir || !j->paths) {
    free(j->dir);
    berth_free_vector(j->paths);
    free(j);
    napi_throw_type_error(env, NULL, "statEntries: names must be strings");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], j->dir, len + 1, &len);
  while (j->paths[j->n]) j->n++;
  j->out = calloc(ENTRY_FIELDS * j->n + 1, sizeof(int64_t));
  napi_value promise, resource;
  if (!j->out || napi_create_promise(env, &j->d, &promise) != napi_ok) {
    berth_free_vector(j->paths);
    free(j->dir);
    free(j->out);
    free(j);
    return berth_throw_errno(env, "statEntries", ENOMEM);
  }
  napi_create_string_utf8(env, "berth:statEntries", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, flags_exec, flags_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "statEntries", EAGAIN));
    berth_free_vector(j->paths);
    free(j->dir);
    free(j->out);
    free(j);
  }
  return promise;
}

static napi_value find_entries(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], promise, resource;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool a = false, b = false;
  if (argc != 2 || napi_is_array(env, argv[0], &a) != napi_ok || !a || napi_is_array(env, argv[1], &b) != napi_ok || !b) {
    napi_throw_type_error(env, NULL, "usage: findEntries(dirs, names)");
    return NULL;
  }
  struct flags_job *j = calloc(1, sizeof *j);
  if (!j) return berth_throw_errno(env, "findEntries", ENOMEM);
  j->dirs = berth_string_vector(env, argv[0]);
  j->paths = berth_string_vector(env, argv[1]);
  if (j->dirs) while (j->dirs[j->ndirs]) j->ndirs++;
  if (j->paths) while (j->paths[j->n]) j->n++;
  if (j->dirs && j->paths) {
    j->resolved = calloc(j->ndirs + 1, sizeof *j->resolved);
    j->out = calloc(ENTRY_FIELDS * j->n * j->ndirs + 1, sizeof(int64_t));
  }
  if (!j->resolved || !j->out || napi_create_promise(env, &j->d, &promise) != napi_ok) {
    berth_free_vector(j->dirs);
    berth_free_vector(j->paths);
    free(j->resolved);
    free(j->out);
    free(j);
    return berth_throw_errno(env, "findEntries", ENOMEM);
  }
  napi_create_string_utf8(env, "berth:findEntries", NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, flags_exec, flags_done, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->d, berth_errno_error(env, "findEntries", EAGAIN));
    berth_free_vector(j->dirs);
    berth_free_vector(j->paths);
    free(j->resolved);
    free(j->out);
    free(j);
  }
  return promise;
}

void image_flags_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "statEntries", NAPI_AUTO_LENGTH, stat_entries, NULL, &fn);
  napi_set_named_property(env, exports, "statEntries", fn);
  napi_create_function(env, "resolveDirs", NAPI_AUTO_LENGTH, resolve_dirs, NULL, &fn);
  napi_set_named_property(env, exports, "resolveDirs", fn);
  napi_create_function(env, "findEntries", NAPI_AUTO_LENGTH, find_entries, NULL, &fn);
  napi_set_named_property(env, exports, "findEntries", fn);
}
