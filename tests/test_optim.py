"""Optimizers and clipping against their formulas in NumPy, on the flat fast
path (a model's parameters) and on separate arrays, on every kernel path."""
import numpy as np
import pytest

import crnn
from crnn import optim


def numpy_steps(name, p, grads, settings):
    """The optimizer's update written out in NumPy, one step per gradient."""
    p = p.astype(np.float64).copy()
    s1, s2 = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if name == "SGD":
            g = g + settings.get("weight_decay", 0) * p
            mu = settings.get("momentum", 0)
            if mu:
                s1 = mu * s1 + g
                p -= settings["lr"] * (g + mu * s1 if settings.get("nesterov") else s1)
            else:
                p -= settings["lr"] * g
        elif name == "Adagrad":
            s1 += g * g
            p -= settings["lr"] * g / np.sqrt(s1 + settings.get("eps", 1e-8))
        elif name == "RMSprop":
            rho = settings.get("rho", 0.9)
            s1 = rho * s1 + (1 - rho) * g * g
            p -= settings["lr"] * g / (np.sqrt(s1) + settings.get("eps", 1e-8))
        else:  # Adam, AdamW
            b1, b2 = settings.get("betas", (0.9, 0.999))
            wd = settings.get("weight_decay", 0.01 if name == "AdamW" else 0.0)
            if name == "AdamW":
                p -= settings["lr"] * wd * p
            else:
                g = g + wd * p
            s1 = b1 * s1 + (1 - b1) * g
            s2 = b2 * s2 + (1 - b2) * g * g
            m_hat, v_hat = s1 / (1 - b1 ** t), s2 / (1 - b2 ** t)
            p -= settings["lr"] * m_hat / (np.sqrt(v_hat) + settings.get("eps", 1e-8))
    return p


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, eps=1e-8)),
    ("RMSprop", dict(lr=0.01, rho=0.8)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,settings", CASES)
def test_matches_its_formula_on_a_model(name, settings, dtype, kernel):
    rnn = crnn.RNN(3, 2, 4, dtype=dtype, seed=0)
    start = {k: v.copy() for k, v in rnn.parameters().items()}
    opt = optim.OPTIMIZERS[name](rnn.parameters(), **settings)
    assert opt._flat_params is not None  # one call for every parameter
    rng = np.random.default_rng(0)
    grads_seen = {k: [] for k in start}
    for _ in range(3):
        for k, g in rnn.gradients().items():
            g[...] = rng.standard_normal(g.shape)
            grads_seen[k].append(g.copy())
        opt.step(rnn.gradients())
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for k in start:
        np.testing.assert_allclose(rnn.parameters()[k],
                                   numpy_steps(name, start[k], grads_seen[k], settings),
                                   rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("name,settings", CASES)
def test_separate_arrays_give_the_same_as_the_flat_path(name, settings, kernel):
    rng = np.random.default_rng(1)
    params = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    flat = np.concatenate([params["a"].ravel(), params["b"]])
    flat_params = {"a": flat[:12].reshape(3, 4), "b": flat[12:]}
    opt_sep = optim.OPTIMIZERS[name](params, **settings)
    opt_flat = optim.OPTIMIZERS[name](flat_params, **settings)
    assert opt_sep._flat_params is None and opt_flat._flat_params is flat
    for _ in range(3):
        grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
        opt_sep.step(grads)
        opt_flat.step(grads)
    np.testing.assert_array_equal(params["a"], flat_params["a"])
    np.testing.assert_array_equal(params["b"], flat_params["b"])


@pytest.mark.parametrize("name,settings", CASES)
def test_state_round_trip_continues_the_same(name, settings):
    rng = np.random.default_rng(2)
    grads = [{"w": rng.standard_normal(6)} for _ in range(4)]
    p1, p2 = {"w": np.ones(6)}, {"w": np.ones(6)}
    a = optim.OPTIMIZERS[name](p1, **settings)
    for g in grads[:2]:
        a.step(g)
    p2["w"][...] = p1["w"]
    b = optim.OPTIMIZERS[name](p2, **settings)
    b.load_state_dict(a.state_dict())
    assert b.step_count == 2
    for g in grads[2:]:
        a.step(g)
        b.step(g)
    np.testing.assert_array_equal(p1["w"], p2["w"])


def test_bad_settings_and_gradients():
    p = {"w": np.ones(3)}
    with pytest.raises(ValueError, match="lr must be a positive finite number, got -1.0"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        optim.SGD(p, nesterov=True)
    with pytest.raises(TypeError, match="non-empty dict"):
        optim.Adam([np.ones(3)])
    with pytest.raises(TypeError, match="float32 or float64"):
        optim.Adam({"w": np.ones(3, dtype=int)})
    opt = optim.Adam(p)
    with pytest.raises(ValueError, match=r"grads\['w'\] must have shape \(3,\), got \(4,\)"):
        opt.step({"w": np.ones(4)})
    with pytest.raises(ValueError, match=r"grads has no entry for \['w'\]"):
        opt.step({})
    with pytest.raises(ValueError, match="optimizer state is for 'Adagrad', not Adam"):
        opt.load_state_dict(optim.Adagrad(p).state_dict())
    with pytest.raises(TypeError, match=r"betas must be a pair of numbers in \[0, 1\), such as "
                                        r"\(0.9, 0.999\), got 0.9"):
        optim.Adam(p, betas=0.9)
    with pytest.raises(ValueError, match="weight_decay must be a non-negative finite number"):
        optim.AdamW(p, weight_decay=float("nan"))
    with pytest.raises(TypeError, match="nesterov must be True or False, got 'yes'"):
        optim.SGD(p, momentum=0.9, nesterov="yes")
    # NumPy's scalars are numbers like any other
    opt = optim.Adam(p, lr=np.float32(0.01), betas=np.array([0.8, 0.9]), eps=np.float64(1e-7))
    assert (opt.lr, opt.beta1, opt.beta2) == (np.float32(0.01), 0.8, 0.9)


@pytest.mark.parametrize("change,error,message", [
    ({"lr": float("nan")}, ValueError, "optimizer state's lr must be a positive finite number, got nan"),
    ({"lr": -0.1}, ValueError, "optimizer state's lr must be a positive finite number"),
    ({"lr": "0.1"}, TypeError, "optimizer state's lr must be a real number, got '0.1'"),
    ({"beta2": 1.0}, ValueError, r"optimizer state's beta2 must be in \[0, 1\), got 1.0"),
    ({"step_count": -3}, ValueError, r"step_count must be an integer in \[0, "),
    ({"step_count": 2.5}, TypeError, "step_count must be a non-negative integer, got float"),
    ({"state/m": np.zeros(4)}, ValueError, r"'state/m' has shape \(4,\), expected \(3,\)"),
    ({"state/v": None}, TypeError, r"'state/v' must be an array of floats, got NoneType"),
    ({"state/extra": np.zeros(3)}, ValueError, r"entries Adam does not: \['state/extra'\]"),
    ({"type": None}, ValueError, "optimizer state is for None, not Adam"),
])
def test_a_refused_optimizer_state_changes_nothing(change, error, message):
    p = {"w": np.ones(3)}
    opt = optim.Adam(p, lr=0.01)
    opt.step({"w": np.full(3, 0.5)})
    before = opt.state_dict()
    record = {**optim.Adam(p, lr=0.2).state_dict(), **change}
    with pytest.raises(error, match=message):
        opt.load_state_dict(record)
    after = opt.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
    with pytest.raises(TypeError, match="optimizer state must be a dict, as state_dict"):
        opt.load_state_dict(None)


def test_an_sgd_takes_the_velocity_of_a_state_with_momentum():
    p, q = {"w": np.ones(3)}, {"w": np.ones(3)}
    moving = optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)
    moving.step({"w": np.ones(3)})
    plain = optim.SGD(q, lr=0.5)
    plain.load_state_dict(moving.state_dict())
    assert (plain.lr, plain.momentum, plain.nesterov) == (0.1, 0.9, True)
    p_before, q_before = p["w"].copy(), q["w"].copy()
    plain.step({"w": np.ones(3)})
    moving.step({"w": np.ones(3)})
    np.testing.assert_array_equal(q["w"] - q_before, p["w"] - p_before)  # the same update
    np.testing.assert_array_equal(plain.state["velocity"], moving.state["velocity"])


def test_clipping_refuses_what_it_cannot_change_and_changes_views_in_place():
    with pytest.raises(TypeError, match=r"clip_elementwise: grads\['w'\] must be a float32 or "
                                        "float64 array, got list"):
        optim.clip_elementwise({"w": [1.0, 20.0]}, 5.0)
    with pytest.raises(TypeError, match=r"clip_global_norm: grads\['w'\] must be a float32 or "
                                        "float64 array, got a float16 array"):
        optim.clip_global_norm({"w": np.ones(3, dtype=np.float16)}, 1.0)
    with pytest.raises(TypeError, match="takes a dict of gradient arrays by name, got list"):
        optim.clip_elementwise([np.ones(3)], 1.0)
    read_only = np.ones(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\['w'\] is read-only"):
        optim.clip_elementwise({"w": read_only}, 1.0)
    # a non-contiguous view (every other column) is clipped where it lies
    whole = np.arange(-10.0, 10.0).reshape(4, 5)
    view = whole[:, ::2]
    expected = whole.copy()
    expected[:, ::2] = np.clip(expected[:, ::2], -3, 3)
    optim.clip_elementwise({"w": view}, 3.0)
    np.testing.assert_array_equal(whole, expected)
    whole = np.arange(-10.0, 10.0).reshape(4, 5)
    view, other = whole[:, ::2], np.ones(2)
    expected = np.sqrt(np.sum(view ** 2) + 2)
    norm = optim.clip_global_norm({"w": view, "v": other}, 1.0)
    assert norm == pytest.approx(expected)
    assert np.sqrt(np.sum(whole[:, ::2] ** 2) + np.sum(other ** 2)) == pytest.approx(1.0)
    np.testing.assert_array_equal(whole[:, 1::2], np.arange(-10.0, 10.0).reshape(4, 5)[:, 1::2])


def test_clipping(kernel):
    rng = np.random.default_rng(3)
    rnn = crnn.RNN(3, 2, 4, seed=0)
    grads = rnn.gradients()
    for g in grads.values():
        g[...] = rng.standard_normal(g.shape) * 10
    values = np.concatenate([g.ravel() for g in grads.values()])
    optim.clip_elementwise(grads, 5.0)
    np.testing.assert_array_equal(np.concatenate([g.ravel() for g in grads.values()]),
                                  np.clip(values, -5, 5))
    norm = optim.clip_global_norm(grads, 1.0)
    clipped = np.concatenate([g.ravel() for g in grads.values()])
    assert norm == pytest.approx(np.linalg.norm(np.clip(values, -5, 5)))
    assert np.linalg.norm(clipped) == pytest.approx(1.0)
    with_nan = {"w": np.array([np.nan, 7.0, -7.0, 1.0, np.inf])}
    optim.clip_elementwise(with_nan, 5.0)
    assert np.isnan(with_nan["w"][0])
    np.testing.assert_array_equal(with_nan["w"][1:], [5.0, -5.0, 1.0, 5.0])
    separate = {"a": np.full(4, 3.0), "b": np.full(4, 4.0)}  # norm 10
    assert optim.clip_global_norm(separate, 20.0) == pytest.approx(10.0)
    assert separate["a"][0] == 3.0  # under the limit: unchanged
