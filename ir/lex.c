/* lex.c -- splits .act text (and formula strings) into tokens with source
   positions. Newlines end statements only outside () and []; brackets are
   matched here so that an unclosed one is reported at its opening. */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const keywords[] = {"act",    "activation", "graph", "input", "param",
                                       "output", "loss",       "grad",  "f32"};

bool ir_is_keyword(const char *s)
{
    for (size_t i = 0; i < sizeof keywords / sizeof *keywords; i++)
        if (s[0] == keywords[i][0] && !strcmp(s, keywords[i]))
            return true;
    return false;
}

bool ir_tok_is(const ir_token *t, const char *text)
{
    return (t->kind == TK_PUNCT || t->kind == TK_IDENT) && t->text[0] == text[0] &&
           !strcmp(t->text, text);
}

const char *ir_tok_describe(ir_arena *a, const ir_token *t)
{
    switch (t->kind) {
    case TK_EOF:
        return "end of file";
    case TK_END:
        return t->text[0] == ';' ? "';'" : "end of line";
    case TK_NUMBER:
        return ir_sprintf(a, "number %s", t->text);
    case TK_STRING:
        return ir_sprintf(a, "string %s", t->text);
    default:
        return ir_sprintf(a, "'%s'", t->text);
    }
}

typedef struct {
    ir_arena *arena;
    const char *file;
    const char *p;
    int line, col;
    ir_token *toks; /* malloc'd, copied into the arena at the end */
    int n, cap;
    int open[256]; /* indices of the unclosed ( [ { */
    int depth;
    act_error *err;
} lexer;

static ir_pos here(const lexer *l)
{
    return (ir_pos){l->file, l->line, l->col};
}

/* Advances one byte; columns count UTF-8 characters, not bytes. */
static void advance(lexer *l)
{
    if (*l->p == '\n') {
        l->line++;
        l->col = 1;
    } else if ((*l->p & 0xC0) != 0x80) {
        l->col++;
    }
    l->p++;
    while ((*l->p & 0xC0) == 0x80 && *l->p) /* continuation bytes take no column */
        l->p++;
}

/* Advances over n bytes of ASCII on one line. */
static void advance_ascii(lexer *l, size_t n)
{
    l->p += n;
    l->col += (int)n;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
    return (unsigned)((c | 32) - 'a') < 26 || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c);
}

bool ir_is_identifier(const char *s)
{
    if (!s || !is_ident_start(*s))
        return false;
    while (is_ident_char(*++s))
        ;
    return !*s;
}

/* A token of the text from start, len bytes long; text, when not NULL, is a
   static copy of it (punctuation, ends), else the arena gets one. */
static ir_token *push(lexer *l, ir_token_kind kind, const char *start, size_t len, const char *text,
                      ir_pos pos)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        ir_token *bigger = realloc(l->toks, (size_t)cap * sizeof *bigger);
        if (!bigger) {
            act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
            return NULL;
        }
        l->toks = bigger;
        l->cap = cap;
    }
    if (!text && !(text = ir_strndup(l->arena, start, len))) {
        act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ir_token *t = &l->toks[l->n++];
    *t = (ir_token){.kind = kind, .text = text, .at = start, .pos = pos};
    return t;
}

static bool in_parens(const lexer *l)
{
    for (int i = l->depth - 1; i >= 0; i--) {
        char c = l->toks[l->open[i]].text[0];
        if (c == '(' || c == '[')
            return true;
        if (c == '{')
            return false;
    }
    return false;
}

static int end_statement(lexer *l, const char *start, ir_pos pos)
{
    if (l->n && l->toks[l->n - 1].kind == TK_END)
        return 0;
    return push(l, TK_END, start, 1, *start == ';' ? ";" : "\n", pos) ? 0 : ACT_ERR_NOMEM;
}

/* Digits with at most one '.', 15 digits at most: their integer and the
   power of ten it is divided by are exact doubles, so their quotient is the
   correctly rounded value, as strtod's (most numbers of a file: 1, 0.5). */
static bool exact_decimal(const char *s, double *v)
{
    static const double tens[] = {1,   1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    int64_t m = 0;
    int digits = 0, scale = -1;
    for (; *s; s++) {
        if (*s == '.' && scale < 0)
            scale = 0;
        else if (is_digit(*s) && digits < 15) {
            m = m * 10 + (*s - '0');
            digits++;
            scale += scale >= 0;
        } else
            return false;
    }
    if (!digits)
        return false;
    *v = (double)m / tens[scale < 0 ? 0 : scale];
    return true;
}

static int lex_number(lexer *l)
{
    ir_pos pos = here(l);
    const char *start = l->p, *s = start;
    while (is_digit(*s) || *s == '.')
        s++;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        while (is_digit(*s))
            s++;
    }
    while (is_ident_char(*s) || *s == '.')
        s++;
    size_t len = (size_t)(s - start);
    advance_ascii(l, len);
    ir_token *t = push(l, TK_NUMBER, start, len, NULL, pos);
    if (!t)
        return ACT_ERR_NOMEM;
    if (exact_decimal(t->text, &t->num))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(t->text, &end);
    if (*end || end == t->text || (errno == ERANGE && isinf(v)))
        return act_error_at(l->err, pos, ACT_ERR_SYNTAX, "expected a number, found '%s'", t->text);
    t->num = v;
    return 0;
}

static int lex_string(lexer *l)
{
    ir_pos pos = here(l);
    const char *start = l->p;
    advance(l);
    size_t cap = 16, n = 0;
    char *buf = ir_alloc(l->arena, cap);
    if (!buf)
        return act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
    for (;;) {
        if (!*l->p || *l->p == '\n')
            return act_error_at(l->err, pos, ACT_ERR_SYNTAX,
                                "expected '\"' to close this string, found %s",
                                *l->p ? "end of line" : "end of file");
        if (*l->p == '"')
            break;
        if (*l->p == '\\') {
            ir_pos epos = here(l);
            advance(l);
            if (*l->p != '"' && *l->p != '\\')
                return act_error_at(l->err, epos, ACT_ERR_SYNTAX,
                                    "expected '\\\"' or '\\\\', found an unknown escape");
        }
        const char *from = l->p; /* one character, escaped or not, UTF-8 bytes whole */
        advance(l);
        size_t len = (size_t)(l->p - from);
        if (n + len + 1 > cap) {
            char *bigger = ir_alloc(l->arena, cap * 2 + len);
            if (!bigger)
                return act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
            memcpy(bigger, buf, n);
            buf = bigger;
            cap = cap * 2 + len;
        }
        memcpy(buf + n, from, len);
        n += len;
    }
    advance(l);
    ir_token *t = push(l, TK_STRING, start, (size_t)(l->p - start), NULL, pos);
    if (!t)
        return ACT_ERR_NOMEM;
    buf[n] = 0;
    t->str = buf;
    return 0;
}

static const char *const puncts[] = {"<=", ">=", "==", "!=", "(", ")", "[", "]", "{", "}", ",",
                                     ":",  "=",  "+",  "-",  "*", "/", "^", "<", ">", ";"};

static const char *closer(char open)
{
    return open == '(' ? ")" : open == '[' ? "]" : "}";
}

/* Keeps the stack of open brackets; a closer that does not match is an error
   at the bracket left open. */
static int match_bracket(lexer *l, int i)
{
    const ir_token *t = &l->toks[i];
    char c = t->text[0];
    if (c == '(' || c == '[' || c == '{') {
        if (l->depth == (int)(sizeof l->open / sizeof *l->open))
            return act_error_at(l->err, t->pos, ACT_ERR_SYNTAX,
                                "expected at most 256 nested brackets, found more");
        l->open[l->depth++] = i;
        return 0;
    }
    if (c != ')' && c != ']' && c != '}')
        return 0;
    if (!l->depth)
        return 0; /* the parser reports a stray closer with its context */
    const ir_token *o = &l->toks[l->open[l->depth - 1]];
    if (strcmp(closer(o->text[0]), t->text)) /* reported where the bracket was left open */
        return act_error_at(l->err, o->pos, ACT_ERR_SYNTAX,
                            "expected '%s' to close this '%s', found '%s' at line %d, column %d",
                            closer(o->text[0]), o->text, t->text, t->pos.line, t->pos.col);
    l->depth--;
    return 0;
}

static int lex_punct(lexer *l)
{
    ir_pos pos = here(l);
    /* the two-character ones are the first four, and each ends in '=' */
    for (size_t i = l->p[1] == '=' ? 0 : 4; i < sizeof puncts / sizeof *puncts; i++) {
        size_t len = puncts[i][1] ? 2 : 1;
        if (l->p[0] != puncts[i][0])
            continue;
        const char *start = l->p;
        advance_ascii(l, len);
        if (puncts[i][0] == ';' && !in_parens(l))
            return end_statement(l, start, pos);
        return push(l, TK_PUNCT, start, len, puncts[i], pos) ? match_bracket(l, l->n - 1)
                                                             : ACT_ERR_NOMEM;
    }
    unsigned char c = (unsigned char)*l->p;
    if (c >= 0x80 || !isprint(c))
        return act_error_at(l->err, pos, ACT_ERR_SYNTAX,
                            "expected a token, found a character that is not allowed here");
    return act_error_at(l->err, pos, ACT_ERR_SYNTAX, "expected a token, found '%c'", c);
}

static int lex_one(lexer *l)
{
    char c = *l->p;
    if (c == '#') { /* to the end of the line: a character a column, as advance() counts */
        for (; *l->p && *l->p != '\n'; l->p++)
            l->col += (*l->p & 0xC0) != 0x80;
        return 0;
    }
    if (c == '\n') {
        ir_pos pos = here(l);
        const char *start = l->p;
        advance(l);
        return in_parens(l) ? 0 : end_statement(l, start, pos);
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        advance_ascii(l, 1);
        return 0;
    }
    if (is_digit(c) || (c == '.' && is_digit(l->p[1])))
        return lex_number(l);
    if (is_ident_start(c)) {
        ir_pos pos = here(l);
        const char *start = l->p, *s = start;
        while (is_ident_char(*s))
            s++;
        advance_ascii(l, (size_t)(s - start));
        return push(l, TK_IDENT, start, (size_t)(s - start), NULL, pos) ? 0 : ACT_ERR_NOMEM;
    }
    if (c == '"')
        return lex_string(l);
    return lex_punct(l);
}

static ir_token *tokenize(lexer *l)
{
    if (!strncmp(l->p, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark is not text */
        l->p += 3;
    while (*l->p)
        if (lex_one(l))
            return NULL;
    if (l->depth) {
        const ir_token *o = &l->toks[l->open[l->depth - 1]];
        return act_error_at(l->err, o->pos, ACT_ERR_SYNTAX,
                            "expected '%s' to close this '%s', found end of file",
                            closer(o->text[0]), o->text),
               NULL;
    }
    if (end_statement(l, l->p, here(l)) || !push(l, TK_EOF, l->p, 0, "", here(l)))
        return NULL;
    ir_token *out = ir_alloc(l->arena, (size_t)l->n * sizeof *out);
    if (!out)
        return act_error_at(l->err, here(l), ACT_ERR_NOMEM, "out of memory"), NULL;
    memcpy(out, l->toks, (size_t)l->n * sizeof *out);
    return out;
}

ir_token *ir_tokenize(ir_arena *a, const char *file, const char *src, act_error *err)
{
    lexer l;
    l.arena = a;
    l.file = file;
    l.p = src;
    l.line = l.col = 1;
    l.toks = NULL;
    l.n = l.cap = l.depth = 0;
    l.err = err;
    ir_token *out = tokenize(&l);
    free(l.toks);
    return out;
}
