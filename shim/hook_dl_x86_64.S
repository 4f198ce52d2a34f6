/* hook_dl.S — the dlopen hook: clear RTLD_DEEPBIND, then jump (not call) to
 * the real dlopen so that glibc sees the app as the caller. See hook_dl.c. */
#if defined(__x86_64__)
    .text
    .globl  dlopen
    .type   dlopen, @function
    .globl  hc_dlopen_trampoline
    .hidden hc_dlopen_trampoline
    .hidden hc_real_dlopen
    .hidden hc_dlopen_mask
    .hidden hc_dlopen_resolve
dlopen:
hc_dlopen_trampoline:
    .cfi_startproc
    movq    hc_real_dlopen(%rip), %rax
    testq   %rax, %rax
    jz      1f
0:  andl    hc_dlopen_mask(%rip), %esi
    jmp     *%rax
1:  /* First use: resolve in C, keeping the arguments and stack alignment. */
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    call    hc_dlopen_resolve
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    testq   %rax, %rax
    jnz     0b
    xorl    %eax, %eax        /* no real dlopen: report failure like dlopen would */
    ret
    .cfi_endproc
    .size   dlopen, . - dlopen
#endif
    .section .note.GNU-stack, "", @progbits
