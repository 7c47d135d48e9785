"""mimdsim.snn.lowering.kept: the loss's exchanges are kept across lowerings (same objects for equal inputs), the
programs are the same as without the cache, the cache is bounded and refuses arguments it cannot key."""

from __future__ import annotations

import numpy as np
import pytest

import mimdsim.snn.lowering.kept as kept
from mimdsim.arch import load_machine
from mimdsim.partition import partition_layers
from mimdsim.program.exchange_builder import ExchangeBuilder
from mimdsim.program.ir import Superstep
from mimdsim.program.serialize import program_to_dict
from mimdsim.snn.activity import cache
from mimdsim.snn.lowering.lower import LoweringOptions, lower_snn
from mimdsim.snn.model.spec import snn_from_sizes
from mimdsim.studies.estimate import estimate_training_step, saturated_activity

MACHINE = load_machine("bow", tiles_per_ipu=32)
LOSS = ("loss.s2d", "loss.sum_time_xent", "loss.grad_broadcast", "loss.s2d_grad", "loss.s2d_grad.out")


def _spec(a: float, sizes: tuple[int, ...] = (64, 24, 24, 4)) -> object:
    return snn_from_sizes(list(sizes), max_activity=a, input_sparse_size=8, batch_size=6, n_timesteps=3, name="kept")


def _lower(spec: object) -> object:
    mapping = partition_layers(spec.layer_sizes[1:], MACHINE.tiles_per_ipu, MACHINE.n_ipus)  # type: ignore[attr-defined]
    return lower_snn(spec, MACHINE, mapping, saturated_activity(spec), LoweringOptions(passes="as-issued"))  # type: ignore[arg-type]


def _loss_exchanges(program: object) -> dict[str, object]:
    steps = program.iter_static()  # type: ignore[attr-defined]
    return {s.name: s.exchange for s in steps if isinstance(s, Superstep) and s.name in LOSS}


def test_another_max_activity_gets_the_same_loss_exchanges_and_the_same_program() -> None:
    """The hidden layers' sparse sizes change with the max activity, the output layer's do not: the loss's five
    exchanges are the objects of the first lowering; the program is byte for byte the one lowered with no cache."""
    cache.clear()
    first, second = _lower(_spec(0.25)), _lower(_spec(0.5))
    a, b = _loss_exchanges(first), _loss_exchanges(second)
    assert sorted(a) == sorted(LOSS) and all(a[k] is b[k] for k in LOSS)
    assert len({id(x) for x in a.values()}) == len(LOSS)  # one per step, as without the cache
    cache.clear()  # empties the kept exchanges too
    fresh = _lower(_spec(0.5))
    assert all(_loss_exchanges(fresh)[k] is not b[k] for k in LOSS)
    assert program_to_dict(fresh) == program_to_dict(second)  # type: ignore[arg-type]


def test_another_output_layer_gets_its_own_exchanges() -> None:
    """6 output neurons instead of 4: the rows to and from the logits carry 6 floats (new exchanges); the rows'
    reads of the output spikes are the same (the sparse size is 2 either way), and so is their exchange."""
    cache.clear()
    a = _loss_exchanges(_lower(_spec(0.25)))
    b = _loss_exchanges(_lower(_spec(0.25, (64, 24, 24, 6))))
    assert a["loss.sum_time_xent"] is not b["loss.sum_time_xent"] and a["loss.grad_broadcast"] is not b["loss.grad_broadcast"]
    assert b["loss.sum_time_xent"].nbytes.tolist() == [6 * 4] * b["loss.sum_time_xent"].n_transfers  # type: ignore[attr-defined]
    assert a["loss.s2d"] is b["loss.s2d"]


def test_estimates_with_kept_exchanges_are_those_without() -> None:
    cache.clear()
    warm = [estimate_training_step(_spec(a), MACHINE).result.total_cycles for a in (0.25, 0.5, 0.25)]  # type: ignore[arg-type]
    cold = []
    for a in (0.25, 0.5, 0.25):
        cache.clear()
        cold.append(estimate_training_step(_spec(a), MACHINE, cache=False).result.total_cycles)  # type: ignore[arg-type]
    assert warm == cold


def _ring(n: int, nbytes: int) -> ExchangeBuilder:
    tr = ExchangeBuilder()
    tr.unicast(np.arange(n), (np.arange(n) + 1) % n, nbytes)
    return tr


def test_the_cache_is_bounded_and_skips_large_exchanges(monkeypatch: pytest.MonkeyPatch) -> None:
    kept.clear()
    monkeypatch.setattr(kept, "KEPT_EXCHANGES", 2)
    first = kept.kept_exchange("r", _ring, 3, 4)
    kept.kept_exchange("r", _ring, 4, 4)
    assert kept.kept_exchange("r", _ring, 3, 4) is first  # used last: kept
    kept.kept_exchange("r", _ring, 5, 4)  # the ring of 4 goes
    assert kept.kept_exchange("r", _ring, 3, 4) is first
    assert len(kept._KEPT) == 2
    monkeypatch.setattr(kept, "KEPT_MAX_TRANSFERS", 4)
    assert kept.kept_exchange("r", _ring, 6, 4) is not kept.kept_exchange("r", _ring, 6, 4)
    assert kept.kept_exchange("s", _ring, 3, 4) is not first  # another name: another exchange
    assert kept.kept_exchange("r", _ring, 3, 8) is not first
    kept.clear()


def test_an_argument_without_a_content_key_is_refused() -> None:
    with pytest.raises(TypeError, match="no content key"):
        kept.kept_exchange("r", lambda xs: _ring(len(xs), 4), [1, 2, 3])


def test_an_estimate_without_cache_neither_reads_nor_fills_the_kept_exchanges() -> None:
    kept.clear()
    estimate_training_step(_spec(0.25), MACHINE, cache=False)  # type: ignore[arg-type]
    assert not kept._KEPT
    warm = estimate_training_step(_spec(0.25), MACHINE)  # type: ignore[arg-type]
    assert len(kept._KEPT) == len(LOSS)
    cold = estimate_training_step(_spec(0.25), MACHINE, cache=False)  # type: ignore[arg-type]
    kept_ids = {id(e) for e in kept._KEPT.values()}

    def exchange_ids(program: object) -> set[int]:
        return {id(s.exchange) for s in program.iter_static() if isinstance(s, Superstep) and s.exchange is not None}  # type: ignore[attr-defined]

    assert exchange_ids(warm.program) & kept_ids and not exchange_ids(cold.program) & kept_ids
    assert cold.result.total_cycles == warm.result.total_cycles
    kept.clear()
