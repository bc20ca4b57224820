import pytest
import torch


@pytest.fixture
def float64_default():
    """torch.optim keeps scalar state (step) in float64 only under a float64 default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
