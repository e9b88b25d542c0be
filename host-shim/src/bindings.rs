//! The component's contract as Rust types: the one `bindgen!` of the WIT
//! package in `wit/`. It sits below every other module so the configuration
//! names the contract's own types (a policy's code order) instead of copies.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: trappable },
    additional_derives: [PartialEq, Eq],
});
