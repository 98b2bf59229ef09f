/* tensor.c -- element counts and numpy broadcasting, the one place that maps
   an index of a broadcast result back to its operands. */
#include "rt.h"

int64_t rt_count(const int64_t *shape, int rank)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    return n;
}

void rt_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank,
                          int64_t strides[IR_MAX_RANK])
{
    int64_t stride = 1;
    for (int i = out_rank - 1; i >= 0; i--) {
        int k = i - (out_rank - in_rank); /* the matching dim of in, or < 0 */
        if (k < 0 || (in[k] == 1 && out[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = stride;
        }
        if (k >= 0)
            stride *= in[k];
    }
}

bool rt_has_data(const rt_tensor *t)
{
    return t->data || t->f32;
}
