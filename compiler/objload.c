/* objload.c -- object files that cc_codegen wrote for this x86-64 host,
   mapped and relocated by act itself: an on-disk cache hit then needs no
   LLJIT (creating LLVM's target machine and an LLJIT and linking through
   it took 1.3 ms of a 2 ms hit, docs/performance.md). Only what the JIT's
   target machine emits is handled: ELF64 relocatable objects, large code
   model (the code's GOT64, GOTOFF64 and GOTPC64 relocations), code and
   read-only data, no writable or thread-local data. Anything else is
   declined (NULL), and the caller links the object with LLJIT instead.
   Unwind tables (.eh_frame) are not loaded: act's code throws nothing, and
   only a debugger's walk of the stack misses them. Every offset and index
   read from the file is checked against its size, so damaged headers are
   declined, never read out of bounds; damage they cannot show (a byte of
   code) is the disk cache's check to catch (disk_cache.c). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "cc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

struct cc_image {
    unsigned char *base; /* code pages, then the read-only data and the GOT */
    size_t size;
    int n;        /* the global symbols the object defines */
    char **names; /* malloc'ed */
    void **addrs;
};

/* The object as read: its section headers and symbols copied out (the
   buffer need not be aligned for them). */
typedef struct {
    const char *obj;
    size_t size;
    Elf64_Shdr *sh;
    int nsh;
    Elf64_Sym *sym;
    int nsym;
    const char *str; /* the symbols' names, NUL-terminated within */
    size_t nstr;
    bool *load;      /* per section: mapped */
    size_t *at;      /* per section: offset in the image */
    int *got_slot;   /* per symbol: its GOT entry, or -1 */
    uintptr_t *addr; /* per symbol: its address once resolved, or 0 */
    unsigned char *got;
    cc_resolve_fn resolve;
    void *arg;
} reader;

static bool in_file(const reader *r, uint64_t off, uint64_t len)
{
    return off <= r->size && len <= r->size - off;
}

static size_t align_up(size_t v, size_t a)
{
    return a > 1 ? (v + a - 1) / a * a : v;
}

static bool read_headers(reader *r)
{
    Elf64_Ehdr eh;
    if (r->size < sizeof eh)
        return false;
    memcpy(&eh, r->obj, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_REL || eh.e_machine != EM_X86_64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum >= SHN_LORESERVE ||
        !in_file(r, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
        return false;
    r->nsh = eh.e_shnum;
    if (!(r->sh = malloc((size_t)r->nsh * sizeof *r->sh)))
        return false;
    memcpy(r->sh, r->obj + eh.e_shoff, (size_t)r->nsh * sizeof *r->sh);
    return true;
}

/* The one symbol table and its strings. */
static bool read_symbols(reader *r)
{
    int found = -1;
    for (int i = 0; i < r->nsh; i++)
        if (r->sh[i].sh_type == SHT_SYMTAB) {
            if (found >= 0)
                return false;
            found = i;
        }
    if (found < 0)
        return false;
    const Elf64_Shdr *s = &r->sh[found];
    if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_size % sizeof(Elf64_Sym) ||
        s->sh_size / sizeof(Elf64_Sym) > INT32_MAX || !in_file(r, s->sh_offset, s->sh_size) ||
        s->sh_link >= (unsigned)r->nsh)
        return false;
    const Elf64_Shdr *t = &r->sh[s->sh_link];
    if (t->sh_type != SHT_STRTAB || t->sh_size == 0 || !in_file(r, t->sh_offset, t->sh_size) ||
        r->obj[t->sh_offset + t->sh_size - 1] != 0)
        return false;
    r->str = r->obj + t->sh_offset;
    r->nstr = t->sh_size;
    r->nsym = (int)(s->sh_size / sizeof(Elf64_Sym));
    r->sym = malloc(s->sh_size ? s->sh_size : 1);
    r->got_slot = malloc((size_t)(r->nsym ? r->nsym : 1) * sizeof *r->got_slot);
    r->addr = calloc((size_t)(r->nsym ? r->nsym : 1), sizeof *r->addr);
    if (!r->sym || !r->got_slot || !r->addr)
        return false;
    memcpy(r->sym, r->obj + s->sh_offset, s->sh_size);
    for (int i = 0; i < r->nsym; i++) {
        r->got_slot[i] = -1;
        if (r->sym[i].st_name >= r->nstr)
            return false;
    }
    return true;
}

/* Which sections are mapped and where: code first, from offset 0, then,
   from the next page, read-only data. *code and *data are their sizes. */
static bool lay_out(reader *r, size_t page, size_t *code, size_t *data)
{
    r->load = calloc((size_t)r->nsh, sizeof *r->load);
    r->at = calloc((size_t)r->nsh, sizeof *r->at);
    if (!r->load || !r->at)
        return false;
    size_t end[2] = {0, 0};
    for (int i = 0; i < r->nsh; i++) {
        const Elf64_Shdr *s = &r->sh[i];
        if (!(s->sh_flags & SHF_ALLOC) || s->sh_type == SHT_X86_64_UNWIND)
            continue;
        uint64_t align = s->sh_addralign ? s->sh_addralign : 1;
        if (s->sh_type != SHT_PROGBITS || (s->sh_flags & (SHF_WRITE | SHF_TLS)) || align > page ||
            (align & (align - 1)) || !in_file(r, s->sh_offset, s->sh_size))
            return false;
        int part = (s->sh_flags & SHF_EXECINSTR) ? 0 : 1;
        r->at[i] = align_up(end[part], (size_t)align);
        end[part] = r->at[i] + (size_t)s->sh_size;
        r->load[i] = true;
        if (end[0] + end[1] > r->size + (size_t)r->nsh * page) /* sections overlap */
            return false;
    }
    *code = align_up(end[0], page);
    *data = align_up(end[1], 8);
    for (int i = 0; i < r->nsh; i++)
        if (r->load[i] && !(r->sh[i].sh_flags & SHF_EXECINSTR))
            r->at[i] += *code;
    return true;
}

/* Whether relocation section s patches a section that is not mapped and
   may keep its relocations unapplied: the unwind tables, or data that is
   not loaded (debug data). A relocation section for anything else (itself,
   the symbols) marks a damaged file. */
static bool left_out(const reader *r, const Elf64_Shdr *s)
{
    const Elf64_Shdr *t = &r->sh[s->sh_info];
    return t->sh_type == SHT_X86_64_UNWIND ||
           (t->sh_type == SHT_PROGBITS && !(t->sh_flags & SHF_ALLOC));
}

/* The relocation sections that apply to mapped sections, checked; each
   symbol a GOT64 relocation names gets a GOT entry. *slots counts them. */
static bool plan_relocations(reader *r, int *slots)
{
    *slots = 0;
    for (int i = 0; i < r->nsh; i++) {
        const Elf64_Shdr *s = &r->sh[i];
        if (s->sh_type == SHT_REL)
            return false;
        if (s->sh_type != SHT_RELA)
            continue;
        if (s->sh_info >= (unsigned)r->nsh)
            return false;
        if (!r->load[s->sh_info]) {
            if (left_out(r, s))
                continue;
            return false;
        }
        if (s->sh_entsize != sizeof(Elf64_Rela) || s->sh_size % sizeof(Elf64_Rela) ||
            !in_file(r, s->sh_offset, s->sh_size) || s->sh_link >= (unsigned)r->nsh ||
            r->sh[s->sh_link].sh_type != SHT_SYMTAB)
            return false;
        for (uint64_t k = 0; k < s->sh_size / sizeof(Elf64_Rela); k++) {
            Elf64_Rela rel;
            memcpy(&rel, r->obj + s->sh_offset + k * sizeof rel, sizeof rel);
            uint64_t sym = ELF64_R_SYM(rel.r_info);
            unsigned type = ELF64_R_TYPE(rel.r_info);
            if (sym == 0 || sym >= (uint64_t)r->nsym || rel.r_offset > r->sh[s->sh_info].sh_size ||
                r->sh[s->sh_info].sh_size - rel.r_offset < 8)
                return false;
            if (type == R_X86_64_GOT64 && r->got_slot[sym] < 0)
                r->got_slot[sym] = (*slots)++;
            else if (type != R_X86_64_GOT64 && type != R_X86_64_GOTOFF64 &&
                     type != R_X86_64_GOTPC64)
                return false;
        }
    }
    return true;
}

/* The address of symbol k: in a mapped section, absolute, the GOT, or
   found by name through resolve. 0 when it has none. */
static uintptr_t symbol_address(reader *r, unsigned char *base, uint64_t k)
{
    if (r->addr[k])
        return r->addr[k];
    const Elf64_Sym *s = &r->sym[k];
    const char *name = r->str + s->st_name;
    uintptr_t a = 0;
    int type = ELF64_ST_TYPE(s->st_info);
    if (type == STT_GNU_IFUNC || type == STT_TLS)
        return r->addr[k] = 0;
    if (s->st_shndx == SHN_UNDEF)
        a = !strcmp(name, "_GLOBAL_OFFSET_TABLE_") ? (uintptr_t)r->got
                                                   : (uintptr_t)r->resolve(r->arg, name);
    else if (s->st_shndx == SHN_ABS)
        a = (uintptr_t)s->st_value;
    else if (s->st_shndx < r->nsh && r->load[s->st_shndx] &&
             s->st_value <= r->sh[s->st_shndx].sh_size)
        a = (uintptr_t)(base + r->at[s->st_shndx] + s->st_value);
    return r->addr[k] = a;
}

static bool relocate(reader *r, unsigned char *base)
{
    for (int k = 0; k < r->nsym; k++)
        if (r->got_slot[k] >= 0) {
            uintptr_t a = symbol_address(r, base, (uint64_t)k);
            if (!a)
                return false;
            memcpy(r->got + 8 * (size_t)r->got_slot[k], &a, 8);
        }
    for (int i = 0; i < r->nsh; i++) {
        const Elf64_Shdr *s = &r->sh[i];
        if (s->sh_type != SHT_RELA || !r->load[s->sh_info]) /* sh_info checked in the plan */
            continue;
        for (uint64_t k = 0; k < s->sh_size / sizeof(Elf64_Rela); k++) {
            Elf64_Rela rel;
            memcpy(&rel, r->obj + s->sh_offset + k * sizeof rel, sizeof rel);
            unsigned char *p = base + r->at[s->sh_info] + rel.r_offset;
            uint64_t sym = ELF64_R_SYM(rel.r_info), v;
            uint64_t got = (uint64_t)(uintptr_t)r->got, at = (uint64_t)(uintptr_t)p;
            uint64_t a = (uint64_t)rel.r_addend; /* two's complement sums */
            switch (ELF64_R_TYPE(rel.r_info)) {
            case R_X86_64_GOT64:
                v = 8 * (uint64_t)r->got_slot[sym] + a;
                break;
            case R_X86_64_GOTPC64:
                v = got + a - at;
                break;
            default: { /* GOTOFF64, the plan's third */
                uint64_t s_addr = symbol_address(r, base, sym);
                if (!s_addr)
                    return false;
                v = s_addr + a - got;
            }
            }
            memcpy(p, &v, 8);
        }
    }
    return true;
}

/* The global symbols the object defines, by name. */
static bool keep_globals(reader *r, cc_image *im)
{
    im->names = calloc((size_t)(r->nsym ? r->nsym : 1), sizeof *im->names);
    im->addrs = calloc((size_t)(r->nsym ? r->nsym : 1), sizeof *im->addrs);
    if (!im->names || !im->addrs)
        return false;
    for (int k = 0; k < r->nsym; k++) {
        const Elf64_Sym *s = &r->sym[k];
        int bind = ELF64_ST_BIND(s->st_info);
        if ((bind != STB_GLOBAL && bind != STB_WEAK) || s->st_shndx == SHN_UNDEF)
            continue;
        uintptr_t a = symbol_address(r, im->base, (uint64_t)k);
        if (!a || !(im->names[im->n] = strdup(r->str + s->st_name)))
            return false;
        im->addrs[im->n++] = (void *)a;
    }
    return true;
}

static cc_image *map_image(reader *r)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), code, data;
    int slots;
    if (!read_headers(r) || !read_symbols(r) || !lay_out(r, page, &code, &data) ||
        !plan_relocations(r, &slots))
        return NULL;
    cc_image *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->size = code + align_up(data + 8 * (size_t)slots, page);
    void *base =
        im->size ? mmap(NULL, im->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                 : MAP_FAILED;
    if (base == MAP_FAILED) {
        free(im);
        return NULL;
    }
    im->base = base;
    r->got = im->base + code + data;
    for (int i = 0; i < r->nsh; i++)
        if (r->load[i])
            memcpy(im->base + r->at[i], r->obj + r->sh[i].sh_offset, r->sh[i].sh_size);
    bool ok = relocate(r, im->base) && keep_globals(r, im) &&
              (!code || !mprotect(im->base, code, PROT_READ | PROT_EXEC)) &&
              (code == im->size || !mprotect(im->base + code, im->size - code, PROT_READ));
    if (!ok) {
        cc_image_free(im);
        return NULL;
    }
    return im;
}

cc_image *cc_image_load(const char *obj, size_t size, cc_resolve_fn resolve, void *arg)
{
    reader r = {.obj = obj, .size = size, .resolve = resolve, .arg = arg};
    cc_image *im = map_image(&r);
    free(r.sh);
    free(r.sym);
    free(r.load);
    free(r.at);
    free(r.got_slot);
    free(r.addr);
    return im;
}

void *cc_image_symbol(const cc_image *im, const char *name)
{
    for (int i = 0; i < im->n; i++)
        if (!strcmp(im->names[i], name))
            return im->addrs[i];
    return NULL;
}

void cc_image_free(cc_image *im)
{
    if (!im)
        return;
    for (int i = 0; i < im->n; i++)
        free(im->names[i]);
    free(im->names);
    free(im->addrs);
    munmap(im->base, im->size);
    free(im);
}

#else /* another host: LLJIT links every object */

cc_image *cc_image_load(const char *obj, size_t size, cc_resolve_fn resolve, void *arg)
{
    (void)obj, (void)size, (void)resolve, (void)arg;
    return NULL;
}

void *cc_image_symbol(const cc_image *im, const char *name)
{
    (void)im, (void)name;
    return NULL;
}

void cc_image_free(cc_image *im)
{
    (void)im;
}

#endif
