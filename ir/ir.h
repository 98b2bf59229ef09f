/* ir.h -- the front end and the intermediate representation of act.
 *
 * Owns: arenas, source positions and error filling; the .act lexer, parser
 * and canonical printer; scalar expression trees (parse, evaluate in double,
 * differentiate, simplify, print); the activation table and registry; the
 * graph IR, its verifier with shape inference, and autodiff, which appends
 * the backward values to a verified graph.
 * Leaves to others: running anything (runtime/), code generation (compiler/),
 * loading plugins (plugins/), printing diagnostics (tools/).
 *
 * Passes, in order (rt_program_compile calls them):
 *   ir_tokenize -> ir_parse -> ir_verify -> ir_autodiff (when a gradient is asked for)
 *
 * Memory: everything a module holds (tokens, nodes, strings, shapes, values)
 * comes from the module's arena and goes with ir_module_free. Registries own
 * their own arena. No function here prints or keeps global mutable state.
 */
#ifndef ACT_IR_H
#define ACT_IR_H

#include <act/act.h>
#include <stdarg.h>
#include <stdbool.h>

#define IR_MAX_RANK 4
#define IR_MAX_PARAMS 8 /* named parameters of one activation or op */
#define IR_MAX_ARGS 3   /* tensor arguments of one op */

/* ---- arena (ir/arena.c) ------------------------------------------------ */

typedef struct ir_arena ir_arena;

ir_arena *ir_arena_new(void);
void ir_arena_free(ir_arena *a);
/* Zeroed memory that lives as long as the arena; NULL when out of memory. */
void *ir_alloc(ir_arena *a, size_t size);
char *ir_strndup(ir_arena *a, const char *s, size_t n);
char *ir_strdup(ir_arena *a, const char *s);
/* printf into the arena. */
char *ir_sprintf(ir_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable malloc'ed string (buf NUL-terminated once anything is
   written). On allocation failure oom is set and later appends do nothing;
   the owner frees buf. */
typedef struct {
    char *buf;
    size_t n, cap;
    bool oom;
} ir_text;
void ir_text_printf(ir_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Growable array of pointers in an arena (old storage is left to the arena). */
typedef struct {
    void **items;
    int n, cap;
} ir_vec;
int ir_vec_push(ir_arena *a, ir_vec *v, void *item); /* 0, or ACT_ERR_NOMEM */

/* ---- positions and errors (ir/error.c) --------------------------------- */

typedef struct {
    const char *file; /* borrowed from the module or registry that made it */
    int line, col;    /* 1-based; 0 when unknown */
} ir_pos;

/* Fills *err (when not NULL) with code, pos and the formatted message, which
   reads "expected X, found Y" wherever there is an expectation. Returns code,
   so that callers can write `return act_error_at(err, pos, ...)`. */
int act_error_at(act_error *err, ir_pos pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int act_error_vat(act_error *err, ir_pos pos, int code, const char *fmt, va_list ap);
/* The same without a position (file may be NULL). */
int act_error_set(act_error *err, const char *file, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- lexer (ir/lex.c) -------------------------------------------------- */

typedef enum {
    TK_EOF,
    TK_END,    /* end of statement: a newline outside () and [], or ';' */
    TK_IDENT,  /* identifiers and keywords */
    TK_NUMBER, /* unsigned decimal number; value in num */
    TK_STRING, /* "..." with escapes resolved; value in str */
    TK_PUNCT   /* ( ) [ ] { } , : ; = + - * / ^ < <= > >= == != */
} ir_token_kind;

typedef struct {
    ir_token_kind kind;
    const char *text; /* NUL-terminated copy of the token as written */
    double num;       /* TK_NUMBER */
    const char *str;  /* TK_STRING, unescaped */
    const char *at;   /* where it starts in the text given to ir_tokenize */
    ir_pos pos;
} ir_token;

/* Splits src into tokens ending with TK_EOF. Consecutive TK_END tokens are
   merged and TK_END is not emitted inside () or []. Errors: a bad character,
   a bad number, an unclosed string (at its opening quote). */
ir_token *ir_tokenize(ir_arena *a, const char *file, const char *src, act_error *err);
bool ir_tok_is(const ir_token *t, const char *text); /* TK_PUNCT or TK_IDENT equal to text */
bool ir_is_keyword(const char *s);
/* Whether s (may be NULL: false) is a name as the lexer reads one:
   [A-Za-z_][A-Za-z0-9_]*. */
bool ir_is_identifier(const char *s);
/* A short description of a token for "found ..." in messages: 'foo', '(',
   end of line, end of file, number 1.5, string "x". Arena-allocated. */
const char *ir_tok_describe(ir_arena *a, const ir_token *t);

/* ---- scalar expressions (ir/expr*.c) ----------------------------------- */

typedef enum {
    EX_CONST, /* value */
    EX_X,     /* the activation's input */
    EX_Y,     /* the forward output (derivatives only) */
    EX_PARAM, /* param: index into the activation's parameters */
    EX_NEG,
    EX_ADD,
    EX_SUB,
    EX_MUL,
    EX_DIV,
    EX_POW,
    EX_LT,
    EX_LE,
    EX_GT,
    EX_GE,
    EX_EQ,
    EX_NE,
    EX_EXP,
    EX_EXPM1,
    EX_LOG,
    EX_LOG1P,
    EX_SQRT,
    EX_ABS,
    EX_TANH,
    EX_SIGMOID,
    EX_ERF,
    EX_ERFC,
    EX_SIN,
    EX_COS,
    EX_MIN,
    EX_MAX,
    EX_WHERE, /* where(c, a, b): c != 0 ? a : b */
    EX_CLAMP, /* clamp(v, lo, hi) */
    EX_CALL,  /* a native scalar function registered by a plugin */
    EX_COUNT_
} ir_expr_op;

/* A native scalar function of a plugin, called by EX_CALL. plugins/ embeds
   this struct in its own (self points to it) and fills eval; ir/ only calls
   through it. eval gets the values of the call's operands and the
   activation's parameters (NULL when it has none). grad, when not NULL, is
   the derivative in operand 0: it is called with the call's operands followed
   by the call's own value, so a native activation f(x) gets df(x, y). */
typedef struct ir_native ir_native;
struct ir_native {
    const char *name;
    double (*eval)(const ir_native *self, const double *args, int nargs, const double *params);
    const ir_native *grad;
    /* For the JIT, which calls the function directly: its address, its
       scalar type (1 float, 2 double: ACT_F32 and ACT_F64 of plugin.h) and
       how many of the activation's parameters follow the call's operands.
       addr is NULL for the one-element calls of a native array activation,
       which the JIT calls on whole arrays instead (ir_activation.native). */
    void (*addr)(void);
    int type;
    int nparams;
};

#define IR_PI 3.14159265358979323846 /* `pi` in formulas */
#define IR_E 2.71828182845904523536  /* `e` in formulas */

typedef struct ir_expr ir_expr;
struct ir_expr {
    ir_expr_op op;
    double value;        /* EX_CONST */
    int param;           /* EX_PARAM */
    int nargs;           /* operands used in arg[] */
    ir_expr *arg[3];     /* operands; for EX_CALL those of the call (usually x): the
                            native gets the activation's params through eval */
    const ir_native *fn; /* EX_CALL */
    ir_pos pos;          /* where the node was written; derived nodes keep their origin's */
    uint64_t hash;       /* structural hash: equal trees are one node in a pool */
};

/* Hash-consed expression nodes in an arena: a structurally equal node is made
   once, so shared subexpressions are shared pointers and equality is ==.
   Positions are not part of a node's identity: a shared node keeps the
   position it was first given (ir_ex_pos). Nodes and the pool's table live in
   the arena; there is nothing else to free. NULL when out of memory. */
typedef struct ir_expr_pool ir_expr_pool;
ir_expr_pool *ir_expr_pool_new(ir_arena *a);
ir_arena *ir_expr_pool_arena(ir_expr_pool *p);

/* Smart constructors: fold constants and neutral elements as IEEE arithmetic
   allows: f(constants) -> constant (evaluated as ir_expr_eval does), x - 0,
   x * 1, 1 * x, x / 1, x ^ 1, --x -> x, x + 0 and 0 + x -> x (which may only
   change the sign of a zero sum), where(constant, a, b) -> a or b, and
   where(comparison, a, a) -> a. Never x * 0 -> 0 (inf * 0 is NaN). EX_CALL
   (operands a, b, c, with fn set by ir_ex_call) is never folded. NULL when
   out of memory (or when an operand is NULL, so calls can be nested). */
ir_expr *ir_ex_const(ir_expr_pool *p, double v);
ir_expr *ir_ex_leaf(ir_expr_pool *p, ir_expr_op op, int param); /* EX_X, EX_Y, EX_PARAM */
ir_expr *ir_ex_node(ir_expr_pool *p, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c);
/* The operator or function name of op as written in formulas ("+", "^",
   "exp", "where"; "pow" is parsed as "^"), and its number of operands (-1 for
   EX_CALL, 0 for leaves). */
const char *ir_expr_op_name(ir_expr_op op);
int ir_expr_op_arity(ir_expr_op op);
/* EX_CALL of fn on args[0..nargs), nargs 1 to 3. */
ir_expr *ir_ex_call(ir_expr_pool *p, const ir_native *fn, ir_expr **args, int nargs);
/* e with the operands args (as many as e has): e itself when they are its
   own, else the pool's node for them, with e's position. NULL when out of
   memory. */
ir_expr *ir_ex_with_args(ir_expr_pool *p, ir_expr *e, ir_expr **args);
/* The operand t of 1 + t or t + 1, else NULL. */
ir_expr *ir_ex_one_plus(const ir_expr *e);
/* The exponent of e as exp(t): t, or the constant 0 for the constant 1;
   else NULL (and NULL when out of memory: *failed is set). */
ir_expr *ir_ex_exponent(ir_expr_pool *p, ir_expr *e, bool *failed);
/* The exponent t of e = exp(t) or -exp(t) (*negated says which), else NULL. */
ir_expr *ir_ex_exp_factor(ir_expr *e, bool *negated);
/* Whether e is exp(a) + exp(b), 1 counting as exp(0): *a, *b. */
bool ir_ex_exp_sum(ir_expr_pool *p, ir_expr *e, ir_expr **a, ir_expr **b, bool *failed);
/* Gives e the position pos unless it already has one (a shared node keeps
   its first); returns e. */
ir_expr *ir_ex_pos(ir_expr *e, ir_pos pos);

/* A parameter of an activation or an op. A string-valued parameter (gelu's
   approximate) lists its allowed words; its value is the word's index. */
typedef struct {
    const char *name;
    double def;
    const char *words[4]; /* words[0] == NULL: numeric */
    ir_pos pos;
} ir_param;

typedef struct {
    int n;
    ir_param p[IR_MAX_PARAMS];
} ir_params;

/* Parses a parameter list "a = 1, b = -0.5" up to (not including) a token
   that is neither ',' nor a parameter; values are numbers with an optional
   leading '-'. Errors: bad syntax, a name given twice, too many. */
int ir_params_parse(ir_arena *a, ir_token **cur, ir_params *out, act_error *err);
/* The same on a whole string (a plugin's parameter list); positions are
   columns of text on line 1 of file `origin`. Trailing tokens are an error. */
int ir_params_from_text(ir_arena *a, const char *text, const char *origin, ir_params *out,
                        act_error *err);

/* Parses an expression at *cur (advanced past it). var names the input
   variable (usually "x"); `y` is allowed only when allow_y. Identifiers are
   var, y, the parameters, pi, e; calls are those of ACT-LANGUAGE.md with
   their arities. Stops at the first token that cannot continue it. Errors
   (with the position of the offending token, or of the function name for a
   wrong arity): ACT_ERR_NAME for an unknown name or function, ACT_ERR_ARG
   for a wrong arity, ACT_ERR_SYNTAX otherwise, including a formula of more
   than 1000 operands (which bounds every recursive walk over the tree). */
ir_expr *ir_expr_parse(ir_expr_pool *p, ir_token **cur, const char *var, const ir_params *params,
                       bool allow_y, act_error *err);
/* The same on a whole string (a plugin formula) with var "x"; positions are
   columns of text on line 1 of file `origin`, which must live as long as the
   pool (nodes keep it). Trailing tokens are an error. */
ir_expr *ir_expr_parse_string(ir_expr_pool *p, const char *text, const char *origin,
                              const ir_params *params, bool allow_y, act_error *err);

/* Evaluates in double: the reference semantics. params[i] is parameter i; y
   is the forward output. where(c, a, b) evaluates only the branch it takes
   and gives NaN for a NaN c; comparisons give 0 or 1 (NaN compares false,
   except !=); min, max and clamp propagate NaN, and at a tie min and max give
   their first operand; sigmoid never overflows. Thread-safe. */
double ir_expr_eval(const ir_expr *e, double x, double y, const double *params);

/* d e / d x, simplified, in x and params, with the conventions of
   ACT-LANGUAGE.md (comparisons 0, where differentiates its branches, max/min
   ties to the first argument, abs'(0) = 0). NULL with *err naming the
   sub-expression (ACT_ERR_GRAD) when a derivative cannot be formed (a native
   call without grad, or whose other operands depend on x), or when e holds
   EX_Y; ACT_ERR_NOMEM when out of memory. */
ir_expr *ir_expr_diff(ir_expr_pool *p, const ir_expr *e, act_error *err);
/* Rewrites d in terms of the forward output: every occurrence of the subtree
   f that is a factor of d (reached from the root through products,
   quotients, negations, where's branches and native calls' operands)
   becomes EX_Y. Inside a sum or a function it stays f: the JIT reads y as
   a float, whose rounding a sum would amplify (y (1 - y) of a sigmoid at
   x = 10 was 5700 ULP off). */
ir_expr *ir_expr_subst_y(ir_expr_pool *p, ir_expr *d, const ir_expr *f);
/* A user's formula in a form with the same value for every input and less
   rounding (ir/expr_stable.c): log(1 + t) -> log1p(t), exp(t) - 1 ->
   expm1(t), log(exp(t)) -> t, log(sigmoid(t)) -> -log1p(exp(-t)), the log of
   a product or quotient of such positive terms -> the sum or difference of
   their logs, 1 +- erf(t) -> erfc(-+t), 1 +- tanh(t) -> 2 sigmoid(+-2t),
   1 - sigmoid(t) -> sigmoid(-t), exp(a) - exp(b) through expm1, t +-
   sqrt(t^2 + c) through its conjugate where it cancels. Differentiable as it is:
   ir_expr_diff gives log1p(exp(t)) the derivative sigmoid(t) t'. NULL when out of memory (or e is
   NULL). */
ir_expr *ir_expr_stable(ir_expr_pool *p, ir_expr *e);
/* For evaluation after ir_expr_stable: log1p(exp(t)) -> max(t, 0) +
   log1p(exp(-abs(t))), which does not overflow for t > 709. NULL when out
   of memory (or e is NULL). */
ir_expr *ir_expr_expand(ir_expr_pool *p, ir_expr *e);
/* Whether pred holds for e (may be NULL: false) or any node below it. */
bool ir_expr_any(const ir_expr *e, bool (*pred)(const ir_expr *));
/* Whether e reads EX_X (false: it can be computed from y and params alone). */
bool ir_expr_uses_x(const ir_expr *e);

/* The shortest decimal text that reads back as v ("0.1", "1e-40", "-2");
   integers below 1e15 in full ("40"), exponents without '+' or leading zeros
   ("1e20", "1.5e-5"); "nan", "inf", "-inf" for those. */
void ir_format_number(char buf[32], double v);

/* Writes e in .act syntax (names from params, var for EX_X), malloc'ed
   (caller frees; NULL when out of memory); parsing the text gives the same
   pool node. Without params, parameter i prints as p<i>; an EX_CALL prints as
   NAME(args), which only messages use: formulas cannot call natives. */
char *ir_expr_to_string(const ir_expr *e, const char *var, const ir_params *params);

/* ---- activations (ir/builtins.c, ir/registry.c) ------------------------ */

typedef enum {
    IR_ORIGIN_BUILTIN,
    IR_ORIGIN_FILE, /* an `activation` line in a .act file */
    IR_ORIGIN_PLUGIN
} ir_origin_kind;

/* A plugin's native array activation (the signatures of act_array_fwd and
   act_array_bwd in plugin.h): y[i] = f(x[i]) and dx[i] = dy[i] * f'(x[i])
   over n floats, params in declaration order. Its activation's f (and df,
   when bwd is not NULL) are calls of one element each, for the interpreter
   and for messages; the JIT calls fwd and bwd on whole arrays. */
typedef struct {
    void (*fwd)(const float *x, float *y, int64_t n, const double *params);
    void (*bwd)(const float *x, const float *y, const float *dy, float *dx, int64_t n,
                const double *params);
} ir_array_fns;

/* One elementwise activation: one formula, from which every engine and the
   derivative are derived. */
typedef struct ir_activation {
    const char *name;
    ir_origin_kind origin_kind;
    const char *origin; /* "built-in", "FILE:LINE:COL", or the plugin's path */
    ir_pos pos;         /* of the definition (IR_ORIGIN_FILE) */
    const char *var;    /* name of the input variable in the formula text */
    ir_params params;
    const char *formula;        /* the formula as written */
    const char *grad_formula;   /* the derivative as written; NULL: derived */
    ir_expr *f;                 /* in x and params, as written */
    ir_expr *f_eval;            /* f as the engines evaluate it: for a user's formula
                                   (not a built-in) rewritten by ir_expr_stable and
                                   ir_expr_expand, else f */
    ir_expr *df;                /* df/dx in x, y, params, rewritten in y where it could be;
                                   NULL when it cannot be formed */
    const char *df_error;       /* why df is NULL: names the sub-expression */
    const ir_array_fns *native; /* a plugin's native array functions, else NULL */
} ir_activation;

/* The built-in table row: adding an activation is adding a row. */
typedef struct {
    const char *name;
    const char *params;  /* "alpha = 1" in .act syntax; "" for none */
    const char *words;   /* string-valued param: "approximate: none tanh"; NULL for none */
    const char *formula; /* in x and the params */
    const char *grad;    /* hand-written derivative in x, y, params, where better
                            conditioned than the derived one; NULL: derived */
    const char *doc;     /* one line for `actc list` and the docs */
} ir_builtin_row;

const ir_builtin_row *ir_builtin_rows(int *count);

/* Builds an activation from formula text (used for built-ins and plugin
   formulas): parses the params and formulas, derives and simplifies the
   derivative, and rewrites it in y. words (NULL: none) appends one
   string-valued parameter, "approximate: none tanh": default the first word,
   value the index of the word. Strings are copied into a; pos is {origin, 0,
   0}, origin_kind is kind. A derivative that cannot be formed is not an
   error here: df is NULL and df_error says why. */
ir_activation *ir_activation_from_text(ir_arena *a, ir_expr_pool *p, ir_origin_kind kind,
                                       const char *name, const char *params, const char *words,
                                       const char *formula, const char *grad, const char *origin,
                                       act_error *err);
/* Finishes an activation whose f, origin_kind (and optionally a hand-written
   df, which may use y) are set: sets f_eval, derives df when missing and
   rewrites it in y. A user's formula (origin_kind not IR_ORIGIN_BUILTIN; the
   built-ins are written in stable form) is rewritten by ir_expr_stable
   before it is differentiated, and f_eval and df by ir_expr_expand after. A
   derivative that cannot be formed leaves df NULL and df_error (in p's
   arena) and returns 0; only running out of memory fails. */
int ir_activation_finish(ir_expr_pool *p, ir_activation *act, act_error *err);

/* The activations a context knows: built-ins first, then plugins in load
   order. Owned by the context; read-only once plugins are loaded. */
typedef struct ir_registry ir_registry;
/* Builds every row of ir_builtin_rows; NULL with err when out of memory.
   Caller frees with ir_registry_free. */
ir_registry *ir_registry_new(act_error *err);
void ir_registry_free(ir_registry *r);
ir_arena *ir_registry_arena(ir_registry *r);
ir_expr_pool *ir_registry_pool(ir_registry *r);
const ir_activation *ir_registry_find(const ir_registry *r, const char *name);
int ir_registry_count(const ir_registry *r);
const ir_activation *ir_registry_at(const ir_registry *r, int i);
/* Adds acts[0..n) all or none; they must live as long as the registry (build
   them in ir_registry_arena and ir_registry_pool). A name that clashes with a
   known activation, a graph op or another of acts is ACT_ERR_NAME at the new
   one's pos, naming both origins: "expected a new activation name, found
   'swish' already defined (built-in) and again in plugin /x/p.so". */
int ir_registry_add(ir_registry *r, ir_activation **acts, int n, act_error *err);

/* ---- graph ops (ir/ops.c) ---------------------------------------------- */

typedef enum {
    IR_INPUT,
    IR_PARAM,
    /* forward ops, written by users */
    IR_DENSE,
    IR_ADD,
    IR_MUL,
    IR_SCALE,
    IR_ACT, /* an elementwise activation: act, attr = its params */
    IR_PRELU,
    IR_RRELU,
    IR_MAXOUT,
    IR_SOFTMAX,
    IR_LOG_SOFTMAX,
    IR_SCE, /* softmax_cross_entropy */
    IR_BCE, /* sigmoid_cross_entropy */
    IR_MSE,
    IR_FORWARD_COUNT_,
    /* backward ops, appended by ir_autodiff (see ir/autodiff.c for each) */
    IR_SEED = IR_FORWARD_COUNT_, /* dL/d(output) given at run time (VJP) */
    IR_ONE,                      /* the scalar 1 = dL/dL */
    IR_ACT_GRAD,                 /* args: x, y, dy -> df(x, y) * dy */
    IR_MATMUL_NT,                /* args: dY [.., M], W [K, M] -> dY · Wᵀ [.., K] */
    IR_MATMUL_TN,                /* args: X [.., K], dY [.., M] -> Xᵀ · dY [K, M] */
    IR_SUM_TO,                   /* args: g; sums broadcast dims down to shape */
    IR_ACCUM,                    /* args: a, b -> a + b (same shape) */
    IR_PRELU_GRAD_X,             /* args: x, slope, dy */
    IR_PRELU_GRAD_SLOPE,         /* args: x, dy -> [M] or [1] */
    IR_RRELU_GRAD,               /* args: x, dy; attr as the rrelu */
    IR_MAXOUT_GRAD,              /* args: x, dy; attr as the maxout */
    IR_SOFTMAX_GRAD,             /* args: y, dy -> y * (dy - sum(dy * y)) */
    IR_LOG_SOFTMAX_GRAD,         /* args: y, dy -> dy - exp(y) * sum(dy) */
    IR_SCE_GRAD_LOGITS,          /* args: z, t, dL -> dL * (softmax(z) * sum(t) - t) / rows */
    IR_SCE_GRAD_TARGET,          /* args: z, t, dL -> -dL * log_softmax(z) / rows */
    IR_BCE_GRAD_X,               /* args: x, t, dL -> dL * (sigmoid(x) - t) / n */
    IR_BCE_GRAD_T,               /* args: x, t, dL -> -dL * x / n */
    IR_MSE_GRAD_Y,               /* args: y, t, dL -> dL * 2 (y - t) / n */
    IR_MSE_GRAD_T,               /* args: y, t, dL -> -dL * 2 (y - t) / n */
    IR_OP_COUNT_
} ir_op;

/* A graph op users can call, other than elementwise activations. */
typedef struct {
    const char *name;
    ir_op op;
    int min_args, max_args; /* tensor arguments */
    ir_params params;       /* named arguments with defaults */
    const char *doc;
} ir_op_info;

const ir_op_info *ir_op_find(const char *name);
const ir_op_info *ir_op_table(int *count);
const char *ir_op_name(ir_op op);

/* ---- graph IR (ir/parse*.c, ir/verify*.c, ir/print.c) ------------------ */

/* A tensor type: f32[d0, ...]. A dimension is a literal (sym == NULL) or a
   size name bound at run time by the first input that uses it. */
typedef struct {
    int rank;
    int64_t dim[IR_MAX_RANK];     /* literal dims; -1 where sym is set */
    const char *sym[IR_MAX_RANK]; /* size names, NULL for literals */
} ir_shape;

typedef struct {
    const char *name;
    ir_pos pos;
    bool is_string;
    double num;
    const char *str;
} ir_named_arg;

typedef enum {
    IR_INIT_NONE, /* supplied at run time */
    IR_INIT_ZEROS,
    IR_INIT_ONES,
    IR_INIT_FILL,    /* a = value */
    IR_INIT_UNIFORM, /* a = lo, b = hi, seed */
    IR_INIT_NORMAL,  /* a = mean, b = std, seed */
    IR_INIT_GLOROT,  /* seed */
    IR_INIT_NPY,     /* path, resolved relative to the .act file */
    IR_INIT_LIST     /* list[0..nlist) */
} ir_init_kind;

typedef struct {
    ir_init_kind kind;
    double a, b;
    uint64_t seed;
    const char *path; /* IR_INIT_NPY: as written */
    double *list;
    int64_t nlist;
    ir_pos pos; /* of the initialiser (the npy(...) call for npy) */
} ir_init;

typedef struct ir_value ir_value;
struct ir_value {
    ir_op op;         /* calls: IR_ACT until ir_verify resolves the callee */
    const char *name; /* NULL: an anonymous nested call, printed inline */
    ir_pos pos;       /* of the statement's name, or of the nested call */
    /* as written */
    const char *callee; /* op or activation name; NULL for inputs and params */
    ir_pos callee_pos;
    int nargs;
    ir_value *args[IR_MAX_ARGS];
    ir_pos arg_pos[IR_MAX_ARGS];
    int nnamed;
    ir_named_arg *named;
    ir_shape decl;   /* IR_INPUT, IR_PARAM: the declared type */
    ir_pos decl_pos; /* of the type */
    ir_init init;    /* IR_PARAM */
    /* of each dimension of decl, for errors about one size name */
    ir_pos dim_pos[IR_MAX_RANK];
    /* filled by ir_verify */
    ir_shape shape;
    const ir_activation *act;   /* IR_ACT */
    double attr[IR_MAX_PARAMS]; /* resolved named args, defaults filled, in
                                   the op's or activation's declaration order */
    int id;                     /* index in graph->values */
};

typedef struct ir_graph {
    const char *name;
    ir_pos pos;
    ir_vec values;  /* ir_value *, every value in definition order (nested
                       calls before their users); backward values follow */
    ir_vec outputs; /* ir_value *, in `output` order */
    ir_value *loss; /* NULL when the graph has none */
    int nforward;   /* values.n before ir_autodiff */
    /* filled by ir_autodiff: grad[i] is d(value i) for the forward values
       that need one (NULL where none flows); seeds[j] is the IR_SEED of
       outputs j in VJP mode */
    ir_value **grad;
    ir_value **seeds;
    bool differentiated;
} ir_graph;

typedef struct ir_module {
    ir_arena *arena;
    ir_expr_pool *pool;
    const char *file;
    bool has_version;
    ir_vec acts;   /* ir_activation *, from `activation` lines, in order */
    ir_vec graphs; /* ir_graph * */
} ir_module;

/* Parses a whole .act file: syntax, SSA names inside each graph (redefinition
   and use before definition are errors here), `activation` lines. Ops,
   activations, named args and shapes are resolved by ir_verify. Caller frees
   with ir_module_free. */
ir_module *ir_parse(const char *file, const char *src, act_error *err);
void ir_module_free(ir_module *m);

/* The graph called name, or the only one when name is NULL; errors list the
   graphs. */
ir_graph *ir_module_graph(ir_module *m, const char *name, act_error *err);

/* Checks the module's activations against reg (clashes name both origins),
   then resolves and checks one graph: callee, arity, named args, shapes (with
   both shapes in mismatch messages), size names, dangling values. */
int ir_verify(ir_module *m, ir_graph *g, const ir_registry *reg, act_error *err);

/* Finds an activation: the module's own, then the registry's. */
const ir_activation *ir_find_activation(const ir_module *m, const ir_registry *reg,
                                        const char *name);

/* Canonical text of the module, malloc'ed (caller frees); printing the
   parse of the result gives the same text. */
char *ir_print(const ir_module *m);

/* A size-name dim is NAME, or NAME/k for the last dim of a maxout (nested
   maxouts fold their divisors). Gives the length of NAME and k (1 for a
   plain name). */
void ir_size_split(const char *sym, size_t *name_len, int64_t *divisor);

/* Shape text "f32[N, 784]" into the arena; NULL when out of memory. */
const char *ir_shape_str(ir_arena *a, const ir_shape *s);

/* Parser state shared by ir/parse.c (the file, `activation` lines),
   ir/parse_graph.c (graph statements) and ir/parse_type.c (types,
   initialisers). tok is the next token. */
typedef struct {
    ir_module *m;
    ir_token *tok;
    ir_token *body; /* first token of the graph being parsed */
    act_error *err; /* never NULL inside the parser */
} ir_parser;

/* Token helpers (ir/parse.c). Each int function returns 0 or the error code
   it put in p->err. */
int ir_parse_failed(const ir_parser *p); /* the code a failed callee left in p->err */
int ir_parse_nomem(const ir_parser *p);
/* A syntax error at the current token: "expected WHAT, found TOKEN". */
int ir_expected(ir_parser *p, const char *what);
/* Consumes the punctuation or keyword text, or reports it missing. */
int ir_expect(ir_parser *p, const char *text);
/* A statement ends at a newline or ';' (TK_END), or at the end of the file. */
int ir_expect_end(ir_parser *p);
void ir_skip_ends(ir_parser *p);
bool ir_is_word(const ir_token *t, const char *word); /* the identifier word */
/* A name that is not a keyword (borrowed from the token), or NULL with a
   syntax error naming what. */
const char *ir_parse_name(ir_parser *p, const char *what);
/* num = "-"? NUMBER; what names the expectation in the error. */
int ir_parse_number(ir_parser *p, double *out, const char *what);
/* graph = "graph" NAME "{" statements "}" (ir/parse_graph.c), appended to
   p->m->graphs. */
int ir_parse_graph(ir_parser *p);
/* type = "f32" "[" dim ("," dim)* "]", into v->decl, v->decl_pos, v->dim_pos. */
int ir_parse_type(ir_parser *p, ir_value *v);
/* A param's initialiser after its "=", into v->init (v->decl is parsed). */
int ir_parse_init(ir_parser *p, ir_value *v);

/* Shape inference for one resolved call (ir/verify_shape.c): sets v->shape
   from its arguments' shapes and v->attr, or fails with ACT_ERR_SHAPE (or
   ACT_ERR_ARG for an axis out of range) naming both shapes. */
int ir_infer_shape(ir_arena *a, ir_value *v, act_error *err);

/* Appends the backward pass to a verified graph: from its loss (seeded by
   IR_ONE), or (vjp) from one IR_SEED per output. Running it again first drops
   the backward values of the previous run, so a program may switch modes.
   Errors: an activation without a derivative (at the call, naming the
   sub-expression), a loss-mode run on a graph without a loss. */
int ir_autodiff(ir_module *m, ir_graph *g, bool vjp, act_error *err);

#endif
