import pytest
import torch

from mvfnet import MVFNet, MVFNetConfig, coefficient_loss, landmark_loss, pose_loss


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("size, width", [(64, 4), (128, 4), (224, 2)])
def test_output_shapes_for_each_input_size(size, width):
    config = MVFNetConfig(image_size=size, width=width, n_id=199, n_exp=29)
    out = MVFNet(config)(torch.rand(2, 3, 3, size, size))
    expected = {"id": (2, 199), "exp": (2, 29), "rotation_6d": (2, 3, 6), "rotation": (2, 3, 3, 3), "translation": (2, 3, 2), "log_scale": (2, 3)}
    assert {k: tuple(v.shape) for k, v in out.items()} == expected


def test_feature_size_follows_the_width():
    model = MVFNet(MVFNetConfig(image_size=64, width=6, n_id=5, n_exp=3))
    assert model.encoder(torch.rand(2, 3, 64, 64)).shape == (2, 48)
    assert model.config.feature_dim == 48


def test_initial_prediction_is_the_mean_face_seen_frontally():
    out = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=10, n_exp=4)).eval()(torch.rand(3, 3, 3, 64, 64))
    assert torch.allclose(out["rotation"], torch.eye(3).expand(3, 3, 3, 3), atol=0.05)
    assert out["log_scale"].abs().max() < 0.05 and out["translation"].abs().max() < 0.05
    assert out["id"].abs().max() < 0.05 and out["exp"].abs().max() < 0.05


def test_folding_views_into_the_batch_equals_a_loop_over_views():
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=7, n_exp=3)).eval()  # eval: BatchNorm uses running statistics
    views = torch.rand(2, 3, 3, 64, 64)
    with torch.no_grad():
        out = model(views)
        features = [model.encoder(views[:, v]) for v in range(3)]  # (B, F) each
        poses = torch.stack([model.pose_head(f) for f in features], dim=1)
        coefficients = model.shape_head(torch.cat(features, dim=1))
    torch.testing.assert_close(out["rotation_6d"], poses[..., :6])
    torch.testing.assert_close(out["translation"], poses[..., 6:8])
    torch.testing.assert_close(out["log_scale"], poses[..., 8])
    torch.testing.assert_close(torch.cat([out["id"], out["exp"]], 1), coefficients)


def test_views_are_not_interchangeable():
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=7, n_exp=3)).eval()
    views = torch.rand(1, 3, 3, 64, 64)
    with torch.no_grad():
        swapped = model(views[:, [0, 2, 1]])
        out = model(views)
    torch.testing.assert_close(swapped["rotation"], out["rotation"][:, [0, 2, 1]])  # poses follow their view
    assert not torch.allclose(swapped["id"], out["id"])  # the 3DMM head knows which slot is which view


def test_gradients_reach_every_parameter():
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=6, n_exp=2))
    out = model(torch.rand(2, 3, 3, 64, 64))
    target = torch.randn(2, 3, 3, 3)
    loss = (
        coefficient_loss(out["id"], out["exp"], torch.ones(2, 6), torch.ones(2, 2))
        + pose_loss(out["rotation"], out["translation"], out["log_scale"], target, torch.ones(2, 3, 2), torch.ones(2, 3))
        + landmark_loss(out["translation"][:, :, None], torch.zeros(2, 3, 1, 2))
    )
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_param_groups_partition_the_parameters():
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=6, n_exp=2))
    groups = model.param_groups()
    ids = [id(p) for group in groups.values() for p in group]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("field, value", [("image_size", 100), ("image_size", 0), ("width", 0), ("n_id", 0), ("n_exp", -1), ("views", 0)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        MVFNetConfig(**{field: value})


def test_wrong_input_shape_is_reported_with_the_expected_shape():
    model = MVFNet(MVFNetConfig(image_size=64, width=4, n_id=6, n_exp=2))
    with pytest.raises(ValueError, match=r"\(B, 3, 3, 64, 64\).*\(2, 3, 3, 128, 128\)"):
        model(torch.rand(2, 3, 3, 128, 128))
    with pytest.raises(ValueError, match="expected views"):
        model(torch.rand(2, 9, 64, 64))
