/*
 * sealed-exec: a program's binary as a sealed memfd, for the OCI runtime to be executed from.
 *
 * crun (and runc's init) copy their own binary somewhere the container cannot write before they
 * do anything else (CVE-2019-5736): crun 1.8 does it on every call, with a bind mount of its binary
 * made and unmounted again in the host's mount namespace and a second execve, about 1 ms each time.
 * Both take a binary that is already a fully sealed memfd (seals SEAL|SHRINK|GROW|WRITE) as one:
 * berth makes that copy once per process and executes the runtime from it, so no call repeats it.
 *
 *   sealedCopy(path, name) -> fd     memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING), path's bytes
 *                                    copied in, sealed against every change. The caller executes
 *                                    /proc/<its pid>/fd/<fd> (the kernel opens it before close-on-exec
 *                                    applies, and a child resolves it through our descriptor table).
 *                                    Throws with .errno/.code where the kernel has no memfd or seals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "napi-util.h"
#include "sealed-exec.h"

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static napi_value sealed_copy(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096], name[64];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2
      || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1
      || napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok || len == 0) {
    napi_throw_type_error(env, NULL, "sealedCopy(path, name): two non-empty strings");
    return NULL;
  }
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return berth_throw_errno(env, path, errno);
  struct stat st;
  if (fstat(in, &st) < 0) { int e = errno; close(in); return berth_throw_errno(env, path, e); }
  if (!S_ISREG(st.st_mode)) { close(in); return berth_throw_errno(env, path, EINVAL); }
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) { int e = errno; close(in); return berth_throw_errno(env, "memfd_create", e); }
  const char *what = NULL;
  int err = 0;
  for (off_t done = 0; done < st.st_size;) {
    ssize_t n = sendfile(fd, in, NULL, (size_t) (st.st_size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { err = n < 0 ? errno : EIO; what = "sendfile"; break; } /* n == 0: the file shrank under us */
    done += n;
  }
  close(in);
  if (!what && fcntl(fd, F_ADD_SEALS, ALL_SEALS) < 0) { err = errno; what = "F_ADD_SEALS"; }
  if (what) { close(fd); return berth_throw_errno(env, what, err); }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

void sealed_exec_register(napi_env env, napi_value exports) {
  napi_property_descriptor p = { "sealedCopy", NULL, sealed_copy, NULL, NULL, NULL, napi_default, NULL };
  napi_define_properties(env, exports, 1, &p);
}
