/* npy.c -- reads float32 C-order .npy files (format 1.0, 2.0) and writes them byte for byte
   as numpy.save does (numpy.lib.format); npy_header.c parses the header dict. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* '<f4' data is read and written as host floats with no byte swap. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "runtime/npy.c assumes a little-endian host"
#endif

enum {
    MAGIC_LEN = 6,
    ARRAY_ALIGN = 64,            /* numpy's: the data starts at a multiple of it */
    GROWTH_AXIS_MAX_DIGITS = 21, /* numpy's spare room for the leading dim to grow */
    MAX_HEADER_LEN = 10000       /* numpy's default max_header_size */
};

static const unsigned char npy_magic[MAGIC_LEN] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int io_error(const char *path, const char *what, act_error *err)
{
    return act_error_set(err, path, ACT_ERR_IO, "%s: %s", what, strerror(errno));
}

/* ---- reading ------------------------------------------------------------ */

/* Magic, version and header length: a u16 in version 1.0, a u32 in 2.0. */
static int read_prelude(FILE *f, const char *path, size_t *header_len, act_error *err)
{
    unsigned char b[12];
    char q[RT_NPY_QUOTE_TEXT];
    size_t got = fread(b, 1, MAGIC_LEN + 2, f);
    if (ferror(f))
        return io_error(path, "cannot read", err);
    if (got < MAGIC_LEN || memcmp(b, npy_magic, MAGIC_LEN) != 0)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "not a .npy file: expected it to start with '\\x93NUMPY', found %s",
                             got ? rt_npy_quote(q, b, got < MAGIC_LEN ? got : MAGIC_LEN)
                                 : "an empty file");
    if (got < MAGIC_LEN + 2)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "truncated header: expected a version, found the end of the file");
    if ((b[6] != 1 && b[6] != 2) || b[7] != 0)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "unsupported .npy version: expected 1.0 or 2.0, found %u.%u%s", b[6],
                             b[7], b[6] == 3 && b[7] == 0 ? " (UTF-8 headers are not read)" : "");
    size_t width = b[6] == 1 ? 2 : 4;
    got = fread(b + 8, 1, width, f);
    if (ferror(f))
        return io_error(path, "cannot read", err);
    if (got < width)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "truncated header: expected its length, found the end of the file");
    uint32_t len = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (width == 4)
        len |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (len > MAX_HEADER_LEN)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "expected a header of at most %d bytes, found %" PRIu32 " bytes",
                             MAX_HEADER_LEN, len);
    *header_len = len;
    return 0;
}

static int size_error(const char *path, uint64_t want, uint64_t have, act_error *err)
{
    return act_error_set(
        err, path, ACT_ERR_NPY, "%s: expected %" PRIu64 " bytes of data, found %" PRIu64,
        have < want ? "truncated data" : "trailing bytes after the data", want, have);
}

/* Exactly count floats, then the end of the file. A regular file's size is
   checked first, so that a header claiming a huge shape fails as truncated
   instead of allocating for it; the reads check again for pipes. */
static int read_data(FILE *f, const char *path, int64_t count, float **out, act_error *err)
{
    size_t want = (size_t)count * sizeof(float);
    struct stat st;
    long offset;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (offset = ftell(f)) >= 0) {
        int64_t have = st.st_size > offset ? (int64_t)st.st_size - offset : 0;
        if ((uint64_t)have != want)
            return size_error(path, want, (uint64_t)have, err);
    }
    float *buf = rt_floats(count, true);
    if (!buf)
        return act_error_set(err, path, ACT_ERR_NOMEM, "out of memory for %zu bytes of data", want);
    size_t got = fread(buf, 1, want, f);
    uint64_t extra = 0;
    char rest[4096];
    for (size_t n; (n = fread(rest, 1, sizeof rest, f)) > 0;)
        extra += n;
    int rc = ferror(f)              ? io_error(path, "cannot read", err)
             : got != want || extra ? size_error(path, want, got + extra, err)
                                    : 0;
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

int rt_npy_read(const char *path, float **data, int64_t shape[IR_MAX_RANK], int *rank,
                act_error *err)
{
    char *text = NULL;
    float *buf = NULL;
    size_t header_len = 0;
    int rc;
    FILE *f = fopen(path, "rb");
    if (!f)
        return io_error(path, "cannot open", err);
    if ((rc = read_prelude(f, path, &header_len, err)))
        goto fail;
    if (!(text = malloc(header_len + 1))) { /* + 1: a buffer even for an empty header */
        rc = act_error_set(err, path, ACT_ERR_NOMEM, "out of memory reading the header");
        goto fail;
    }
    size_t got = fread(text, 1, header_len, f);
    if (ferror(f)) {
        rc = io_error(path, "cannot read", err);
        goto fail;
    }
    if (got < header_len) {
        rc = act_error_set(err, path, ACT_ERR_NPY,
                           "truncated header: expected %zu bytes, found %zu", header_len, got);
        goto fail;
    }
    int64_t dims[IR_MAX_RANK];
    int ndim;
    if ((rc = rt_npy_parse_header(text, header_len, path, dims, &ndim, err)))
        goto fail;
    if ((rc = read_data(f, path, rt_npy_shape_count(dims, ndim), &buf, err)))
        goto fail;
    fclose(f);
    free(text);
    *data = buf;
    memcpy(shape, dims, sizeof dims);
    *rank = ndim;
    return 0;
fail:
    free(text);
    fclose(f);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

/* numpy's header for version 1.0: the dict with sorted keys, spare spaces for
   the leading dim to grow, then spaces and '\n' up to a multiple of
   ARRAY_ALIGN (never zero spaces: numpy pads a full 64 then). */
static size_t format_header(char buf[256], const int64_t *shape, int rank)
{
    char tuple[RT_NPY_SHAPE_TEXT];
    rt_npy_format_shape(tuple, shape, rank);
    int n =
        snprintf(buf + 10, 246, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", tuple);
    int growth = rank > 0 ? GROWTH_AXIS_MAX_DIGITS - snprintf(NULL, 0, "%" PRId64, shape[0]) : 0;
    int len = n + growth + 1;
    len += ARRAY_ALIGN - (10 + len) % ARRAY_ALIGN;
    memcpy(buf, npy_magic, MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(len & 0xff);
    buf[9] = (char)(len >> 8);
    memset(buf + 10 + n, ' ', (size_t)(len - n - 1));
    buf[10 + len - 1] = '\n';
    return (size_t)(10 + len);
}

/* A new file "<path>.<pid>.<n>.tmp" beside path. O_EXCL makes the name ours
   alone (another thread or process moves on to the next n); mode 0666 lets
   the umask decide, as for a file fopen creates (mkstemp would force 0600). */
static int create_temp(const char *path, char **tmp_path, FILE **out, act_error *err)
{
    size_t size = strlen(path) + 48;
    char *tmp = malloc(size);
    if (!tmp)
        return act_error_set(err, path, ACT_ERR_NOMEM, "out of memory");
    int fd = -1;
    for (int n = 0; n < 100 && fd < 0; n++) {
        snprintf(tmp, size, "%s.%ld.%d.tmp", path, (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int rc = io_error(path, "cannot create a temporary file beside it", err);
        if (fd >= 0) {
            close(fd);
            remove(tmp);
        }
        free(tmp);
        return rc;
    }
    *tmp_path = tmp;
    *out = f;
    return 0;
}

int rt_npy_write(const char *path, const float *data, const int64_t *shape, int rank,
                 act_error *err)
{
    if (rank < 0 || rank > IR_MAX_RANK)
        return act_error_set(err, path, ACT_ERR_NPY, "expected rank 0 to %d, found %d", IR_MAX_RANK,
                             rank);
    for (int i = 0; i < rank; i++)
        if (shape[i] < 0)
            return act_error_set(err, path, ACT_ERR_NPY,
                                 "expected a non-negative dimension, found %" PRId64, shape[i]);
    int64_t count = rt_npy_shape_count(shape, rank);
    if (count < 0)
        return act_error_set(err, path, ACT_ERR_NPY, "expected a shape that fits in memory");
    char head[256];
    size_t head_len = format_header(head, shape, rank);
    char *tmp = NULL;
    FILE *f = NULL;
    int rc;
    if ((rc = create_temp(path, &tmp, &f, err)))
        return rc;
    bool written = fwrite(head, 1, head_len, f) == head_len &&
                   (count == 0 || fwrite(data, sizeof(float), (size_t)count, f) == (size_t)count) &&
                   fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!written) {
        rc = io_error(path, "cannot write", err);
        fclose(f);
        goto fail;
    }
    if (fclose(f) != 0) {
        rc = io_error(path, "cannot write", err);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = io_error(path, "cannot replace", err);
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    remove(tmp);
    free(tmp);
    return rc;
}
