//! The component's contract as Rust types: the one `bindgen!` of the WIT
//! package in `wit/` (`host-shim/wit` is a link to it, so the published crate
//! carries the contract it was built against). It sits below every other module so the configuration
//! names the contract's own types (a policy's code order) instead of copies.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "wit",
    imports: { default: trappable },
    additional_derives: [PartialEq, Eq],
});
