import math

import pytest
import torch

from mvaug.disentangle.fusion import CSFusion, normalize_content


def test_instance_norm_of_codes_and_maps():
    torch.manual_seed(0)
    code = torch.randn(5, 32) * 3 + 1
    out = normalize_content(code, "instance")
    torch.testing.assert_close(out.mean(1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(1, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)
    maps = torch.randn(2, 4, 8, 8) * 2 + 5
    out = normalize_content(maps, "instance")
    torch.testing.assert_close(out.mean((2, 3)), torch.zeros(2, 4), atol=1e-5, rtol=0)


def test_l2_projects_onto_a_sphere_of_radius_sqrt_d():
    code = torch.randn(3, 128) * 7
    out = normalize_content(code, "l2")
    torch.testing.assert_close(out.norm(dim=1), torch.full((3,), math.sqrt(128)), rtol=1e-4, atol=0)
    torch.testing.assert_close(out / out.norm(dim=1, keepdim=True), code / code.norm(dim=1, keepdim=True))
    assert normalize_content(code, "none") is code
    with pytest.raises(ValueError, match="unknown norm"):
        normalize_content(code, "batch")


def test_fusion_is_eq3_and_sigma_starts_at_one():
    torch.manual_seed(1)
    block = CSFusion(style_dim=6, channels=4, norm="instance")
    content, style = torch.randn(2, 4, 5, 5), torch.randn(2, 6)
    torch.testing.assert_close(block.f_sigma(style), torch.ones(2, 4))  # sigma starts at 1
    torch.testing.assert_close(block(content, style), normalize_content(content, "instance") + block.f_mu(style)[:, :, None, None])
    with torch.no_grad():
        block.f_sigma.weight.normal_()
        block.f_mu.weight.normal_()
    sigma, mu = block.f_sigma(style), block.f_mu(style)
    expected = sigma[:, :, None, None] * normalize_content(content, "instance") + mu[:, :, None, None]
    torch.testing.assert_close(block(content, style), expected)
