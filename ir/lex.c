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
        if (!strcmp(s, keywords[i]))
            return true;
    return false;
}

bool ir_tok_is(const ir_token *t, const char *text)
{
    return (t->kind == TK_PUNCT || t->kind == TK_IDENT) && !strcmp(t->text, text);
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
    ir_vec toks;
    ir_token *open[256]; /* unclosed ( [ { */
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

static ir_token *push(lexer *l, ir_token_kind kind, const char *start, size_t len, ir_pos pos)
{
    ir_token *t = ir_alloc(l->arena, sizeof *t);
    if (!t || !(t->text = ir_strndup(l->arena, start, len)) || ir_vec_push(l->arena, &l->toks, t)) {
        act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->kind = kind;
    t->pos = pos;
    return t;
}

static bool in_parens(const lexer *l)
{
    for (int i = l->depth - 1; i >= 0; i--) {
        char c = l->open[i]->text[0];
        if (c == '(' || c == '[')
            return true;
        if (c == '{')
            return false;
    }
    return false;
}

static int end_statement(lexer *l, const char *start, ir_pos pos)
{
    if (l->toks.n) {
        ir_token *last = l->toks.items[l->toks.n - 1];
        if (last->kind == TK_END)
            return 0;
    }
    return push(l, TK_END, start, 1, pos) ? 0 : ACT_ERR_NOMEM;
}

static int lex_number(lexer *l)
{
    ir_pos pos = here(l);
    const char *start = l->p;
    while (isdigit((unsigned char)*l->p) || *l->p == '.')
        advance(l);
    if ((*l->p == 'e' || *l->p == 'E')) {
        advance(l);
        if (*l->p == '+' || *l->p == '-')
            advance(l);
        while (isdigit((unsigned char)*l->p))
            advance(l);
    }
    while (isalnum((unsigned char)*l->p) || *l->p == '_' || *l->p == '.')
        advance(l);
    size_t len = (size_t)(l->p - start);
    char *text = ir_strndup(l->arena, start, len);
    if (!text)
        return act_error_at(l->err, pos, ACT_ERR_NOMEM, "out of memory");
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end || end == text || (errno == ERANGE && isinf(v)))
        return act_error_at(l->err, pos, ACT_ERR_SYNTAX, "expected a number, found '%s'", text);
    ir_token *t = push(l, TK_NUMBER, start, len, pos);
    if (!t)
        return ACT_ERR_NOMEM;
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
    ir_token *t = push(l, TK_STRING, start, (size_t)(l->p - start), pos);
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
static int match_bracket(lexer *l, ir_token *t)
{
    char c = t->text[0];
    if (c == '(' || c == '[' || c == '{') {
        if (l->depth == (int)(sizeof l->open / sizeof *l->open))
            return act_error_at(l->err, t->pos, ACT_ERR_SYNTAX,
                                "expected at most 256 nested brackets, found more");
        l->open[l->depth++] = t;
        return 0;
    }
    if (c != ')' && c != ']' && c != '}')
        return 0;
    if (!l->depth)
        return 0; /* the parser reports a stray closer with its context */
    ir_token *o = l->open[l->depth - 1];
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
    for (size_t i = 0; i < sizeof puncts / sizeof *puncts; i++) {
        size_t len = puncts[i][1] ? 2 : 1;
        if (l->p[0] != puncts[i][0] || (len == 2 && l->p[1] != puncts[i][1]))
            continue;
        const char *start = l->p;
        for (size_t k = 0; k < len; k++)
            advance(l);
        if (puncts[i][0] == ';' && !in_parens(l))
            return end_statement(l, start, pos);
        ir_token *t = push(l, TK_PUNCT, start, len, pos);
        return t ? match_bracket(l, t) : ACT_ERR_NOMEM;
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
    if (c == '#') {
        while (*l->p && *l->p != '\n')
            advance(l);
        return 0;
    }
    if (c == '\n') {
        ir_pos pos = here(l);
        const char *start = l->p;
        advance(l);
        return in_parens(l) ? 0 : end_statement(l, start, pos);
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        advance(l);
        return 0;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)l->p[1])))
        return lex_number(l);
    if (isalpha((unsigned char)c) || c == '_') {
        ir_pos pos = here(l);
        const char *start = l->p;
        while (isalnum((unsigned char)*l->p) || *l->p == '_')
            advance(l);
        return push(l, TK_IDENT, start, (size_t)(l->p - start), pos) ? 0 : ACT_ERR_NOMEM;
    }
    if (c == '"')
        return lex_string(l);
    return lex_punct(l);
}

ir_token *ir_tokenize(ir_arena *a, const char *file, const char *src, act_error *err)
{
    lexer l = {.arena = a, .file = file, .p = src, .line = 1, .col = 1, .err = err};
    if (!strncmp(l.p, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark is not text */
        l.p += 3;
    while (*l.p)
        if (lex_one(&l))
            return NULL;
    if (l.depth) {
        ir_token *o = l.open[l.depth - 1];
        return act_error_at(err, o->pos, ACT_ERR_SYNTAX,
                            "expected '%s' to close this '%s', found end of file",
                            closer(o->text[0]), o->text),
               NULL;
    }
    if (end_statement(&l, "\n", here(&l)) || !push(&l, TK_EOF, "", 0, here(&l)))
        return NULL;
    ir_token *out = ir_alloc(a, (size_t)l.toks.n * sizeof *out);
    if (!out)
        return act_error_at(err, here(&l), ACT_ERR_NOMEM, "out of memory"), NULL;
    for (int i = 0; i < l.toks.n; i++)
        out[i] = *(ir_token *)l.toks.items[i];
    return out;
}
