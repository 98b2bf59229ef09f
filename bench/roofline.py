#!/usr/bin/env python3
"""roofline.py -- the ceilings of the rows whose targets act misses.

Usage: roofline.py LIBACT RESULTS.md

Reads the table act_bench wrote to RESULTS.md and appends a section: for each
case of rows 1, 2, 3 and 7 at 262144 floats (and softmax at 1000 and 32000
columns), the SIMD instructions per float of the loops act's JIT compiled for
it, and the ceiling they set at row 0's measured FMA rate, next to the memory
ceiling of the table and the fastest peer (and the fastest within 2 ULP); and
the ceiling gelu's instructions set on row 4's layers with gelu.

The code counted is the code that ran: each case is compiled and run through
libact (ctypes) with ACT_CACHE_DIR set to a folder of its own, and the object
files the JIT stored there are disassembled with objdump. An instruction is
counted when it is a vector instruction that computes (loads, stores,
register moves and broadcasts from memory go to other units and are not).
"""
import ctypes
import os
import re
import subprocess
import sys
import tempfile

# row 1 and 2's functions as bench/rows_ew.c calls them
FUNCS = [
    ("sigmoid", "sigmoid(x)"),
    ("tanh", "tanh(x)"),
    ("gelu_erf", "gelu(x)"),
    ("gelu_tanh", 'gelu(x, approximate = "tanh")'),
    ("swish", "silu(x)"),
    ("elu", "elu(x)"),
    ("softplus", "softplus(x)"),
    ("mish", "mish(x)"),
    ("relu", "relu(x)"),
]
BWD = ["sigmoid", "tanh", "elu", "gelu_erf"]  # row 2
SOFTCLIP = "activation softclip(x; a = 1) = log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a\n"

NOT_COMPUTE = re.compile(r"^v(mov|maskmov|zeroupper|extract|insert)|^vp?broadcast")


class ActError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("file", ctypes.c_char * 256), ("line", ctypes.c_int),
                ("col", ctypes.c_int), ("message", ctypes.c_char * 512)]


def act_lib(path):
    lib = ctypes.CDLL(path)
    lib.act_context_new.restype = ctypes.c_void_p
    lib.act_context_free.argtypes = [ctypes.c_void_p]
    lib.act_compile_string.restype = ctypes.c_void_p
    lib.act_compile_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ActError)]
    lib.act_program_free.argtypes = [ctypes.c_void_p]
    for f in ("act_set", "act_set_output_grad"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_float),
                                    ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                                    ctypes.POINTER(ActError)]
    for f in ("act_forward", "act_backward"):
        getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.POINTER(ActError)]
    return lib


def run_case(lib, source, inputs, backward, folder):
    """Compiles and runs source with its code cached in folder; returns the
    object files of the last call (the forward, or the backward)."""
    os.environ["ACT_CACHE_DIR"] = folder
    err = ActError()
    ctx = lib.act_context_new()
    prog = lib.act_compile_string(ctx, source.encode(), b"roofline.act", None, 0,
                                  ctypes.byref(err))
    if not prog:
        raise RuntimeError(err.message.decode())
    keep = []
    for name, shape in inputs:
        n = 1
        for d in shape:
            n *= d
        data = (ctypes.c_float * n)(*[0.25 * ((i % 7) - 3) for i in range(n)])
        dims = (ctypes.c_int64 * len(shape))(*shape)
        keep.append((data, dims))
        set_fn = lib.act_set_output_grad if name.startswith("d_") else lib.act_set
        if set_fn(prog, (name[2:] if name.startswith("d_") else name).encode(), data, dims,
                  len(shape), ctypes.byref(err)):
            raise RuntimeError(err.message.decode())
    rc = lib.act_forward(prog, ctypes.byref(err))
    before = set(os.listdir(folder))
    if not rc and backward:
        rc = lib.act_backward(prog, ctypes.byref(err))
    if rc:
        raise RuntimeError(err.message.decode())
    lib.act_program_free(prog)
    lib.act_context_free(ctx)
    new = set(os.listdir(folder)) - (before if backward else set())
    return [os.path.join(folder, f) for f in sorted(new)]


def disassemble(path):
    """The functions of a cache file's object code: lists of (address,
    mnemonic, operands), a relocation's target appended to the operands of
    the instruction it patches (" #reloc .text+0x440")."""
    data = open(path, "rb").read()
    obj = path + ".elf"
    with open(obj, "wb") as f:
        f.write(data[data.index(b"\x7fELF"):])
    text = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", obj], check=True,
                          capture_output=True, text=True).stdout
    funcs = []
    for line in text.splitlines():
        if re.match(r"[0-9a-f]+ <.*>:$", line):
            funcs.append([])
        r = re.match(r"\s*[0-9a-f]+: R_X86_64_\w+\s+(\S+)", line)
        m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if r and funcs and funcs[-1]:
            addr, mnem, ops = funcs[-1][-1]
            funcs[-1][-1] = (addr, mnem, ops + " #reloc " + r.group(1))
        elif m and funcs:
            funcs[-1].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return funcs


def simd_compute(insns):
    return [ins for ins in insns if ins[1].startswith("v") and not NOT_COMPUTE.match(ins[1])]


def call_targets(insns):
    """For each indirect call of a function, the offset in .text of the
    function it calls, followed from where its address was formed (movabs
    with a relocation against .text) through register and stack copies; the
    large code model calls through registers."""
    where, targets = {}, {}
    for addr, mnem, ops in insns:
        m = re.match(r"\$0x0,(%\w+) #reloc \.text\+0x([0-9a-f]+)$", ops)
        if mnem == "movabs" and m:
            where[m.group(1)] = int(m.group(2), 16)
            continue
        m = re.match(r"(\S+),(\S+)$", ops)
        if mnem.startswith("call") and ops.startswith("*"):
            targets[addr] = where.get(ops[1:])
        elif mnem == "mov" and m:
            where[m.group(2)] = where.get(m.group(1))
        elif m and not (mnem == "add" and m.group(1).startswith("%")):  # + the GOT's address
            where.pop(m.group(2), None)
    return targets


def straight_line_costs(funcs):
    """The SIMD instructions of each function without branches (the
    vector math a formula's loop calls), by its start."""
    return {f[0][0]: len(simd_compute(f)) for f in funcs
            if f and not any(ins[1].startswith("j") for ins in f)}


def jump_target(mnem, ops):
    m = re.match(r"([0-9a-f]+) <", ops)
    return int(m.group(1), 16) if mnem.startswith("j") and m else None


def loops(insns):
    """The innermost natural loops of one function's control flow, each as
    the list of its blocks (lists of instructions, in address order).""" 
    at = {ins[0]: k for k, ins in enumerate(insns)}
    leaders = {0}
    for k, (addr, mnem, ops) in enumerate(insns):
        t = jump_target(mnem, ops)
        if t in at:
            leaders.add(at[t])
        if mnem.startswith("j") or mnem.startswith("ret"):
            leaders.add(k + 1)
    starts = sorted(x for x in leaders if x < len(insns))
    block_of = {}
    blocks = []
    for b, st in enumerate(starts):
        en = starts[b + 1] if b + 1 < len(starts) else len(insns)
        blocks.append((st, en))
        for k in range(st, en):
            block_of[k] = b
    succ = []
    for st, en in blocks:
        addr, mnem, ops = insns[en - 1]
        t = jump_target(mnem, ops)
        out = [block_of[at[t]]] if t in at else []
        if not (mnem == "jmp" or mnem.startswith("ret")) and en < len(insns):
            out.append(block_of[en])
        succ.append(out)
    # back edges by depth-first search from the entry
    back, state, stack = [], {0: 1}, [(0, iter(succ[0]))]
    while stack:
        b, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            state[b] = 2
            stack.pop()
        elif state.get(nxt) == 1:
            back.append((b, nxt))
        elif nxt not in state:
            state[nxt] = 1
            stack.append((nxt, iter(succ[nxt])))
    pred = [[] for _ in blocks]
    for b, out in enumerate(succ):
        for t in out:
            pred[t].append(b)
    bodies = {}
    for tail, head in back:
        body, work = bodies.setdefault(head, {head}), [tail]
        while work:
            b = work.pop()
            if b not in body:
                body.add(b)
                work.extend(pred[b])
    inner = [h for h, body in bodies.items()
             if not any(o != h and o in body for o in bodies)]
    return [[insns[slice(*blocks[b])] for b in sorted(bodies[h])] for h in inner]


def floats_per_pass(body):
    """The step of the loop's counter (an index of floats): lea K(%a),%b or
    add $K,%b with %b compared, or %b an index of floats in an address;
    else the lanes of its widest registers."""
    compared = set()
    for _, mnem, ops in body:
        if mnem.startswith("cmp"):
            compared.update(re.findall(r"%r\w+", ops))
    for _, mnem, ops in body:
        m = (re.match(r"0x([0-9a-f]+)\(%r\w+\),(%r\w+)$", ops) if mnem.startswith("lea") else
             re.match(r"\$0x([0-9a-f]+),(%r\w+)$", ops) if mnem.startswith("add") else None)
        if m and m.group(2) in compared and 1 < int(m.group(1), 16) <= 64:
            return int(m.group(1), 16)
    indices = set(re.findall(r"\(%r\w+,(%r\w+),4\)", " ".join(ins[2] for ins in body)))
    for _, mnem, ops in body:
        m = re.match(r"\$0x([0-9a-f]+),(%r\w+)$", ops) if mnem.startswith("add") else None
        if m and m.group(2) in indices and 1 < int(m.group(1), 16) <= 64:
            return int(m.group(1), 16)
    regs = " ".join(ins[2] for ins in body)
    return 16 if "%zmm" in regs else 8 if "%ymm" in regs else 4


def per_float(paths):
    """SIMD instructions per float of the loops in these objects, those of
    the functions a loop calls in the same object included; None when a
    loop calls anything else."""
    total, seen = 0.0, set()
    for p in paths:
        funcs = disassemble(p)
        costs = straight_line_costs(funcs)
        for f in funcs:
            targets = call_targets(f)
            for blocks in loops(f):
                # a kernel's last, partial vector goes through the loop's body
                # once more, its lanes copied in by masked loads first
                # (compiler/loop.c, cc_vector_loop_once): that copy is in the
                # cycle, but runs once
                body = [ins for b in blocks
                        if not any(i[1].startswith("vmaskmov") for i in b) for ins in b]
                calls = [costs.get(targets.get(ins[0])) for ins in body
                         if ins[1].startswith("call")]
                if None in calls:
                    return None
                simd = simd_compute(body)
                shape = tuple(sorted(ins[1] for ins in simd))
                if not simd or shape in seen:  # a copy or a counter; a loop's twin (with
                    continue                   # non-temporal stores)
                seen.add(shape)
                total += (len(simd) + sum(calls)) / floats_per_pass(body)
    return total or None


def parse_table(path):
    rows = {}
    head = None
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "row" and "ceiling / target" in cells:  # act_bench's table
            head = cells
        elif head and len(cells) == len(head) and cells[0].isdigit():
            rows[(int(cells[0]), cells[1])] = dict(zip(head, cells))
    return head, rows


def number(cell):
    m = re.match(r"([0-9.e+-]+)", cell or "")
    return float(m.group(1)) if m else None


def ulp(cell):
    m = re.search(r"\(([0-9.e+-]+) ulp\)", cell or "")
    return float(m.group(1)) if m else None


def read_bandwidth(rows, floats):
    """Row 0's read bandwidth (GB/s) at the smallest working set of at
    least `floats` floats measured, else the largest."""
    sizes = sorted(int(m.group(1)) for (row, label) in rows
                   for m in [re.match(r"read bandwidth, (\d+) floats$", label)] if row == 0 and m)
    if not sizes:
        return None
    size = next((s for s in sizes if s >= floats), sizes[-1])
    return number(rows[(0, f"read bandwidth, {size} floats")]["ceiling / target"])


def dense_ceilings(rows, peak, lanes, gelu):
    """Row 4's layers: the FMA peak; the weights, input and output moved
    at row 0's read bandwidth for the weights' size (what binds a
    matrix-vector product); and for gelu, the GEMM at the FMA peak and then
    gelu's instructions on each output at the same rate, which bound the
    layer to peak x 2K / (2K + 2 lanes gelu) GFLOP/s, whatever the GEMM
    does."""
    lines = []
    for (row, label), line in rows.items():
        m = re.match(r"dense \+ bias \+ (relu|gelu_erf), (\d+) x (\d+) x (\d+)$", label)
        if row != 4 or not m:
            continue
        mm, k, nn = (int(m.group(i)) for i in (2, 3, 4))
        bw = read_bandwidth(rows, k * nn)
        mem = 2 * mm * k * nn / (4 * (k * nn + mm * k + mm * nn) / bw) if bw else None
        act_fn = peak * 2 * k / (2 * k + 2 * lanes * gelu) if m.group(1) == "gelu_erf" and gelu \
            else None
        lowest = min(c for c in (peak, mem, act_fn) if c)
        act, dnnl = number(line["act"]), number(line.get("oneDNN"))
        fmt = lambda v: f"{v:.3g}" if v else "—"
        lines.append("| %s | %s | %s | %s | %s | %.0f%% | %s | %s |" % (
            label, fmt(act), fmt(peak), fmt(mem), fmt(act_fn), 100 * act / lowest, fmt(dnnl),
            f"{lowest / dnnl:.2f}" if dnnl else "—"))
    if not lines:
        return []
    return ["", "Row 4's layers: the FMA peak of row 0; the memory ceiling, 2MKN flops over "
            "the weights, input and output (4 (KN + MK + MN) bytes) at row 0's read bandwidth "
            "for the weights' size, which binds the one-row product; and for gelu, the product "
            "at the FMA peak, then gelu's %s instructions a float (above) on each output at the "
            "same rate: peak x 2K / (2K + 2 x lanes x %s) GFLOP/s however fast the GEMM. Where "
            "the lowest is near oneDNN's rate, 1.0x oneDNN is at the mercy of the noise; where "
            "it is below, it cannot be reached with a gelu within 1 ULP."
            % ((f"{gelu:.1f}",) * 2 if gelu else ("—", "—")), "",
            "| case | act | FMA peak | memory ceiling | gelu ceiling | act / lowest | oneDNN "
            "| lowest / oneDNN |",
            "|---|---|---|---|---|---|---|---|"] + lines


def mlp_ceilings(rows, peak):
    """Row 5's step: its GEMMs' flops at the FMA peak. A step of batch B
    multiplies by each weight forward (2 B K N flops), forms every weight's
    gradient (as many) and the input gradients of layers 2 and 3 (not of x):
    2 B (2 (784 256 + 256 256 + 256 10) + 256 256 + 256 10) flops; the
    loss, the activations and the update are not counted."""
    lines = []
    steps = [(int(m.group(1)), label, line) for (row, label), line in rows.items()
             for m in [re.match(r"MLP 784-256-256-10 training step, batch (\d+)$", label)]
             if row == 5 and m]
    for batch, label, line in sorted(steps):
        flops = 2 * batch * (2 * (784 * 256 + 256 * 256 + 256 * 10) + 256 * 256
                                       + 256 * 10)
        ceiling = peak * 1e9 / flops
        act, dnnl = number(line["act"]), number(line.get("oneDNN"))
        lines.append("| %s | %.1f | %.0f | %.0f | %.0f%% | %s |" % (
            label, flops / 1e6, act, ceiling, 100 * act / ceiling,
            "%.0f (%.0f%%)" % (dnnl, 100 * dnnl / ceiling) if dnnl else "—"))
    if not lines:
        return []
    return ["", "Row 5's step against its GEMMs' flops at the FMA peak of row 0 (the loss, "
            "activations and update not counted): act and oneDNN spend most of a step in the "
            "same products, both short of the peak by what blocking and packing cost at these "
            "sizes, so their ratio stays near 1.0x and moves with the noise.", "",
            "| case | MFLOP a step | act | FMA ceiling (steps/s) | act / ceiling "
            "| oneDNN (of ceiling) |",
            "|---|---|---|---|---|---|"] + lines


def param_floats(path):
    """The floats of the params a .act file declares, tensor by tensor."""
    sizes = []
    for m in re.finditer(r"param\s+\w+\s*:\s*f32\[([0-9, ]*)\]", open(path).read()):
        n = 1
        for d in m.group(1).split(","):
            n *= int(d) if d.strip() else 1
        sizes.append(n)
    return sizes


def latency_floors(rows):
    """Row 6's hits of bench/mlp784.act against the work no cache removes.
    Its params are drawn from their seeds: the in-process hit less the same
    file's with zeros for its params. A new process (the on-disk hit) has no
    freed memory to reuse: its params and its first backward pass's
    gradients are new memory, each page at row 0's cost, and the parse, the
    code and the runs take at least what examples/xor.act's on-disk hit
    takes."""
    page = rows.get((0, "new memory made ready and written, one 4 KB page"))
    mlp = "bench/mlp784.act"
    hit = rows.get((6, f"cache hit in the process, forward + backward, {mlp} (incl. initialising "
                       "its 268K params)"))
    zeros = rows.get((6, f"cache hit in the process, forward + backward, {mlp} with zeros for its "
                         "params (nothing drawn)"))
    disk = rows.get((6, f"on-disk cache hit, forward + backward, {mlp}, new process"))
    xor_disk = rows.get((6, "on-disk cache hit, forward + backward, examples/xor.act, new process"))
    figures = [number(line[key]) if line else None for line, key in (
        (page, "ceiling / target"), (hit, "act"), (zeros, "act"), (disk, "act"), (xor_disk, "act"))]
    if None in figures:  # a row not run, or a figure missing
        return []
    page_us, hit_ms, zeros_ms, act, rest = figures
    page_ms = page_us / 1e3
    floats = param_floats(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlp784.act"))
    pages = 2 * sum(-(-4 * n // 4096) for n in floats)  # params and gradients
    draw, memory = hit_ms - zeros_ms, pages * page_ms
    return ["", "Row 6's mlp784 (ms). Drawing its %d params from their seeds takes %.2f ms of "
            "its in-process hit (the hit, %.2f, less the same file's with zeros for its params, "
            "%.2f). A new process (the on-disk hit) also cannot skip new memory for its params "
            "and for its first backward pass's gradients, %d pages at row 0's cost, nor what "
            "examples/xor.act's on-disk hit takes (the code, the parse and the runs of a small "
            "graph). Their sum is the floor below; the target is 2 ms."
            % (sum(floats), draw, hit_ms, zeros_ms, pages), "",
            "| case | act | new memory | drawing the params | xor.act's on-disk hit | floor "
            "without the draw | with it | act / floor with it |",
            "|---|---|---|---|---|---|---|---|",
            "| on-disk cache hit, mlp784 | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                act, memory, draw, rest, memory + rest, memory + rest + draw,
                act / (memory + rest + draw))]


def main():
    lib_path, results = sys.argv[1], sys.argv[2]
    head, rows = parse_table(results)
    if (0, "peak float FMA rate, one core") not in rows:  # rows 0 to 3 and 7 run in part
        return
    peak = number(rows[(0, "peak float FMA rate, one core")]["ceiling / target"])
    lanes = 16 if "AVX-512: yes" in open(results).read() else 8  # of the peak's FMAs
    peers = head[head.index("ceiling / target") + 1:head.index("best peer")]
    lib = act_lib(lib_path)
    n = 262144
    cases = []
    for name, call in FUNCS:
        src = f"act 1\ngraph g {{\n input x : f32[N]\n y = {call}\n output y\n}}\n"
        cases.append((1, f"{name} forward, {n} floats", src, [("x", [4096])], False))
    for name, call in FUNCS:
        if name in BWD:
            src = f"act 1\ngraph g {{\n input x : f32[N]\n y = {call}\n output y\n}}\n"
            what = "from x" if name == "gelu_erf" else "from y"
            cases.append((2, f"{name} backward {what}, {n} floats (act: act_backward, y kept)",
                          src, [("x", [4096]), ("d_y", [4096])], True))
    for cols in (1000, 32000):
        src = (f"act 1\ngraph g {{\n input x : f32[N, {cols}]\n y = softmax(x, axis = -1)\n"
               " output y\n}\n")
        for bwd in (False, True):
            label = (f"softmax {'backward' if bwd else 'forward'}, 256 x {cols}"
                     + (" (act: act_backward, y kept)" if bwd else ""))
            cases.append((3, label, src, [("x", [2, cols])] + ([("d_y", [2, cols])] if bwd else []),
                          bwd))
    for name, src in (("softclip", "act 1\n" + SOFTCLIP + "graph g {\n input x : f32[N]\n"
                                    " y = softclip(x)\n output y\n}\n"),
                      ("chain", "act 1\ngraph g {\n input x : f32[N]\n input b : f32[N]\n"
                                " y = mish(scale(add(x, b)))\n output y\n}\n")):
        ins = [("x", [4096])] + ([("b", [4096])] if name == "chain" else [])
        cases.append((7, f"{name} forward, {n} floats", src, ins, False))

    out = ["", "## Ceilings (bench/roofline.py)",
           "",
           "For each case at 262144 floats (rows 1, 2, 7; softmax at 1000 and 32000 columns): "
           "the SIMD instructions per float in the loops act's JIT compiled for it "
           "(disassembled from the code that ran, by bench/roofline.py; loads, stores and "
           "register moves not counted), the ceiling they set if every one issued at the FMA "
           "rate of row 0 (peak / (2 x lanes x instructions per float)), the memory ceiling of the "
           "table, act's rate against the lower of the two, and the fastest peer, overall and "
           "within 2 ULP (max ULP measured in row 1), with the instructions a float the "
           "fastest peer's rate leaves it at the same FMA rate. The vector math a loop "
           "calls (a user formula's double lanes) counts in full at each call.",
           "",
           "| row | case | act | SIMD instructions / float | compute ceiling | memory ceiling "
           "| act / ceiling | fastest peer (max ULP) | its instructions / float, at most "
           "| fastest within 2 ULP | act / it |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    bound, header, counts = [], len(out), {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (row, label, src, ins, bwd) in enumerate(cases):
            line = rows.get((row, label))
            if not line:
                continue
            folder = os.path.join(tmp, str(i))
            os.mkdir(folder)
            try:
                count = per_float(run_case(lib, src, ins, bwd, folder))
            except (OSError, RuntimeError, ValueError, subprocess.CalledProcessError) as e:
                print(f"roofline.py: {label}: {e}", file=sys.stderr)
                count = None
            act = number(line["act"])
            mem = number(line["ceiling / target"])
            comp = peak / (2 * lanes * count) if count else None
            ceiling = min(c for c in (comp, mem) if c)
            rated = [(number(line[p]), p, ulp(line[p])) for p in peers if number(line[p])]
            best = max(rated) if rated else None
            exact = max([r for r in rated if r[2] is not None and r[2] <= 2], default=None)
            fmt = lambda v: f"{v:.3g}" if v is not None else "—"
            out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                row, label, fmt(act), f"{count:.1f}" if count else "— (not counted)", fmt(comp),
                fmt(mem), f"{100 * act / ceiling:.0f}%" if count else "—",
                f"{best[1]} {fmt(best[0])}" + (f" ({best[2]:.2g})" if best and best[2] is not None
                                               else "") if best else "—",
                f"{peak / (2 * lanes * best[0]):.1f}" if best else "—",
                f"{exact[1]} {fmt(exact[0])}" if exact else "—",
                f"**{act / exact[0]:.2f}×**" if exact else "—"))
            if comp and comp < mem:
                bound.append(act / comp)
            counts[label] = count
    dense = dense_ceilings(rows, peak, lanes, counts.get(f"gelu_erf forward, {n} floats"))
    if len(out) == header:  # none of the cases ran (--quick sizes, or other rows)
        out = out[:2] if dense or mlp_ceilings(rows, peak) or latency_floors(rows) else []
    if bound:
        out += ["", "Where the instructions bind (their ceiling below memory's), act runs at "
                "%.0f-%.0f%% of their ceiling. It counts every instruction at the FMA rate, two "
                "a cycle; adds and logic also issue on other pipes, so a kernel can pass it. "
                "Below it a kernel waits on the latency of its chains of dependent operations "
                "(an exp's reduction and polynomial, a division, the corrections that keep 1 "
                "ULP), which a core overlaps only in part (compiler/loop.c, "
                "cc_vector_loop_interleaved). A peer faster than act's ceiling runs fewer "
                "instructions a float than act (at most those of its column, if it issues no "
                "faster than the FMAs); row 1's ULP shows what it gives up for them."
                % (100 * min(bound), 100 * max(bound))]
    out += dense + mlp_ceilings(rows, peak) + latency_floors(rows)
    if not out:
        return
    with open(results, "a") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
