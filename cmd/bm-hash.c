#include "cli.h"
int main(int argc, char **argv) { struct bm_cli c; (void)argc; bm_cli_init(&c, argv[0], "usage\n"); bm_cli_option(&c, BM_OPT_VERSION, 0); return 0; }
