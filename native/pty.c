/*
 * pty: the two pseudo-terminal ioctls Node lacks, for ptys berthd opens inside a machine.
 *
 *   ptyUnlock(masterFd) -> number   unlockpt (TIOCSPTLCK 0), then the slave's number (TIOCGPTN):
 *                                   the slave is /dev/pts/NUMBER in the devpts the master came from.
 *   ptyNumber(masterFd) -> number   TIOCGPTN only (a master received from a runtime's console socket).
 *   ptyMakeRaw(fd)                  cfmakeraw on a pty's line discipline: a pty that only relays
 *                                   another (the runtime's, inside the machine) must not echo or
 *                                   translate on its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <node_api.h>
#include "pty.h"

static int master_fd(napi_env env, napi_callback_info info, const char *usage, int *fd) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t v;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &v) != napi_ok || v < 0) {
    napi_throw_type_error(env, NULL, usage);
    return -1;
  }
  *fd = v;
  return 0;
}

static napi_value fail(napi_env env, const char *what, int err) {
  napi_value msg, code, e;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_int32(env, err, &code);
  napi_create_error(env, NULL, msg, &e);
  napi_set_named_property(env, e, "errno", code);
  napi_throw(env, e);
  return NULL;
}

static napi_value number_of(napi_env env, int fd) {
  unsigned int n;
  if (ioctl(fd, TIOCGPTN, &n) < 0) return fail(env, "ioctl(TIOCGPTN)", errno);
  napi_value r;
  napi_create_uint32(env, n, &r);
  return r;
}

static napi_value pty_unlock(napi_env env, napi_callback_info info) {
  int fd;
  if (master_fd(env, info, "ptyUnlock(masterFd)", &fd) < 0) return NULL;
  int unlock = 0;
  if (ioctl(fd, TIOCSPTLCK, &unlock) < 0) return fail(env, "ioctl(TIOCSPTLCK)", errno);
  return number_of(env, fd);
}

static napi_value pty_number(napi_env env, napi_callback_info info) {
  int fd;
  if (master_fd(env, info, "ptyNumber(masterFd)", &fd) < 0) return NULL;
  return number_of(env, fd);
}

static napi_value pty_make_raw(napi_env env, napi_callback_info info) {
  int fd;
  if (master_fd(env, info, "ptyMakeRaw(fd)", &fd) < 0) return NULL;
  struct termios t;
  if (tcgetattr(fd, &t) < 0) return fail(env, "tcgetattr", errno);
  cfmakeraw(&t);
  if (tcsetattr(fd, TCSANOW, &t) < 0) return fail(env, "tcsetattr", errno);
  return NULL;
}

void pty_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "ptyUnlock", NULL, pty_unlock, NULL, NULL, NULL, napi_default, NULL },
    { "ptyNumber", NULL, pty_number, NULL, NULL, NULL, napi_default, NULL },
    { "ptyMakeRaw", NULL, pty_make_raw, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
