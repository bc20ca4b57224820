import pytest
import torch


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
