#!/usr/bin/python3
# gen_vmath.py -- derive the constants and approximation coefficients of the
# compiler's vector math (compiler/vmath.c, compiler/vmath_erf.c).
#
# Run from the repository root with
#     /usr/bin/python3 scripts/gen_vmath.py
# (Debian's python3 with python3-mpmath). It prints C declarations to paste
# into those files (compiler/vmath_f32.c for the float exp's table,
# compiler/act_f32.c for gelu's and the float log's); each names its function, interval, degree and the error
# measured with the coefficients as rounded to double. Deterministic: no
# randomness, fixed grids and iteration counts, so a rerun prints the same text.
#
# Everything is fitted here from the mathematical definitions in mpmath at 60
# significant digits (120 for the rational fit), nothing copied from another
# library.
#   * polynomials: the Remez exchange algorithm for the minimax relative error;
#   * erfc's tail, a rational function P(s)/Q(s): Loeb's linearised least
#     squares with Lawson's reweighting, which approaches the minimax relative
#     error (the fit ends far below what the C code needs, so polishing it
#     with a rational Remez would buy nothing).

import struct
import textwrap

from mpmath import mp, mpf, matrix, lu_solve, cos, pi, sqrt, exp, expm1, erf, erfc, atanh, log

mp.dps = 60

# The widest reduced argument of exp: |x - n ln2| <= ln2/2, plus a margin for
# n = round(x log2e) being computed from a rounded product.
EXP_R = mpf("0.3466")
# log(m) = 2 atanh(s), s = (m-1)/(m+1), m in [sqrt(1/2), sqrt(2)): s^2 <= 0.029437;
# the margin covers log1p's corrected f.
LOG_Z = mpf("0.0295")
# erf uses x P(x^2) for |x| < ERF_SPLIT, erfc's tail beyond it; the tail ends
# at ERFC_END, past which erfc underflows to 0 in double.
ERF_SPLIT = mpf(1)
ERFC_END = mpf(28)


def to_double(v):
    with mp.workprec(53):
        return float(+v)


def cheb_points(a, b, n):
    """n Chebyshev points of the first kind on [a, b], ascending."""
    return [(a + b) / 2 - (b - a) / 2 * cos(pi * (j + mpf(1) / 2) / n) for j in range(n)]


def horner(coef, x):
    acc = mpf(0)
    for c in reversed(coef):
        acc = acc * x + c
    return acc


def remez(f, a, b, deg, iters=40, grid=3000):
    """Coefficients (monomial, ascending) of the degree-deg polynomial with
    the least maximal relative error to f on [a, b]."""
    n = deg + 2
    refs = [(a + b) / 2 - (b - a) / 2 * cos(pi * j / (n - 1)) for j in range(n)]
    xs = cheb_points(a, b, grid)
    fx = [f(x) for x in xs]
    for _ in range(iters):
        m = matrix(n, n)
        rhs = matrix(n, 1)
        for i, x in enumerate(refs):
            fv = f(x)
            for k in range(deg + 1):
                m[i, k] = x**k
            m[i, deg + 1] = (-1) ** i * abs(fv)
            rhs[i] = fv
        sol = lu_solve(m, rhs)
        coef = [sol[k] for k in range(deg + 1)]
        err = [(horner(coef, x) - fv) / fv for x, fv in zip(xs, fx)]
        # One extremum per run of equal sign, then trim the ends to n points.
        ext = []
        for i, e in enumerate(err):
            if ext and (e > 0) == (err[ext[-1]] > 0):
                if abs(e) > abs(err[ext[-1]]):
                    ext[-1] = i
            else:
                ext.append(i)
        while len(ext) > n:
            ext.pop(0 if abs(err[ext[0]]) < abs(err[ext[-1]]) else -1)
        if len(ext) < n:
            break
        refs = [xs[i] for i in ext]
    return coef


def rational(f, xs, n, m, iters=60):
    """P (degree n) and Q (degree m, Q(0) = 1), ascending monomial
    coefficients in x, with P/Q close to minimax relative error to f on the
    points xs (ascending). The fit runs in t = x/b, b the last point, where
    the monomials are better conditioned; the normal equations still need
    the extra digits."""
    with mp.workdps(120):
        return rational_fit(f, xs, n, m, iters)


def rational_fit(f, xs, n, m, iters):
    b = xs[-1]
    fx = [f(x) for x in xs]
    ts = [x / b for x in xs]
    lam = [mpf(1)] * len(xs)
    qprev = [mpf(1)] * len(xs)
    k = n + 1 + m
    best = None
    for _ in range(iters):
        nm = matrix(k, k)
        rhs = matrix(k, 1)
        for j, (t, fv) in enumerate(zip(ts, fx)):
            w2 = lam[j] / (fv * qprev[j]) ** 2
            row = [t**i for i in range(n + 1)] + [-fv * t**i for i in range(1, m + 1)]
            for p in range(k):
                rhs[p] += w2 * row[p] * fv
                for q in range(p, k):
                    nm[p, q] += w2 * row[p] * row[q]
        for p in range(k):
            for q in range(p):
                nm[p, q] = nm[q, p]
        sol = lu_solve(nm, rhs)
        pc = [sol[i] for i in range(n + 1)]
        qc = [mpf(1)] + [sol[n + 1 + i] for i in range(m)]
        err = []
        for j, (t, fv) in enumerate(zip(ts, fx)):
            qprev[j] = horner(qc, t)
            err.append(horner(pc, t) / qprev[j] / fv - 1)
        worst = max(abs(e) for e in err)
        if best is None or worst < best[0]:
            best = (worst, pc, qc)
        total = sum(lj * abs(e) for lj, e in zip(lam, err))
        lam = [lj * abs(e) / total for lj, e in zip(lam, err)]
    _, pc, qc = best
    return [c / b**i for i, c in enumerate(pc)], [c / b**i for i, c in enumerate(qc)]


def measured(approx, f, a, b, points=20000):
    """Max relative error of approx (already using double coefficients) to f."""
    xs = [a + (b - a) * j / (points - 1) for j in range(points)] + cheb_points(a, b, 2000)
    return max(abs(approx(x) / f(x) - 1) for x in xs)


def emit(name, coef, what, var):
    """A C table of the doubles coef, one per line with its power of var,
    under the comment what, laid out as clang-format keeps it."""
    coef = [to_double(c) for c in coef]
    lines = textwrap.wrap(what + " */", 97)
    print("/* " + "\n   ".join(lines))
    print("static const double %s[%d] = {" % (name, len(coef)))
    width = max(len(repr(c)) for c in coef) + 1
    for k, c in enumerate(coef):
        print("    %-*s /* %s^%d */" % (width, repr(c) + ",", var, k))
    print("};")


def emit_poly(name, f, a, b, deg, what, var):
    coef = [to_double(c) for c in remez(f, a, b, deg)]
    e = measured(lambda x: horner(coef, x), f, a, b)
    emit(name, coef, "scripts/gen_vmath.py: %s on [%s, %s], degree %d, max relative error %s"
         % (what, mp.nstr(a, 6), mp.nstr(b, 6), deg, mp.nstr(e, 2)), var)


def h_exp(r):
    return (expm1(r) - r) / r**2 if r else mpf(1) / 2


def p_exp(r):
    return expm1(r) / r if r else mpf(1)


def p_log(z):
    s = sqrt(z)
    return (2 * atanh(s) / s - 2) / z if z else mpf(2) / 3


def p_erf(z):
    return erf(sqrt(z)) / sqrt(z) if z else 2 / sqrt(pi)


def s_erfc(s):
    # erfc(a) = exp(-a^2) a S(a^2)
    a = sqrt(s)
    return exp(s) * erfc(a) / a


def constants():
    ln2 = log(2)
    # ln2_hi keeps 42 significant bits, so that n*ln2_hi is exact for |n| < 2^11.
    ln2_hi = mp.floor(ln2 * 2**42) / 2**42
    print("/* scripts/gen_vmath.py: ln 2 = LN2_HI + LN2_LO, LN2_HI with 42 significant bits */")
    print("#define LN2_HI %s" % repr(to_double(ln2_hi)))
    print("#define LN2_LO %s" % repr(to_double(ln2 - ln2_hi)))
    print("#define LOG2E %s" % repr(to_double(1 / ln2)))
    print("#define SQRT_HALF_BITS 0x%016x /* the double nearest sqrt(1/2) */"
          % struct.unpack(">Q", struct.pack(">d", to_double(sqrt(mpf(1) / 2))))[0])
    print()


def to_float(v):
    with mp.workprec(24):
        return float(+v)


def c_float(v):
    """v as a C float literal in hexadecimal, without trailing zeros."""
    if v == 0:
        return "0.0f"
    m, e = float.hex(v).split("p")
    return "%sp%sf" % (m.rstrip("0").rstrip("."), e)


def float_exp_table():
    """cc_vm_expf_pair's constants: ln2/16 split into a float and the float
    nearest the rest, 16 log2e, and 2^(j/16) as a float and the float
    nearest the rest, for j = 0..15."""
    ln2 = log(2)
    c1 = to_float(ln2 / 16)
    print("/* scripts/gen_vmath.py: ln2/16 = LN2_16_HI + LN2_16_LO (floats); 16 log2e */")
    print("#define LN2_16_HI %s" % c_float(c1))
    print("#define LN2_16_LO %s" % c_float(to_float(ln2 / 16 - mpf(c1))))
    print("#define LOG2E_16 %s" % c_float(to_float(16 / ln2)))
    hi = [to_float(mp.power(2, mpf(j) / 16)) for j in range(16)]
    lo = [to_float(mp.power(2, mpf(j) / 16) - mpf(h)) for j, h in enumerate(hi)]
    print("/* scripts/gen_vmath.py: 2^(j/16) = exp16_hi[j] + exp16_lo[j] (floats) */")
    for name, vals in (("exp16_hi", hi), ("exp16_lo", lo)):
        print("static const float %s[16] = {" % name)
        for k in range(0, 16, 4):
            print("    " + " ".join("%s," % c_float(v) for v in vals[k:k + 4]))
        print("};")
    print()


# gelu in float lanes (compiler/act_f32.c): Phi(-a) = e^(-a^2/2) R(a) for
# a = |x| in [0, GELU_END), R on n equal intervals, each a polynomial of
# degree deg in t = a - (its centre), its first two coefficients as pairs
# of floats (their rounding would cost up to 0.3 ULP). 16 intervals of
# degree 7 where a 16-entry table is one vpermps (AVX-512); 8 of degree 10
# where it is two and a blend, and an 8-entry table one (AVX2).
GELU_END = mpf("14.5")
GELU_TABLES = (("gelu", 16, 7), ("gelu8", 8, 10))


def gelu_r(a):
    return erfc(a / sqrt(2)) / 2 * exp(a * a / 2)


def gelu_tables(prefix, n, deg):
    w = GELU_END / n
    hi, lo, worst = [[] for _ in range(deg + 1)], [[], []], 0
    for j in range(n):
        c = (j + mpf(1) / 2) * w
        f = lambda t, c=c: gelu_r(c + t)
        exact = remez(f, -w / 2, w / 2, deg, iters=12, grid=400)
        for k, v in enumerate(exact):
            hi[k].append(to_float(v))
        for k in range(2):
            lo[k].append(to_float(exact[k] - mpf(hi[k][-1])))
        used = [mpf(hi[k][-1]) + (mpf(lo[k][-1]) if k < 2 else 0) for k in range(deg + 1)]
        ts = cheb_points(-w / 2, w / 2, 300) + [-w / 2, w / 2]
        worst = max(worst, max(abs(horner(used, t) / f(t) - 1) for t in ts))
    print("/* scripts/gen_vmath.py: Phi(-a) e^(a^2/2) on %d intervals of [0, %s], degree %d in "
          "t = a - centre,\n   max relative error %s with these floats (coefficient k is "
          "%s_hi[k] + %s_lo[k] for k < 2) */" % (n, mp.nstr(GELU_END, 4), deg,
                                                 mp.nstr(worst, 2), prefix, prefix))
    for name, rows in ((prefix + "_hi", hi), (prefix + "_lo", lo)):
        print("static const float %s[%d][%d] = {" % (name, len(rows), n))
        for row in rows:
            print("    {" + " ".join("%s," % c_float(v) for v in row) + "},")
        print("};")
    print()


def float_log_table():
    """log in float lanes (compiler/act_f32.c, softplus): for f in [1, 2) in
    the 16th starting at c = 1 + j/16, r = 1/c rounded to float (1 for j = 0)
    and -log(r) as a float and the float nearest the rest, so that log f =
    -log r + log1p(f r - 1) with 0 <= f r - 1 < 1/16 (to rounding)."""
    r = [to_float(1 / (1 + mpf(j) / 16)) for j in range(16)]
    t = [-log(mpf(v)) for v in r]
    hi = [to_float(v) for v in t]
    lo = [to_float(v - mpf(h)) for v, h in zip(t, hi)]
    print("/* scripts/gen_vmath.py: r = 1/(1 + j/16) as floats, -log r = log16_hi[j] + "
          "log16_lo[j] */")
    for name, vals in (("log16_r", r), ("log16_hi", hi), ("log16_lo", lo)):
        print("static const float %s[16] = {" % name)
        for k in range(0, 16, 4):
            print("    " + " ".join("%s," % c_float(v) for v in vals[k:k + 4]))
        print("};")
    print()


def main():
    constants()
    float_exp_table()
    float_log_table()
    for table in GELU_TABLES:
        gelu_tables(*table)
    emit_poly("expm1_h", h_exp, -EXP_R, EXP_R, 10, "(e^r - 1 - r)/r^2", "r")
    print()
    # cc_vm_exp_f32: only as accurate as a float result (or a sum of them)
    # needs, and exactly 1 at r = 0.
    emit_poly("exp_p", p_exp, -EXP_R, EXP_R, 6, "(e^r - 1)/r", "r")
    print()
    emit_poly("log_p", p_log, mpf(0), LOG_Z, 6, "(2 atanh(sqrt z)/sqrt z - 2)/z", "z")
    print()
    emit_poly("erf_p", p_erf, mpf(0), ERF_SPLIT**2, 11, "erf(sqrt z)/sqrt z", "z")
    print()
    n = 9
    s0, s1 = ERF_SPLIT**2, ERFC_END**2
    # Points spread evenly in a = sqrt(s), where erfc's tail changes shape.
    grid = [ERF_SPLIT] + cheb_points(ERF_SPLIT, ERFC_END, 400) + [ERFC_END]
    pc, qc = rational(s_erfc, [a * a for a in grid], n, n + 1)
    pc = [to_double(c) for c in pc]
    qc = [to_double(c) for c in qc]
    # vmath_erf.c relies on it: Horner's rule on s > 0 then never cancels.
    assert all(c > 0 for c in pc + qc), "P and Q must have positive coefficients"
    e = measured(lambda s: horner(pc, s) / horner(qc, s), s_erfc, s0, s1)
    what = ("scripts/gen_vmath.py: e^s erfc(sqrt s)/sqrt s = P(s)/Q(s) on [%s, %s], "
            "degrees %d/%d, max relative error %s" % (mp.nstr(s0, 6), mp.nstr(s1, 6), n, n + 1,
                                                       mp.nstr(e, 2)))
    emit("erfc_p", pc, what, "s")
    emit("erfc_q", qc, "the denominator Q of erfc_p", "s")


main()
