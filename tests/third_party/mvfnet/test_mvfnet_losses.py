import math

import pytest
import torch

from scipy.spatial.transform import Rotation

from mvfnet import LossWeights, MVFNet, MVFNetConfig, landmark_loss, mvfnet_losses, pose_loss, project_landmarks

N_VERTICES, N_ID, N_EXP, N_LANDMARKS = 40, 10, 5, 12


def _rotations(yaw_pitch_roll: torch.Tensor) -> torch.Tensor:
    """(..., 3) radians -> (..., 3, 3) float32, R = R_y(yaw) R_x(pitch) R_z(roll)."""
    flat = yaw_pitch_roll.reshape(-1, 3).double().numpy()
    return torch.from_numpy(Rotation.from_euler("YXZ", flat).as_matrix()).float().reshape(*yaw_pitch_roll.shape, 3)


def _linear_model(seed: int = 0):
    """A random linear morphable model: vertices = mean + B_id id + B_exp exp, (B, N, 3)."""
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(N_VERTICES, 3, generator=generator)
    basis_id = 0.1 * torch.randn(N_VERTICES * 3, N_ID, generator=generator)
    basis_exp = 0.1 * torch.randn(N_VERTICES * 3, N_EXP, generator=generator)

    def vertices_fn(id_coef: torch.Tensor, exp_coef: torch.Tensor) -> torch.Tensor:
        return mean + (id_coef @ basis_id.T + exp_coef @ basis_exp.T).view(-1, N_VERTICES, 3)

    return vertices_fn, torch.arange(0, 2 * N_LANDMARKS, 2)


def _target(batch: int, vertices_fn, indices, seed: int = 1) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    yaw = torch.tensor([0.0, 1.2, -1.2]).expand(batch, 3) + 0.1 * torch.randn(batch, 3, generator=generator)
    angles = torch.stack([yaw, 0.1 * torch.randn(batch, 3, generator=generator), 0.1 * torch.randn(batch, 3, generator=generator)], -1)
    target = {
        "id": torch.randn(batch, N_ID, generator=generator),
        "exp": torch.randn(batch, N_EXP, generator=generator),
        "rotation": _rotations(angles),
        "translation": 0.1 * torch.randn(batch, 3, 2, generator=generator),
        "log_scale": 0.1 * torch.randn(batch, 3, generator=generator),
    }
    target["landmarks"] = project_landmarks(
        vertices_fn, indices, target["id"], target["exp"], target["rotation"], target["translation"], target["log_scale"]
    )
    return target


def test_losses_are_zero_for_a_perfect_prediction_and_positive_for_each_error():
    vertices_fn, indices = _linear_model()
    target = _target(2, vertices_fn, indices)
    perfect = mvfnet_losses(dict(target), target, vertices_fn, indices)
    assert all(value.item() == pytest.approx(0.0, abs=1e-10) for value in perfect.values())
    for key in ("id", "exp", "translation", "log_scale"):
        wrong = {**target, key: target[key] + 0.1}
        losses = mvfnet_losses(wrong, target, vertices_fn, indices)
        assert losses["landmark"] > 0 and losses["total"] > 0, key
        assert (losses["coefficient"] > 0) == (key in ("id", "exp")), key
        assert (losses["pose"] > 0) == (key in ("translation", "log_scale")), key
    turned = {**target, "rotation": _rotations(torch.tensor([0.1, 0.0, 0.0])) @ target["rotation"]}
    losses = mvfnet_losses(turned, target, vertices_fn, indices)
    assert losses["pose"] > 0 and losses["landmark"] > 0 and losses["coefficient"] == 0


def test_weights_scale_the_total():
    vertices_fn, indices = _linear_model()
    target = _target(2, vertices_fn, indices)
    wrong = {**target, "id": target["id"] + 0.2, "translation": target["translation"] - 0.1}
    losses = mvfnet_losses(wrong, target, vertices_fn, indices, LossWeights(coefficient=2.0, pose=0.5, landmark=3.0))
    expected = 2.0 * losses["coefficient"] + 0.5 * losses["pose"] + 3.0 * losses["landmark"]
    torch.testing.assert_close(losses["total"], expected)


def test_pose_loss_of_a_rotation_error_is_four_minus_four_cos():
    angle = 0.7
    truth = torch.eye(3).expand(1, 1, 3, 3)
    turned = _rotations(torch.tensor([[[0.0, angle, 0.0]]]))
    zeros2, zeros1 = torch.zeros(1, 1, 2), torch.zeros(1, 1)
    loss = pose_loss(turned, zeros2, zeros1, truth, zeros2, zeros1)
    assert loss.item() == pytest.approx(4 - 4 * math.cos(angle), rel=1e-6)


def test_landmark_loss_ignores_invisible_landmarks():
    truth = torch.randn(2, 3, 5, 2)
    pred = truth.clone()
    pred[0, 1, 3] += 10.0
    visible = torch.ones(2, 3, 5, dtype=torch.bool)
    visible[0, 1, 3] = False
    assert landmark_loss(pred, truth, visible).item() == 0.0
    assert landmark_loss(pred, truth).item() == pytest.approx(200.0 / 30)  # 10 off in x and in y
    pred[1, 0, 0] += 1.0
    assert landmark_loss(pred, truth, visible).item() == pytest.approx(2.0 / 29)


def test_landmark_indices_can_be_left_to_the_vertices_function():
    vertices_fn, indices = _linear_model()
    target = _target(2, vertices_fn, indices)
    only_landmarks = lambda i, e: vertices_fn(i, e)[:, indices]  # noqa: E731
    projected = project_landmarks(only_landmarks, None, target["id"], target["exp"], target["rotation"], target["translation"], target["log_scale"])
    torch.testing.assert_close(projected, target["landmarks"])


def test_a_few_dozen_steps_overfit_four_triplets():
    torch.manual_seed(0)
    vertices_fn, indices = _linear_model()
    target = _target(4, vertices_fn, indices)
    views = torch.rand(4, 3, 3, 64, 64)
    model = MVFNet(MVFNetConfig(image_size=64, width=8, n_id=N_ID, n_exp=N_EXP))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(40):
        losses = mvfnet_losses(model(views), target, vertices_fn, indices)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        history.append({k: v.item() for k, v in losses.items()})
    assert history[-1]["total"] < 0.05 * history[0]["total"]
    for key in ("coefficient", "pose", "landmark"):
        assert history[-1][key] < 0.1 * history[0][key], key
