import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Two shared cores: one torch thread is faster than two spinning against other processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
