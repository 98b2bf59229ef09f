/* npy_header.c -- parses and checks a .npy header dict, a Python literal such as
   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, and formats shapes and bytes. */
#include "rt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The largest element count whose bytes fit both size_t and int64_t. */
#define MAX_ELEMENTS                                                                               \
    (((uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX) /       \
     sizeof(float))

/* ---- shared with npy.c (documented in rt.h) ----------------------------- */

int64_t rt_npy_shape_count(const int64_t *shape, int rank)
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

void rt_npy_format_shape(char buf[RT_NPY_SHAPE_TEXT], const int64_t *shape, int rank)
{
    size_t n = (size_t)snprintf(buf, RT_NPY_SHAPE_TEXT, "(");
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++)
        n +=
            (size_t)snprintf(buf + n, RT_NPY_SHAPE_TEXT - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    snprintf(buf + n, RT_NPY_SHAPE_TEXT - n, rank == 1 ? ",)" : ")");
}

const char *rt_npy_quote(char out[RT_NPY_QUOTE_TEXT], const void *bytes, size_t len)
{
    const unsigned char *b = bytes;
    size_t n = (size_t)snprintf(out, RT_NPY_QUOTE_TEXT, "'");
    for (size_t i = 0; i < len && i < RT_NPY_QUOTE_BYTES; i++)
        n += (size_t)snprintf(out + n, RT_NPY_QUOTE_TEXT - n,
                              b[i] >= 0x20 && b[i] < 0x7f ? "%c" : "\\x%02x", b[i]);
    snprintf(out + n, RT_NPY_QUOTE_TEXT - n, len > RT_NPY_QUOTE_BYTES ? "...'" : "'");
    return out;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- parsing ------------------------------------------------------------ */

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
    char q[RT_NPY_QUOTE_TEXT];
    return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                         "malformed .npy header: expected %s, found %s", expected,
                         ps->p < ps->end ? rt_npy_quote(q, ps->p, 1) : "the end of the header");
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
    int len = (int)(ps->p - start) < RT_NPY_QUOTE_BYTES ? (int)(ps->p - start) : RT_NPY_QUOTE_BYTES;
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
    char q[RT_NPY_QUOTE_TEXT];
    if (!bit || (*seen & bit))
        return act_error_set(ps->err, ps->path, ACT_ERR_NPY,
                             "malformed .npy header: expected %s, found %s%s",
                             bit ? "each key once" : "key 'descr', 'fortran_order' or 'shape'",
                             rt_npy_quote(q, key, (size_t)len), bit ? " twice" : "");
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
static int parse_dict(parser *ps, npy_header *h)
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

/* ---- checking ----------------------------------------------------------- */

/* What act can read: '<f4', C order, rank 0 to 4, a size that fits memory. */
static int check_header(const char *path, const npy_header *h, act_error *err)
{
    char q[RT_NPY_QUOTE_TEXT];
    if (h->descr_len != 3 || memcmp(h->descr, "<f4", 3) != 0)
        return act_error_set(err, path, ACT_ERR_NPY, "expected dtype '<f4' (float32), found %s%s",
                             rt_npy_quote(q, h->descr, (size_t)h->descr_len),
                             h->descr_len > 0 && h->descr[0] == '>' ? " (big-endian)" : "");
    if (h->fortran)
        return act_error_set(err, path, ACT_ERR_NPY,
                             "expected C order, found Fortran order (fortran_order True)");
    if (h->rank > IR_MAX_RANK)
        return act_error_set(err, path, ACT_ERR_NPY, "expected at most %d dimensions, found %d",
                             IR_MAX_RANK, h->rank);
    if (rt_npy_shape_count(h->shape, h->rank) < 0) {
        char text[RT_NPY_SHAPE_TEXT];
        rt_npy_format_shape(text, h->shape, h->rank);
        return act_error_set(err, path, ACT_ERR_NPY,
                             "expected a shape that fits in memory, found %s", text);
    }
    return 0;
}

int rt_npy_parse_header(const char *text, size_t len, const char *path, int64_t shape[IR_MAX_RANK],
                        int *rank, act_error *err)
{
    npy_header h = {0};
    parser ps = {text, text + len, path, err};
    int rc;
    if ((rc = parse_dict(&ps, &h)) || (rc = check_header(path, &h, err)))
        return rc;
    for (int i = 0; i < IR_MAX_RANK; i++)
        shape[i] = i < h.rank ? h.shape[i] : 1;
    *rank = h.rank;
    return 0;
}
