// libfuse3 low-level API. FUSE_USE_VERSION must come before the include; at 312 the
// multi-threaded loop is a real function (fuse_session_loop_mt_312) Swift can call.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <errno.h>
#include <sys/xattr.h>
