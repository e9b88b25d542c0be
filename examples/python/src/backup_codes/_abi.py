"""Calling a component function with code strings kept out of Python objects.

wasmtime-py's `Func.__call__` lowers a `str` argument by encoding it to `bytes`
and copying that into a C buffer, and lifts `string` results through a
`bytearray` into a `str`; none of these copies is wiped. For the two places a
plaintext code crosses the boundary - the `code` argument of `activate` and
`verify`, the `codes` of `issue`'s result and the `replacement` of `verify`'s
(under the policy's `replace-on-use`) - this module does the lowering and
lifting itself with wasmtime-py's C bindings (`wasmtime._ffi`):

- the argument's C buffer is filled straight from the caller's `bytearray`
  (through a ctypes view of it, no intermediate copy) and overwritten with zeros
  before it is freed;
- each issued code is copied from its C buffer into a fresh `bytearray` and the C
  buffer is zeroed before wasmtime-py's own lifting runs (which then sees zeros).

Every other value goes through wasmtime-py's public conversions. This module is
the one place that depends on wasmtime-py internals (`wasmtime._ffi`,
`wasmtime.component._enter`, `Func._func`, `Storelike._context()`); they are
checked at import so that a different wasmtime-py fails loudly, not silently.
Beyond Python's reach: wasmtime's C API converts each argument and result into a
Rust `Val` (a Rust `String` for a string) on its way to and from the guest, and
frees those without zeroing; and the guest's linear memory is released with the
store after every call.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

import wasmtime
from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import Func
from wasmtime.component import _enter

from .secret import SecretCode

_REQUIRED = (
    "wasmtime_component_val_t",
    "wasmtime_component_func_call",
    "wasmtime_component_val_delete",
    "wasm_byte_vec_new_uninitialized",
    "WASMTIME_COMPONENT_STRING",
    "WASMTIME_COMPONENT_RECORD",
    "WASMTIME_COMPONENT_LIST",
    "WASMTIME_COMPONENT_RESULT",
    "WASMTIME_COMPONENT_OPTION",
)
_missing = [name for name in _REQUIRED if not hasattr(ffi, name)]
if _missing or not hasattr(_enter, "LAST_EXCEPTION"):
    raise ImportError(
        f"backup_codes needs wasmtime-py 50.x internals; wasmtime {getattr(wasmtime, '__version__', '?')} "
        f"lacks {', '.join(_missing) or '_enter.LAST_EXCEPTION'}"
    )

_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_RECORD = ffi.WASMTIME_COMPONENT_RECORD.value
_LIST = ffi.WASMTIME_COMPONENT_LIST.value
_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_OPTION = ffi.WASMTIME_COMPONENT_OPTION.value


class CallFailed(Exception):
    """wasmtime reported an error (a trap, an interrupt, a failed host function).

    `message` is wasmtime's text; `cause` the Python exception a host function
    raised, if that is what failed."""

    def __init__(self, message: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


def _wipe_vec(vec: Any) -> None:
    if vec.size and vec.data:
        ctypes.memset(vec.data, 0, vec.size)


def _lower_secret(buf: bytearray, dst: Any) -> None:
    """Fill the string value `dst` from `buf` without an intermediate copy."""
    vec = ffi.wasm_byte_vec_t()
    ffi.wasm_byte_vec_new_uninitialized(ctypes.byref(vec), len(buf))
    if len(buf):
        view = (ctypes.c_uint8 * len(buf)).from_buffer(buf)
        try:
            ctypes.memmove(vec.data, view, len(buf))
        finally:
            del view  # release the buffer export so the bytearray can be wiped and shrunk
    dst.kind = _STRING
    dst.of.string = vec


def _record_field(val: Any, name: bytes) -> Any | None:
    if val.kind != _RECORD:
        return None
    rec = val.of.record
    for i in range(rec.size):
        entry = rec.data[i]
        if ctypes.string_at(entry.name.data, entry.name.size) == name:
            return entry.val
    return None


def _take_string(code: Any) -> SecretCode | None:
    """Move a string value into a wipeable buffer, zeroing the C copy."""
    if code is None or code.kind != _STRING:
        return None
    vec = code.of.string
    buf = bytearray(vec.size)
    if vec.size:
        view = (ctypes.c_uint8 * vec.size).from_buffer(buf)
        ctypes.memmove(view, vec.data, vec.size)
        del view
        _wipe_vec(vec)
    return SecretCode._adopt(buf)


def _take_issued_codes(result: Any) -> list[SecretCode]:
    """Move the code strings of `result<issuance, error>` (its `codes`) or of
    `result<verification, error>` (its `replacement`, when there is one) into
    wipeable buffers, zeroing the C copies. Returns [] for an error result."""
    if result.kind != _RESULT or not result.of.result.is_ok or not result.of.result.val:
        return []
    ok = result.of.result.val.contents
    codes = _record_field(ok, b"codes")
    if codes is not None and codes.kind == _LIST:
        entries = [codes.of.list.data[i] for i in range(codes.of.list.size)]
    else:
        replacement = _record_field(ok, b"replacement")
        if replacement is None or replacement.kind != _OPTION or not replacement.of.option:
            return []
        entries = [replacement.of.option.contents]
    out: list[SecretCode] = []
    for entry in entries:
        code = _take_string(_record_field(entry, b"code"))
        if code is None:
            for c in out:
                c.wipe()
            return []
        out.append(code)
    return out


def call(
    store: wasmtime.Store,
    func: Func,
    args: Sequence[Any],
    *,
    secret_args: dict[int, bytearray] | None = None,
    take_codes: bool = False,
) -> tuple[Any, list[SecretCode]]:
    """Call `func` with `args`; argument positions in `secret_args` are string
    parameters lowered from the given buffers (their entry in `args` is ignored).

    Returns wasmtime-py's lifted result and, with `take_codes`, the issued codes
    moved out of it first. Raises `CallFailed` when wasmtime reports an error."""
    secret_args = secret_args or {}
    fty = func.type(store)
    params = fty.params
    result_ty = fty.result
    if len(params) != len(args) or result_ty is None:
        raise TypeError("argument count does not match the function type")
    n = len(params)
    capi = (ffi.wasmtime_component_val_t * max(n, 1))()
    lowered = 0
    codes: list[SecretCode] = []
    try:
        for i, ((_name, ty), value) in enumerate(zip(params, args)):
            if i in secret_args:
                _lower_secret(secret_args[i], capi[i])
            else:
                ty.convert_to_c(store, value, ctypes.pointer(capi[i]))
            lowered += 1
        result = ffi.wasmtime_component_val_t()
        err = ffi.wasmtime_component_func_call(
            ctypes.byref(func._func), store._context(), capi, n, ctypes.byref(result), 1
        )
        if err:
            error = WasmtimeError._from_ptr(err)
            cause = _enter.LAST_EXCEPTION
            _enter.LAST_EXCEPTION = None
            raise CallFailed(str(error), cause)
        try:
            if take_codes:
                codes = _take_issued_codes(result)
            return result_ty.convert_from_c(result), codes
        except BaseException:
            for c in codes:
                c.wipe()
            raise
    finally:
        for i in range(lowered):
            if i in secret_args:
                _wipe_vec(capi[i].of.string)
            ffi.wasmtime_component_val_delete(ctypes.byref(capi[i]))
