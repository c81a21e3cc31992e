//! EL1 exception vectors. barespice runs with IRQ/FIQ masked for ever (devices
//! wake the idle loop through WFI), so every exception that arrives here is a
//! bug: the handler prints a register dump (ESR, ELR, FAR, SPSR, x0..x30) on
//! the console and goes down the same fatal path as a panic.
//!
//! Must not: try to resume; there is nothing to resume to.

core::arch::global_asm!(
    r#"
    .macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #288
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       __exception_common
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .global __exception_vectors
__exception_vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

__exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x1, elr_el1
    stp     x30, x1, [sp, #240]
    mrs     x1, spsr_el1
    mrs     x2, esr_el1
    stp     x1, x2, [sp, #256]
    mrs     x1, far_el1
    add     x2, sp, #288
    stp     x1, x2, [sp, #272]
    mov     x1, sp
    bl      barespice_boot_exception
1:  wfe
    b       1b
"#
);

/// Registers saved by the vector stub, in the order it stores them.
#[repr(C)]
pub struct Frame {
    /// x0..x30.
    pub x: [u64; 31],
    /// Exception link register: the faulting or next instruction.
    pub elr: u64,
    /// Saved program status.
    pub spsr: u64,
    /// Exception syndrome.
    pub esr: u64,
    /// Fault address (valid for aborts).
    pub far: u64,
    /// Stack pointer before the exception.
    pub sp: u64,
}

const KINDS: [&str; 16] = [
    "sync (EL1t)",
    "irq (EL1t)",
    "fiq (EL1t)",
    "serror (EL1t)",
    "sync (EL1h)",
    "irq (EL1h)",
    "fiq (EL1h)",
    "serror (EL1h)",
    "sync (EL0 a64)",
    "irq (EL0 a64)",
    "fiq (EL0 a64)",
    "serror (EL0 a64)",
    "sync (EL0 a32)",
    "irq (EL0 a32)",
    "fiq (EL0 a32)",
    "serror (EL0 a32)",
];

/// Human name of the exception class in ESR_EL1.EC.
fn exception_class(esr: u64) -> &'static str {
    match (esr >> 26) & 0x3f {
        0x00 => "unknown reason",
        0x01 => "WFI/WFE trapped",
        0x07 => "FP/SIMD access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x18 => "system register access trapped",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x3c => "BRK (software breakpoint)",
        _ => "other",
    }
}

#[unsafe(no_mangle)]
extern "C" fn barespice_boot_exception(kind: u64, frame: &Frame) -> ! {
    let name = KINDS.get(kind as usize).copied().unwrap_or("?");
    let class = exception_class(frame.esr);
    defmt::error!(
        "EXCEPTION {=str}: {=str} ESR={=u64:#x} ELR={=u64:#x} FAR={=u64:#x} SPSR={=u64:#x} SP={=u64:#x}",
        name, class, frame.esr, frame.elr, frame.far, frame.spsr, frame.sp
    );
    for (i, regs) in frame.x.chunks(4).enumerate() {
        defmt::error!("  x{=usize}..: {=[?]:#x}", i * 4, regs);
    }
    let mut msg = crate::fatal::MessageBuf::new();
    let _ = core::fmt::write(
        &mut msg,
        format_args!(
            "CPU exception: {class} ({name})\nESR {:#x}  ELR {:#x}  FAR {:#x}",
            frame.esr, frame.elr, frame.far
        ),
    );
    crate::fatal::die(msg.as_str())
}
