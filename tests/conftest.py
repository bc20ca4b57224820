import os

import pytest
import torch

# Without a CUDA device, Triton's kernels run in its interpreter (NumPy on the CPU). Triton reads
# the switch when a function is decorated, its own library's functions (``tl.max``, ...) included,
# so it is set before anything imports Triton.
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture
def float64_default():
    """torch.optim keeps scalar state (step) in float64 only under a float64 default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def one_torch_thread():
    """Tiny models train fastest on one thread, and two xdist workers on two cores must not oversubscribe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
