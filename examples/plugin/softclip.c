/* softclip.c -- an activation plugin as a user writes one: the soft
   clipping function of ACT-LANGUAGE.md as a formula, so that act fuses,
   vectorises and differentiates it like a built-in. It includes only
   <act/plugin.h> and links nothing of act. */
#include <act/plugin.h>

ACT_PLUGIN_ABI;

int act_plugin_register(act_registry *reg)
{
    return act_register_formula(reg, "softclip", "a = 1",
                                "log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a",
                                NULL /* derivative: derived symbolically */);
}
