//! barespice firmware entry.
#![no_std]
#![no_main]

use barespice_board as _;

barespice_boot::entry!(main);

fn main(info: barespice_boot::BootInfo) -> ! {
    let uart: &'static barespice_board::pl011::Pl011 = alloc::boxed::Box::leak(alloc::boxed::Box::new(
        barespice_board::pl011::Pl011::new(unsafe { barespice_board::mmio::Mmio::new(0x0900_0000, 0x1000) }),
    ));
    use barespice_board::console::ConsoleSink; uart.write(b"RAW\n");
    barespice_board::console::install(uart);
    defmt::info!("hello from barespice: dtb {=usize} bytes, heap {=u64:#x}..{=u64:#x}, EL{=u8}", info.dtb.len(), info.heap.start, info.heap.end, info.entry_el);
    barespice_boot::fatal::reset()
}
extern crate alloc;
