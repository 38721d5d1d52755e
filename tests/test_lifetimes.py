"""What the user drops is freed: no module-level cache or class attribute
keeps a model, its arrays, an optimizer or an estimator alive."""
import gc
import weakref

import numpy as np
import pytest

import crnn
from crnn import optim


def dropped(make):
    """Weak references to what ``make()`` returns (a tuple), once the caller
    has dropped it: each must be dead after a collection."""
    made = make()
    refs = [weakref.ref(x) for x in made]
    del made
    gc.collect()
    return [r for r in refs if r() is not None]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_models_and_their_optimizers_are_freed(cell):
    def make():
        model = crnn.rnn.CELLS[cell](10, 10, 64, num_layers=2, seed=0)
        opt = optim.Adam(model.parameters())
        X = np.zeros((5, 3), dtype=np.int64)
        loss, _ = model.train_step(X, X, optimizer=opt, clip=1.0, clip_norm=1.0)
        model.forward_batch(X)
        grads = model.backward_batch(np.ones((5, 3, 10)))
        optim.clip_elementwise({k: grads[k] for k in model.parameters()}, 1.0)
        return model, opt, model._param_flat, model._grad_flat
    assert dropped(make) == []


def test_fitted_models_are_freed():
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(n), 2)) for n in rng.integers(2, 6, 20)]
    y = rng.integers(0, 2, 20)

    def make():
        model = crnn.GRU(2, 2, 8, seed=0)
        model.fit(X, y, epochs=2, progress=False)
        return model, model._param_flat
    assert dropped(make) == []


def test_scikit_learn_estimators_are_freed():
    pytest.importorskip("sklearn")
    from crnn.sklearn import RNNClassifier, RNNRegressor
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4, 2))

    def make():
        classifier = RNNClassifier(hidden_size=8, epochs=2, random_state=0).fit(X, X[:, 0, 0] > 0)
        regressor = RNNRegressor(hidden_size=8, epochs=2, random_state=0).fit(X, X[:, 0, 0])
        return (classifier, classifier.model_, classifier.optimizer_, regressor,
                regressor.model_, regressor.model_._param_flat)
    assert dropped(make) == []


def test_the_dropped_models_gradients_leave_no_cache_entry():
    # the optimizers' layout cache remembers arrays weakly: a dropped model's
    # entries go with it, and a new model of the same ids is not mistaken for it
    for _ in range(3):
        model = crnn.RNN(3, 2, 4, seed=0)
        opt = optim.SGD(model.parameters(), lr=0.1)
        opt.step(model.gradients())
        del model, opt
        gc.collect()
    assert all(all(ref() is not None for ref in refs)
               for refs, _ in optim._flat_base.known.values())
