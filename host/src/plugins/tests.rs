//! Faults as the runtime reports them: a real trap (a core module executing `unreachable` on
//! the host's own engine) said on one line, without its wasm backtrace.

use super::*;

/// `(module (func (export "f") unreachable))`, hand-assembled (the engine reads no text).
const UNREACHABLE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
    0x03, 0x02, 0x01, 0x00, // functions: one, of type 0
    0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // exports: "f" = function 0
    0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: no locals, unreachable, end
];

fn real_trap() -> wasmtime::Error {
    let engine = engine::build_engine(&RuntimeConfig::default()).expect("the engine");
    let module = wasmtime::Module::new(&engine, UNREACHABLE).expect("the module compiles");
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(1);
    let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("it instantiates");
    let f = instance
        .get_typed_func::<(), ()>(&mut store, "f")
        .expect("it exports f");
    f.call(&mut store, ()).expect_err("unreachable traps")
}

#[test]
fn a_trap_is_said_on_one_line_without_its_backtrace() {
    let err = real_trap();
    // What the runtime is given carries the backtrace on several lines.
    assert!(format!("{err:#}").contains("wasm backtrace"), "{err:#}");
    assert!(format!("{err:#}").contains('\n'), "{err:#}");

    let fault = Fault::classify(&err, &MemoryOutputPipe::new(4096));
    assert_eq!(
        fault.to_string(),
        "trap: wasm `unreachable` instruction executed"
    );

    // A panic's stderr joins the line, without the standard library's backtrace hint.
    let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:76:13:\nrender-problem fails too\n\
                  note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
    assert_eq!(
        trap_message(&err, stderr),
        "wasm `unreachable` instruction executed; stderr: thread '<unnamed>' panicked at \
         src/lib.rs:76:13: render-problem fails too"
    );
}
