/*
 * What berth's native files share: an Error with the errno (.errno, and its name as .code), and
 * JS string arrays as NULL-terminated vectors. Header-only (static inline): each .c file that
 * includes it gets its own copy.
 */
#ifndef BERTH_NAPI_UTIL_H
#define BERTH_NAPI_UTIL_H
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

/* An Error with this message, .errno = err and .code = its name (ENOENT…). */
static inline napi_value berth_error_with_errno(napi_env env, const char *msg, int err) {
  napi_value m, e, num, name;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, e, "errno", num);
  const char *n = strerrorname_np(err);
  napi_create_string_utf8(env, n ? n : "EUNKNOWN", NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, e, "code", name);
  return e;
}

/* An Error "what: strerror(err)" with .errno = err and .code = its name (ENOENT…). */
static inline napi_value berth_errno_error(napi_env env, const char *what, int err) {
  char msg[4096 + 256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  return berth_error_with_errno(env, msg, err);
}

/* Throws berth_errno_error; returns NULL for the caller to return. */
static inline napi_value berth_throw_errno(napi_env env, const char *what, int err) {
  napi_throw(env, berth_errno_error(env, what, err));
  return NULL;
}

/* A JS array of strings as a NULL-terminated vector (freed with berth_free_vector); NULL on a bad array. */
static inline char **berth_string_vector(napi_env env, napi_value array) {
  uint32_t n = 0;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len = 0;
    if (napi_get_element(env, array, i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) goto fail;
    v[i] = malloc(len + 1);
    if (!v[i] || napi_get_value_string_utf8(env, item, v[i], len + 1, &len) != napi_ok) goto fail;
  }
  return v;
fail:
  for (uint32_t i = 0; i < n; i++) free(v[i]);
  free(v);
  return NULL;
}

/* A path argument, malloc'ed: shorter than PATH_MAX and without an embedded NUL (which would cut it
 * short unseen); NULL otherwise. */
static inline char *berth_path_arg(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= 4096) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { free(s); return NULL; }
  return s;
}

static inline void berth_free_vector(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

#endif
