/* error.c -- the one place that fills an act_error. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

int act_error_vat(act_error *err, ir_pos pos, int code, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->file, sizeof err->file, "%s", pos.file ? pos.file : "");
    err->line = pos.line;
    err->col = pos.col;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

int act_error_at(act_error *err, ir_pos pos, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    act_error_vat(err, pos, code, fmt, ap);
    va_end(ap);
    return code;
}

int act_error_set(act_error *err, const char *file, int code, const char *fmt, ...)
{
    ir_pos pos = {file, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    act_error_vat(err, pos, code, fmt, ap);
    va_end(ap);
    return code;
}
