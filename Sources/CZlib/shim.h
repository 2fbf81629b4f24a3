// zlib for the gzip files of repozo repositories (.fsz, .deltafsz).
// deflateInit2/inflateInit2 are macros over the *_ functions; these inline
// wrappers give Swift something it can call.
#include <zlib.h>

/// A gzip stream (windowBits 15 + 16), as Python's gzip module writes.
static inline int cz_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// Reads gzip (and, with + 32, zlib) streams, concatenated members included.
static inline int cz_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
