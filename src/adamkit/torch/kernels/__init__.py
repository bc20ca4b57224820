"""Fused CPU kernels: each algorithm's update in one pass over memory (numba).

One module per algorithm family (adam: Adam and AdamW; adamax, nadam, radam, sgd,
rmsprop, adagrad; swats, which runs Adam's and SGD's block functions and adds the two
sums of its switch). Each holds

* a **block function**: one loop over a contiguous block of a parameter and its state
  (read ``p, g`` and the state, write them back), the same arithmetic in the same order
  as the rule in :mod:`adamkit.rules`, named as the rule names it, on the array's own
  dtype (float32 stays float32, as the reference engine computes);
* an **entry point**: the block function for block ``b`` of a table of every tensor of a
  param group, as a C function that :mod:`.jit`'s launcher calls for every block, one
  call per step for the whole group, the blocks spread over the cores with ``prange``;
* a :class:`~adamkit.torch.kernels.contract.FusedKernel`: the host side, which names
  the state arrays the kernel reads and writes and turns the hyperparameters and the
  scalar state (``step``) into the kernel's scalar arguments, in Python float64, once
  per step, exactly as the rule computes them.

Kernels never decide hyperparameters: :mod:`adamkit.torch.fused` hands them the
arrays and the scalars. Boolean switches (AMSGrad, L2 decay, momentum) are
loop-invariant arguments: LLVM unswitches the loop, so each combination runs its own
vectorised loop.

Compiled code is cached (:mod:`.machine_code`) in the user's cache folder, or under
numba's ``NUMBA_CACHE_DIR`` where that is set. The first step of a new process then loads
machine code, without starting numba's compiler.
"""
