"""Small LLVM IR helpers for the vector codecs written as numba intrinsics (:mod:`.avx2`, :mod:`.simd`)."""

from __future__ import annotations

from llvmlite import ir
from numba.core import config

_I32 = ir.IntType(32)


def splat(builder: ir.IRBuilder, value: ir.Value, vector: ir.VectorType) -> ir.Value:
    """``value`` in every lane of a ``vector``."""
    undef = ir.Constant(vector, ir.Undefined)
    one = builder.insert_element(undef, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(
        one, undef, ir.Constant(ir.VectorType(_I32, vector.count), [0] * vector.count)
    )


def const(value, vector: ir.VectorType) -> ir.Value:
    """The constant ``value`` in every lane of a ``vector``."""
    return ir.Constant(vector, [value] * vector.count)


def call(builder: ir.IRBuilder, name: str, ret: ir.Type, args: list[ir.Value]) -> ir.Value:
    """A call of the LLVM function (an intrinsic) ``name``, declared in the module on first use."""
    module = builder.module
    try:
        fn = module.get_global(name)
    except KeyError:
        fn = ir.Function(module, ir.FunctionType(ret, [a.type for a in args]), name)
    return builder.call(fn, args)


def opaque(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """``value`` unchanged, through an empty inline-assembly statement that LLVM cannot see into.

    Keeps LLVM from rewriting what follows in terms of what precedes: after a widening load,
    it would otherwise narrow the integer arithmetic back to bytes and widen each result
    separately (four widenings for one).
    """
    return builder.asm(ir.FunctionType(value.type, [value.type]), "", "=x,0", [value], False)


def host_has(feature: str) -> bool:
    """Whether numba compiles for this CPU (no ``NUMBA_CPU_NAME``) and it has ``feature`` (``"avx2"``)."""
    try:
        import llvmlite.binding as llvm

        return bool(llvm.get_host_cpu_features().get(feature, False)) and config.CPU_NAME is None
    except Exception:  # noqa: BLE001  (no feature query on this platform: the portable codec runs)
        return False
