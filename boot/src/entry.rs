//! The first instructions: the arm64 Linux `Image` header and the assembly
//! path from reset to Rust.
//!
//! Owns: the Image header (so QEMU `-kernel`, U-Boot `booti` and the
//! Raspberry Pi firmware load us and pass the DTB in x0), parking secondary
//! cores, the EL2 -> EL1 drop (with VPIDR/VMPIDR_EL2 set to the real IDs),
//! enabling FP/NEON before any Rust runs, moving the image to its link address
//! if a loader put it elsewhere, clearing BSS, setting the stack and an early
//! VBAR. Must not: touch devices or memory other
//! than the image itself.

// The header layout is Documentation/arch/arm64/booting.rst of Linux:
//   code0/code1, text_offset, image_size, flags, res2..res4, magic "ARM\x64", res5.
// flags = 0b0010: little endian, 4 KiB pages, placed near the start of RAM.
core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .global _start
_start:
    b       1f
    .word   0
    .quad   0x80000
    .quad   __image_size
    .quad   0x2
    .quad   0
    .quad   0
    .quad   0
    .word   0x644d5241
    .word   0

    .section .text.boot, "ax"
1:
    mov     x20, x0                  // DTB physical address (Linux boot protocol)

    // Only the primary core (Aff0..Aff2 all zero) runs; anything else parks.
    mrs     x1, mpidr_el1
    mov     x2, #0xffffff
    and     x1, x1, x2
    cbz     x1, 2f
3:  wfe
    b       3b

2:  mrs     x21, CurrentEL
    lsr     x21, x21, #2
    and     x21, x21, #3             // x21 = exception level we were entered at
    cmp     x21, #2
    b.ne    4f

    // ---- EL2 -> EL1 ----
    mov     x1, #(1 << 31)           // HCR_EL2.RW: EL1 is AArch64
    msr     hcr_el2, x1
    mrs     x1, cnthctl_el2
    orr     x1, x1, #3               // EL1 may read the counter and use the timers
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr
    mov     x1, #0x33ff              // CPTR_EL2: do not trap FP/SIMD
    msr     cptr_el2, x1
    msr     hstr_el2, xzr
    // EL1 reads of MIDR_EL1/MPIDR_EL1 return VPIDR_EL2/VMPIDR_EL2, whose reset
    // values are UNKNOWN (the Pi firmware's stub may leave them): copy the real ones.
    mrs     x1, midr_el1
    msr     vpidr_el2, x1
    mrs     x1, mpidr_el1
    msr     vmpidr_el2, x1
    mov     x1, #(3 << 20)           // CPACR_EL1.FPEN
    msr     cpacr_el1, x1
    ldr     x1, =0x30d00800          // SCTLR_EL1 RES1 bits, MMU and caches off
    msr     sctlr_el1, x1
    mov     x1, #0x3c5               // EL1h, DAIF masked
    msr     spsr_el2, x1
    adr     x1, 4f
    msr     elr_el2, x1
    eret

4:  mrs     x1, CurrentEL            // x21 keeps the entry EL (2 after the drop above)
    cmp     x1, #(1 << 2)
    b.ne    3b                       // EL3 or EL0 entry is not supported: park

    // ---- EL1: FP/NEON on before any Rust code (LLVM uses q registers in memcpy) ----
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    isb
    msr     daifset, #0xf

    // ---- Move to the link address if loaded elsewhere ----
    adr     x1, _start               // where we run
    ldr     x2, =_start              // where we are linked
    cmp     x1, x2
    b.eq    6f
    ldr     x3, =__data_end
    sub     x3, x3, x2               // bytes to copy
    cmp     x2, x1
    b.hi    7f
    // dest below source: copy forwards
    mov     x4, #0
8:  ldr     x5, [x1, x4]
    str     x5, [x2, x4]
    add     x4, x4, #8
    cmp     x4, x3
    b.lo    8b
    b       9f
    // dest above source: copy backwards
7:  mov     x4, x3
10: sub     x4, x4, #8
    ldr     x5, [x1, x4]
    str     x5, [x2, x4]
    cbnz    x4, 10b
9:  dsb     sy
    ic      iallu
    dsb     sy
    isb
    ldr     x1, =6f
    br      x1

    // ---- BSS, stack, early vectors ----
6:  ldr     x1, =__bss_start
    ldr     x2, =__bss_end
11: cmp     x1, x2
    b.hs    12f
    stp     xzr, xzr, [x1], #16
    b       11b
12: ldr     x1, =__stack_top
    mov     sp, x1
    ldr     x1, =__exception_vectors
    msr     vbar_el1, x1
    isb
    mov     x0, x20
    mov     x1, x21
    bl      barespice_boot_rust
13: wfe
    b       13b
    .ltorg
"#
);
