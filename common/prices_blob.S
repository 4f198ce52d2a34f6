/* The price table (data/prices.tsv) embedded verbatim, NUL-terminated, so the
 * shim and hc-analyze need no file at run time. Parsed by pricing.c. */
    .section .rodata
    .balign 16
    .globl  hc_prices_tsv
    .hidden hc_prices_tsv
    .type   hc_prices_tsv, @object
hc_prices_tsv:
    .incbin "data/prices.tsv"
    .byte   0
    .size   hc_prices_tsv, . - hc_prices_tsv
    .section .note.GNU-stack, "", @progbits
