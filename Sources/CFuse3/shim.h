// The libfuse3 low-level API as Swift sees it. Debian bookworm ships 3.14;
// FUSE_USE_VERSION 312 is the newest API level 3.14 offers. Function-like
// macros cannot be imported into Swift, so each one used gets a static
// inline cfuse_* wrapper here.
#ifndef ZODBFS_CFUSE3_SHIM_H
#define ZODBFS_CFUSE3_SHIM_H

#define FUSE_USE_VERSION 312
// off_t must be 64 bits for libfuse. It is on 64-bit Linux without help;
// defining _FILE_OFFSET_BITS there too would give struct stat, statvfs and
// flock different definitions here than in Swift's Glibc module, which the
// compiler rejects.
#if !defined(__LP64__)
#define _FILE_OFFSET_BITS 64
#endif
#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

/// FUSE_ARGS_INIT(argc, argv) as a function.
static inline struct fuse_args cfuse_args_init(int argc, char **argv) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    return args;
}

/// A one-segment buffer vector that reads `size` bytes at `pos` from `fd`
/// (FUSE_BUFVEC_INIT plus the fd flags); libfuse splices it when it can.
static inline struct fuse_bufvec cfuse_bufvec_fd(int fd, size_t size, off_t pos) {
    struct fuse_bufvec v = FUSE_BUFVEC_INIT(size);
    v.buf[0].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    v.buf[0].fd = fd;
    v.buf[0].pos = pos;
    return v;
}

/// Size of a fuse_bufvec holding `count` segments (the struct ends in a
/// one-element array, the C idiom for a variable-length tail).
static inline size_t cfuse_bufvec_size(size_t count) {
    return sizeof(struct fuse_bufvec) + (count > 0 ? count - 1 : 0) * sizeof(struct fuse_buf);
}

/// Fills segment `index` of a bufvec allocated with cfuse_bufvec_size.
static inline void cfuse_bufvec_set_fd(struct fuse_bufvec *v, size_t index, int fd, size_t size, off_t pos) {
    v->buf[index].size = size;
    v->buf[index].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    v->buf[index].mem = NULL;
    v->buf[index].fd = fd;
    v->buf[index].pos = pos;
}

static inline void cfuse_bufvec_init(struct fuse_bufvec *v, size_t count) {
    v->count = count;
    v->idx = 0;
    v->off = 0;
}

/// fuse_session_new as a function. In libfuse 3.17 and later it becomes a
/// macro over fuse_session_new_versioned, which Swift cannot call.
static inline struct fuse_session *cfuse_session_new(struct fuse_args *args,
                                                     const struct fuse_lowlevel_ops *op,
                                                     size_t op_size, void *userdata) {
    return fuse_session_new(args, op, op_size, userdata);
}

/// fuse_session_loop_mt as a function: depending on how libfuse was built it
/// is a macro over fuse_session_loop_mt_312.
static inline int cfuse_session_loop_mt(struct fuse_session *se, struct fuse_loop_config *config) {
    return fuse_session_loop_mt(se, config);
}

/// major(dev) and minor(dev) from <sys/sysmacros.h> as functions.
static inline unsigned int cfuse_dev_major(dev_t dev) { return major(dev); }
static inline unsigned int cfuse_dev_minor(dev_t dev) { return minor(dev); }

/// A signal handler as sigaction(2) takes it without SA_SIGINFO.
typedef void (*cfuse_signal_handler_t)(int);

/// The plain handler installed for `sig`, or NULL when there is none to
/// chain to (SIG_DFL, SIG_IGN, an SA_SIGINFO handler, or an error).
static inline cfuse_signal_handler_t cfuse_signal_current_handler(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == -1)
        return NULL;
    if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
        return NULL;
    return sa.sa_handler;
}

/// Installs `handler` for `sig` with an empty mask and no flags, as
/// fuse_set_signal_handlers() does. Returns 0, or -1 with errno set.
static inline int cfuse_signal_set_handler(int sig, cfuse_signal_handler_t handler) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return sigaction(sig, &sa, NULL);
}

#endif
