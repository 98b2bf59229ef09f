/* npy.c -- the one place that knows NumPy's .npy format (numpy.lib.format):
   reads float32 C-order arrays from version 1.0 and 2.0 files and writes
   version 1.0 files byte for byte as numpy.save does. */
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
    MAX_HEADER_LEN = 10000,      /* numpy's default max_header_size */
    SHAPE_TEXT = 128,            /* "(d, d, d, d)" with 20-digit dims needs 91 */
    QUOTE_BYTES = 32,            /* of header text shown in a message */
    QUOTE_TEXT = 4 * QUOTE_BYTES + 8
};

static const unsigned char npy_magic[MAGIC_LEN] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* The largest element count whose bytes fit both size_t and int64_t. */
#define MAX_ELEMENTS                                                                               \
    (((uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX) /       \
     sizeof(float))

/* The element count of a shape, or -1 when it is too large. Zero dims count
   as one in the bound, so that no partial product of the dims overflows in
   code that later walks the shape. */
static int64_t shape_count(const int64_t *shape, int rank)
{
    uint64_t bound = 1, count = 1;
    for (int i = 0; i < rank; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d > 0 && bound > MAX_ELEMENTS / d)
            return -1;
        bound *= d > 0 ? d : 1;
        count *= d;
    }
    return (int64_t)count;
}

/* Python's repr of a shape tuple, as numpy writes it: "()", "(5,)", "(2, 3)". */
static void format_shape(char buf[SHAPE_TEXT], const int64_t *shape, int rank)
{
    size_t n = (size_t)snprintf(buf, SHAPE_TEXT, "(");
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++)
        n += (size_t)snprintf(buf + n, SHAPE_TEXT - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    snprintf(buf + n, SHAPE_TEXT - n, rank == 1 ? ",)" : ")");
}

static int io_error(const char *path, const char *what, act_error *err)
{
    return act_error_set(err, path, ACT_ERR_IO, "%s: %s", what, strerror(errno));
}

/* Bytes of the file for a message: in quotes, cut after QUOTE_BYTES, bytes
   outside printable ASCII as \xNN, so that a damaged file cannot put control
   characters into the message. */
static const char *quote(char out[QUOTE_TEXT], const void *bytes, size_t len)
{
    const unsigned char *b = bytes;
    size_t n = (size_t)snprintf(out, QUOTE_TEXT, "'");
    for (size_t i = 0; i < len && i < QUOTE_BYTES; i++)
        n += (size_t)snprintf(out + n, QUOTE_TEXT - n,
                              b[i] >= 0x20 && b[i] < 0x7f ? "%c" : "\\x%02x", b[i]);
    snprintf(out + n, QUOTE_TEXT - n, len > QUOTE_BYTES ? "...'" : "'");
    return out;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- the header dict: a Python literal such as
   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } ----------- */

typedef struct {
    const char *descr; /* into the header text */
    int descr_len;
    bool fortran;
    int rank; /* may exceed IR_MAX_RANK: only the first dims are kept */
    int64_t shape[IR_MAX_RANK];
} npy_header;

typedef struct {
    const char *p, *end;
    const char *path;
    act_error *err;
} parser;

/* The keys of the header dict; bit i of a key set stands for keys[i]. */
static const char *const keys[] = {"descr", "fortran_order", "shape"};
enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

static int malformed(const parser *ps, const char *expected)
{
    char q[QUOTE_TEXT];
    return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                         "malformed .npy header: expected %s, found %s", expected,
                         ps->p < ps->end ? quote(q, ps->p, 1) : "the end of the header");
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
        ps->p++;
}

/* Skips spaces, then c when it comes next. */
static bool accept(parser *ps, char c)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

static bool accept_word(parser *ps, const char *word)
{
    size_t n = strlen(word);
    skip_space(ps);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    char next = ps->p + n < ps->end ? ps->p[n] : ' ';
    if (is_digit(next) || next == '_' || (next >= 'a' && next <= 'z') ||
        (next >= 'A' && next <= 'Z'))
        return false;
    ps->p += n;
    return true;
}

/* A string in single or double quotes. Escapes are not decoded: no key and no
   dtype that could be accepted contains one. */
static int parse_string(parser *ps, const char **s, int *len)
{
    skip_space(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return malformed(ps, "a quoted string");
    char quote = *ps->p++;
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != quote && *ps->p != '\n')
        ps->p++;
    if (ps->p >= ps->end || *ps->p != quote)
        return malformed(ps, "a closing quote");
    *s = start;
    *len = (int)(ps->p - start);
    ps->p++;
    return 0;
}

/* A dimension: a decimal integer, with the 'L' suffix of files written by
   Python 2 (numpy still reads those). */
static int parse_dim(parser *ps, int64_t *dim)
{
    skip_space(ps);
    const char *start = ps->p;
    bool negative = ps->p < ps->end && *ps->p == '-';
    if (negative)
        ps->p++;
    if (ps->p >= ps->end || !is_digit(*ps->p))
        return malformed(ps, "a dimension");
    uint64_t v = 0;
    bool too_big = false;
    for (; ps->p < ps->end && is_digit(*ps->p); ps->p++) {
        unsigned digit = (unsigned)(*ps->p - '0');
        too_big |= v > ((uint64_t)INT64_MAX - digit) / 10;
        v = too_big ? v : v * 10 + digit;
    }
    int len = (int)(ps->p - start) < QUOTE_BYTES ? (int)(ps->p - start) : QUOTE_BYTES;
    if (ps->p < ps->end && *ps->p == 'L')
        ps->p++;
    if (negative || too_big)
        return act_error_set(ps->err, ps->path, ACT_ERR_NPY, "expected %s, found %.*s",
                             negative ? "a non-negative dimension" : "a dimension below 2^63", len,
                             start);
    *dim = (int64_t)v;
    return 0;
}

/* '(' ')' | '(' dim ',' ')' | '(' dim (',' dim)+ [','] ')'; "(5)" is an int
   in Python, not a tuple. */
static int parse_shape(parser *ps, npy_header *h)
{
    int rc;
    if (!accept(ps, '('))
        return malformed(ps, "'(' to open the shape tuple");
    h->rank = 0;
    if (accept(ps, ')'))
        return 0;
    for (;;) {
        int64_t dim = 0;
        if ((rc = parse_dim(ps, &dim)))
            return rc;
        if (h->rank < IR_MAX_RANK)
            h->shape[h->rank] = dim;
        h->rank++;
        if (accept(ps, ',')) {
            if (accept(ps, ')'))
                return 0;
            continue;
        }
        if (h->rank > 1 && accept(ps, ')'))
            return 0;
        return malformed(ps, h->rank == 1 ? "',' after the only dimension of a 1-tuple"
                                          : "',' or ')' in the shape tuple");
    }
}

static unsigned key_bit(const char *key, int len)
{
    for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if ((size_t)len == strlen(keys[i]) && memcmp(key, keys[i], (size_t)len) == 0)
            return 1u << i;
    return 0;
}

static int parse_entry(parser *ps, npy_header *h, unsigned *seen)
{
    const char *key;
    int len, rc;
    if ((rc = parse_string(ps, &key, &len)))
        return rc;
    unsigned bit = key_bit(key, len);
    char q[QUOTE_TEXT];
    if (!bit || (*seen & bit))
        return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                             "malformed .npy header: expected %s, found %s%s",
                             bit ? "each key once" : "key 'descr', 'fortran_order' or 'shape'",
                             quote(q, key, (size_t)len), bit ? " twice" : "");
    *seen |= bit;
    if (!accept(ps, ':'))
        return malformed(ps, "':' after a key");
    if (bit == KEY_SHAPE)
        return parse_shape(ps, h);
    if (bit == KEY_DESCR) {
        if (accept(ps, '['))
            return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                                 "expected dtype '<f4' (float32), found a structured dtype");
        return parse_string(ps, &h->descr, &h->descr_len);
    }
    if (accept_word(ps, "True"))
        h->fortran = true;
    else if (!accept_word(ps, "False"))
        return malformed(ps, "True or False for 'fortran_order'");
    return 0;
}

/* '{' entry (',' entry)* [','] '}' with each of the three keys once, in any
   order, then only white space (numpy pads the header with it). */
static int parse_header(parser *ps, npy_header *h)
{
    unsigned seen = 0;
    int rc;
    if (!accept(ps, '{'))
        return malformed(ps, "'{' to open the header dict");
    while (!accept(ps, '}')) {
        if ((rc = parse_entry(ps, h, &seen)))
            return rc;
        if (accept(ps, ','))
            continue;
        if (accept(ps, '}'))
            break;
        return malformed(ps, "',' or '}' in the header dict");
    }
    skip_space(ps);
    if (ps->p < ps->end)
        return malformed(ps, "only spaces after the header dict");
    for (unsigned i = 0; seen != KEY_ALL; i++)
        if (!(seen & 1u << i))
            return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                                 "malformed .npy header: expected key '%s', found none", keys[i]);
    return 0;
}

/* What act can read: '<f4', C order, rank 0 to 4, a size that fits memory. */
static int check_header(const char *path, const npy_header *h, act_error *err)
{
    char q[QUOTE_TEXT];
    if (h->descr_len != 3 || memcmp(h->descr, "<f4", 3) != 0)
        return act_error_set(err, path, ACT_ERR_NPY, "expected dtype '<f4' (float32), found %s%s",
                             quote(q, h->descr, (size_t)h->descr_len),
                             h->descr_len > 0 && h->descr[0] == '>' ? " (big-endian)" : "");
    if (h->fortran)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "expected C order, found Fortran order (fortran_order True)");
    if (h->rank > IR_MAX_RANK)
        return act_error_set(err, path, ACT_ERR_NPY, "expected at most %d dimensions, found %d",
                             IR_MAX_RANK, h->rank);
    if (shape_count(h->shape, h->rank) < 0) {
        char text[SHAPE_TEXT];
        format_shape(text, h->shape, h->rank);
        return act_error_set(err, path, ACT_ERR_NPY,
                             "expected a shape that fits in memory, found %s", text);
    }
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* Magic, version and header length: a u16 in version 1.0, a u32 in 2.0. */
static int read_prelude(FILE *f, const char *path, size_t *header_len, act_error *err)
{
    unsigned char b[12];
    char q[QUOTE_TEXT];
    size_t got = fread(b, 1, MAGIC_LEN + 2, f);
    if (ferror(f))
        return io_error(path, "cannot read", err);
    if (got < MAGIC_LEN || memcmp(b, npy_magic, MAGIC_LEN) != 0)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "not a .npy file: expected it to start with '\\x93NUMPY', found %s",
                             got ? quote(q, b, got < MAGIC_LEN ? got : MAGIC_LEN)
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
    float *buf = malloc(want ? want : 1);
    if (!buf)
        return act_error_set(err, path, ACT_ERR_NOMEM,
                             "out of memory: expected room for %zu bytes of data", want);
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
    if (!(text = malloc(header_len + 1))) {
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
    npy_header h = {0};
    parser ps = {text, text + header_len, path, err};
    if ((rc = parse_header(&ps, &h)) || (rc = check_header(path, &h, err)))
        goto fail;
    if ((rc = read_data(f, path, shape_count(h.shape, h.rank), &buf, err)))
        goto fail;
    fclose(f);
    free(text);
    *data = buf;
    for (int i = 0; i < IR_MAX_RANK; i++)
        shape[i] = i < h.rank ? h.shape[i] : 1;
    *rank = h.rank;
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
    char tuple[SHAPE_TEXT];
    format_shape(tuple, shape, rank);
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
    int64_t count = shape_count(shape, rank);
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
