"""The benchmark harness's logic, without timing anything: FLOP counts of the tutorial models, the
aggregation and the table, the JSON output, option parsing, the entry point's dispatch, and the
step profiler's bookkeeping (driven by a fake clock). Needs neither PyTorch nor TensorFlow."""
import json
import os
import sys
import time

import numpy as np
import pytest

from bench import epoch, run as bench_run, specs, stepprofile, worker


# ---- FLOPs -------------------------------------------------------------------------------------
def test_forward_flops_by_hand():
    assert specs.forward_flops("dnn") == [("dense1 784->128", 2 * 784 * 128),
                                          ("dense2 128->10", 2 * 128 * 10)]
    assert specs.forward_flops("cnn") == [
        ("conv1 28x28x1->32", 2 * 26 * 26 * 32 * 3 * 3 * 1),
        ("conv2 13x13x32->64", 2 * 11 * 11 * 64 * 3 * 3 * 32),
        ("conv3 5x5x64->64", 2 * 3 * 3 * 64 * 3 * 3 * 64),
        ("dense1 576->64", 2 * 576 * 64),
        ("dense2 64->10", 2 * 64 * 10)]


def test_train_flops_first_layer_2x_others_3x():
    assert specs.train_flops_per_image("dnn") == 2 * 200_704 + 3 * 2_560 == 409_088
    assert specs.train_flops_per_image("cnn") == \
        2 * 389_376 + 3 * (4_460_544 + 663_552 + 73_728 + 1_280) == 16_376_064
    # the "one CNN training epoch is ~1.0 TFLOP"
    assert specs.train_flops_per_image("cnn") * specs.TRAIN_IMAGES == pytest.approx(0.98e12, rel=0.01)


def test_bn_and_mobilenet_flops_by_hand():
    # BatchNormalization and ReLU count nothing: the CNN with BN costs what the CNN costs
    assert specs.forward_flops("cnn_bn") == specs.forward_flops("cnn")
    assert specs.forward_flops("mobilenet") == [
        ("conv1 32x32x3->32", 2 * 32 * 32 * 32 * 3 * 3 * 3),
        ("sep1 32x32x32->64", 2 * 32 * 32 * 32 * (9 + 64)),
        ("sep2 32x32x64->128 /2", 2 * 16 * 16 * 64 * (9 + 128)),
        ("sep3 16x16x128->128", 2 * 16 * 16 * 128 * (9 + 128)),
        ("sep4 16x16x128->256 /2", 2 * 8 * 8 * 128 * (9 + 256)),
        ("dense1 256->10", 2 * 256 * 10)]
    rows = specs.forward_flops("mobilenet")
    assert specs.train_flops_per_image("mobilenet") == 2 * rows[0][1] + 3 * sum(f for _, f in rows[1:])
    assert specs.train_images("mobilenet") == 50_000 and specs.train_images("cnn_bn") == 60_000


def test_layer_shapes_same_padding_and_strides():
    shapes = [(kind, outs) for kind, _, _, outs in specs.layer_shapes("mobilenet")]
    assert shapes[0] == ("conv", (32, 32, 32)) and shapes[1] == ("bn", (32, 32, 32))
    assert [o for k, o in shapes if k == "sepconv"] == [(32, 32, 64), (16, 16, 128), (16, 16, 128), (8, 8, 256)]
    assert shapes[-2:] == [("gap", (256,)), ("dense", (10,))]
    assert specs._conv_out(7, 3, 2, "same") == 4 and specs._conv_out(7, 3, 2, "valid") == 3


@pytest.mark.parametrize("model", list(specs.MODELS))
def test_specs_match_the_pyconv_model(model):
    """The shapes and parameter counts the FLOPs come from are those of the model pyconv builds."""
    from pyconv import layers, models
    m = worker.keras_like_model(layers, models, model)
    shapes = [tuple(l.output_shape[1:]) for l in m.layers]
    assert shapes == [outs for *_, outs in specs.layer_shapes(model)]
    assert m.count_params() == specs.params(model) == \
        {"dnn": 101_770, "cnn": 93_322, "cnn_bn": 93_322 + 4 * (32 + 64 + 64), "mobilenet": 69_034}[model]


@pytest.mark.parametrize("model", ["cnn_bn", "mobilenet"])
def test_specs_match_the_torch_model(model):
    """PyTorch's model has the same weights (BN's moving statistics are its buffers) and output."""
    torch = pytest.importorskip("torch")
    net = worker.torch_model(torch, model, channels_last=True)
    h, w, c = specs.MODELS[model]["input"]
    assert net(torch.zeros((2, c, h, w))).shape == (2, 10)
    count = sum(p.numel() for p in net.parameters()) + sum(
        b.numel() for b in net.buffers() if b.dtype == torch.float32)
    assert count == specs.params(model)
    bns = [mod for mod in net if isinstance(mod, torch.nn.BatchNorm2d)]
    assert len(bns) == sum(k == "bn" for k, *_ in specs.MODELS[model]["layers"])
    assert all(b.eps == 1e-3 and b.momentum == pytest.approx(0.01) for b in bns)


# ---- data -----------------------------------------------------------------------------------------
def test_synthetic_cifar10_shape_range_and_repeatability():
    (x, y), (xt, yt) = epoch.synthetic_cifar10(40, 20, seed=3)
    assert x.shape == (40, 32, 32, 3) and xt.shape == (20, 32, 32, 3) and x.dtype == np.float32
    assert y.shape == (40,) and set(np.unique(np.concatenate([y, yt]))) <= set(range(10))
    assert 0.0 <= x.min() and x.max() <= 1.0
    (x2, y2), _ = epoch.synthetic_cifar10(40, 20, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    # learnable: images of one class are closer to their class mean than to another class's
    (x, y), _ = epoch.synthetic_cifar10(400, 1, seed=0)
    means = np.stack([x[y == k].mean(0) for k in range(10)])
    d = ((x[:, None] - means[None]) ** 2).sum(axis=(2, 3, 4))
    assert (d.argmin(1) == y).mean() > 0.9


def test_prepare_data_falls_back_to_synthetic_cifar10(tmp_path, monkeypatch):
    from pyconv import datasets

    def absent():
        raise datasets.DatasetNotFoundError("no CIFAR-10 here")
    monkeypatch.setattr(datasets.cifar10, "load_data", absent)
    monkeypatch.setattr(datasets.fashion_mnist, "load_data", lambda: (
        (np.full((5, 28, 28), 255, np.uint8), np.arange(5)), (np.zeros((3, 28, 28), np.uint8), np.arange(3))))
    sets = epoch.prepare_data(str(tmp_path), ["cifar10", "fashion_mnist"], n_train=64)
    assert sets == {"cifar10": {"train": 64, "test": 10_000, "source": "synthetic"},
                    "fashion_mnist": {"train": 5, "test": 3, "source": "real"}}
    cfg = {"data": str(tmp_path), "model": "cnn_bn", "n_train": 4, "n_test": 2}
    x, y, xt, yt = worker.load(cfg)
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0 and list(y) == [0, 1, 2, 3]
    assert xt.shape == (2, 28, 28, 1)
    x, y, xt, yt = worker.load(dict(cfg, model="mobilenet", n_train=64, n_test=0))
    assert x.shape == (64, 32, 32, 3) and xt.shape == (0, 32, 32, 3)
    x, *_ = worker.load(dict(cfg, model="dnn"))
    assert x.shape == (4, 28, 28)


# ---- aggregation, table, JSON ---------------------------------------------------------------------
def fake_runs():
    runs = []
    for rep, (tp, tt) in enumerate([(1.0, 2.0), (3.0, 2.5), (2.0, 3.0)]):
        runs.append(dict(model="cnn", framework="pyconv", epoch_seconds=[tp], test_accuracy=0.80 + rep / 100,
                         peak_rss_mib=300.0 + rep, version="0.1.0"))
        runs.append(dict(model="cnn", framework="torch", epoch_seconds=[tt], test_accuracy=0.81,
                         peak_rss_mib=900.0, version="2.13.0", torch_format="channels_last"))
    runs.append(dict(model="cnn", framework="pyconv", error="exit 1: boom"))
    return runs


def test_summarize_medians_extrapolation_and_ratio():
    rows = epoch.summarize(fake_runs(), ["cnn"], ["pyconv", "torch", "tf"], n_train=6_000, roofline=200.0,
                           imports={"pyconv": 0.1, "torch": 1.0}, status={"tf": "not installed"})
    py, th, tf = rows
    assert py["measured_s"] == 2.0 and th["measured_s"] == 2.5           # medians over repeats
    assert py["s_per_epoch"] == pytest.approx(20.0)                      # x 60,000 / 6,000
    assert py["samples_per_s"] == pytest.approx(3_000.0)
    assert py["vs_torch"] == pytest.approx(0.8) and th["vs_torch"] == 1.0
    assert py["gflops"] == pytest.approx(16_376_064 * 6_000 / 2.0 / 1e9)
    assert py["pct_roofline"] == pytest.approx(100 * py["gflops"] / 200.0)
    assert py["peak_rss_mib"] == 302.0 and py["test_accuracy"] == pytest.approx(0.81)
    assert py["errors"] == 1 and py["runs"] == 3
    assert th["torch_format"] == "channels_last"
    assert tf["status"] == "not installed" and "s_per_epoch" not in tf


def test_summarize_without_torch_and_with_only_failures():
    runs = [dict(model="dnn", framework="pyconv", epoch_seconds=[0.5], test_accuracy=0.8,
                 peak_rss_mib=250.0, version="0.1.0"),
            dict(model="dnn", framework="tf", error="exit 1: ImportError: x")]
    rows = epoch.summarize(runs, ["dnn"], ["pyconv", "tf"], n_train=60_000, roofline=float("nan"))
    assert rows[0]["vs_torch"] is None and rows[0]["pct_roofline"] is None
    assert rows[1]["status"] == "exit 1: ImportError: x"


def test_format_table():
    rows = epoch.summarize(fake_runs(), ["cnn"], ["pyconv", "torch", "tf"], n_train=6_000, roofline=200.0,
                           imports={"pyconv": 0.1, "torch": 1.0}, status={"tf": "not installed"})
    lines = epoch.format_table(rows).splitlines()
    assert lines[0].startswith("| model | framework | s/epoch | samples/s | x PyTorch | GFLOP/s | % roofline")
    assert len(lines) == 5 and all(l.count("|") == 11 for l in lines)
    assert lines[2] == "| CNN | pyconv | 20.00 | 3,000 | 0.80 | 49.1 | 24.6 | 302 | 0.10 | 0.8100 |"
    assert lines[3].startswith("| CNN | PyTorch (channels_last) | 25.00 | 2,400 | 1.00 |")
    assert lines[4] == "| CNN | TensorFlow | not installed | | | | | | - | |"


def fake_info():
    return {"machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11"}, "threads": 2, "repeats": 3,
            "epochs": 1, "models": ["dnn", "cnn"], "frameworks": ["pyconv", "torch", "tf"],
            "versions": {"pyconv": "0.1.0", "torch": "2.13.0", "tf": "not installed"},
            "n_train": 6_400, "n_test": 2_000, "roofline_gflops": 190.0,
            "torch_calibration": {"cnn": {"NCHW": 5.0, "channels_last": 4.0}},
            "torch_format": {"dnn": "NCHW", "cnn": "channels_last"},
            "import_pyconv_s": 0.09, "baseline_rss_mib": {"fashion_mnist": 230.0}}


def test_report_per_data_set_and_model():
    info = dict(fake_info(), models=["mobilenet", "cnn_bn"], n_train={"mobilenet": 640, "cnn_bn": 60_000},
                n_test={"mobilenet": 2_000, "cnn_bn": 10_000},
                data={"cifar10": {"source": "synthetic"}, "fashion_mnist": {"source": "real"}},
                torch_calibration={"mobilenet": {"error": "boom"}, "cnn_bn": {"NCHW": 3.0, "channels_last": 4.0}},
                torch_format={"mobilenet": "NCHW", "cnn_bn": "NCHW"})
    text = epoch.header(info)
    assert "Data: CIFAR-10 (SYNTHETIC: the real set is absent;" in text
    assert "640 training images per epoch (s/epoch extrapolated to 50,000), 2,000 test images" in text
    assert "Data: Fashion-MNIST, 60,000 training images per epoch, 10,000 test images" in text
    assert "PyTorch memory format (MobileNet-style): calibration failed (boom); NCHW used" in text
    assert "(CNN+BN, ms/step): NCHW 3.00, channels_last 4.00 -> NCHW used" in text
    fl = specs.train_flops_per_image("mobilenet")
    assert f"MobileNet-style: {fl / 1e6:.3f} MFLOP per image" in text
    assert f"{fl * 50_000 / 1e12:.3f} TFLOP per epoch" in text


def test_summarize_extrapolates_each_model_to_its_data_set():
    runs = [dict(model=m, framework="pyconv", epoch_seconds=[2.0], test_accuracy=0.5, peak_rss_mib=1.0)
            for m in ("mobilenet", "cnn_bn")]
    rows = epoch.summarize(runs, ["mobilenet", "cnn_bn"], ["pyconv"], n_train={"mobilenet": 500, "cnn_bn": 600},
                           roofline=100.0)
    assert rows[0]["s_per_epoch"] == pytest.approx(2.0 * 50_000 / 500)
    assert rows[1]["s_per_epoch"] == pytest.approx(2.0 * 60_000 / 600)
    assert rows[0]["gflops"] == pytest.approx(specs.train_flops_per_image("mobilenet") * 500 / 2.0 / 1e9)
    assert epoch.format_table(rows).splitlines()[2].startswith("| MobileNet-style | pyconv | 200.00 |")


def test_report_says_how_flops_are_counted_and_what_ran():
    text = epoch.report(fake_info(), [])
    assert "3x forward per layer" in text and "2x for the first layer" in text
    assert "extrapolated to 60,000" in text and "Test CPU, 2 cores" in text
    assert "0.983 TFLOP per epoch" in text and "0.409 MFLOP" in text
    assert "PyTorch memory format (CNN, ms/step): NCHW 5.00, channels_last 4.00 -> channels_last used" in text
    assert "Data: Fashion-MNIST, 6,400 training images per epoch (s/epoch extrapolated to 60,000), 2,000 test" in text
    assert "peaks at 230 MiB (Fashion-MNIST)" in text and "SYNTHETIC" not in text
    assert "TensorFlow not installed" in text and "`import pyconv` alone: 0.090 s" in text
    assert "DISTURBED" not in text
    text = epoch.report(dict(fake_info(), roofline_other_load=0.9, max_other_load=0.3), [])
    assert "190 GFLOP/s (2 thread(s)) -- DISTURBED: other processes kept 0.90 cores busy" in text


def test_roofline_is_remeasured_while_disturbed(monkeypatch):
    loads = iter([0.0, 1.0, 2.0, 2.0, 2.0, 2.0])       # busy CPU-seconds: disturbed, then quiet
    walls = iter([0.0, 1.0, 10.0, 11.0])
    monkeypatch.setattr(epoch, "busy_cpu_seconds", lambda: next(loads))
    monkeypatch.setattr(epoch, "children_cpu_seconds", lambda: 0.0)
    monkeypatch.setattr(epoch.time, "perf_counter", lambda: next(walls))
    monkeypatch.setattr(epoch.time, "sleep", lambda s: None)
    values = iter([150.0, 190.0])
    best, load = epoch.roofline(lambda threads: next(values), 2, 0.3, 2, log=lambda *a, **k: None)
    assert best == 190.0 and load == 0.0


def test_json_output_round_trips(tmp_path):
    rows = epoch.summarize(fake_runs(), ["cnn"], ["pyconv", "torch"], n_train=6_000, roofline=200.0)
    path = tmp_path / "out.json"
    path.write_text(epoch.to_json(fake_info(), rows, fake_runs()))
    data = json.loads(path.read_text())
    assert set(data) == {"info", "rows", "runs"}
    assert data["rows"][0]["s_per_epoch"] == pytest.approx(20.0)
    assert data["info"]["torch_format"]["cnn"] == "channels_last" and len(data["runs"]) == 7


# ---- options and dispatch ----------------------------------------------------------------------------
def test_parse_list():
    assert epoch.parse_list("pyconv, PyTorch,tensorflow,torch", epoch.FRAMEWORKS, "frameworks") == \
        ["pyconv", "torch", "tf"]
    with pytest.raises(Exception, match="--models takes a comma-separated list of dnn, cnn; received 'mlp'"):
        epoch.parse_list("mlp", ("dnn", "cnn"), "models")
    assert epoch.parse_list("mobilenet,cnn_bn", tuple(specs.MODELS), "models") == ["mobilenet", "cnn_bn"]


def test_options():
    import argparse
    ap = argparse.ArgumentParser()
    epoch.add_arguments(ap)
    a = ap.parse_args(["--quick", "--models", "cnn", "--frameworks", "pyconv,tf", "--json", "x.json"])
    assert a.quick and a.models == ["cnn"] and a.frameworks == ["pyconv", "tf"] and a.json == "x.json"
    assert a.repeats is None and a.epochs == 1 and a.threads >= 1


def test_entry_point_dispatch(monkeypatch):
    from bench import kernels
    seen = {}
    monkeypatch.setattr(kernels, "main", lambda argv: seen.setdefault("layers", argv))
    monkeypatch.setattr(stepprofile, "main", lambda argv: seen.setdefault("profile", argv) and 0)
    monkeypatch.setattr(epoch, "main", lambda argv: seen.setdefault("epoch", argv) and 0)
    bench_run.main(["--layers", "--batch", "32"])
    bench_run.main(["--quick", "--profile"])
    bench_run.main(["--quick"])
    from bench import onnx_infer
    monkeypatch.setattr(onnx_infer, "main", lambda argv: seen.setdefault("onnx", argv) and 0)
    bench_run.main(["--onnx", "--batches", "1"])
    assert seen == {"layers": ["--batch", "32"], "profile": ["--quick"], "epoch": ["--quick"],
                    "onnx": ["--batches", "1"]}
    seen.clear()
    bench_run.main(["--inference", "--models", "dnn"])
    assert seen == {"onnx": ["--models", "dnn"]}
    from bench import scaling
    monkeypatch.setattr(scaling, "main", lambda argv: seen.setdefault("scaling", argv) and 0)
    bench_run.main(["--scaling", "--seconds", "5"])
    assert seen["scaling"] == ["--seconds", "5"]
    from bench import ab
    monkeypatch.setattr(ab, "main", lambda argv: seen.setdefault("ab", argv) and 0)
    bench_run.main(["--ab", "HEAD~1", "--rounds", "3"])
    assert seen["ab"] == ["HEAD~1", "--rounds", "3"]


def test_ab_alternates_the_builds_round_by_round(monkeypatch):
    """bench --ab's timing loop, on this tree's package twice (building REV is not a unit test):
    every round times each build once, the first in even rounds, the second in odd ones."""
    import argparse
    import pyconv
    from bench import ab
    order = []
    monkeypatch.setattr(ab, "step_seconds", lambda m, x, y, steps: order.append(m) or 1e-3)
    args = argparse.Namespace(steps=2, rounds=3, threads=1, seed=0)
    t0, t1 = ab.compare((pyconv, pyconv), "dnn", args)
    assert t0 == t1 == [1e-3] * 3
    first, second = order[0], order[1]   # the two warm-ups, then the rounds
    assert first is not second and order[2:] == [first, second, second, first, first, second]
    with pytest.raises(SystemExit):
        ab.main(["HEAD", "--models", "cnn,nope"])


def test_scaling_counts_quiet_chunks_and_adjacent_pairs():
    from bench import scaling
    # (threads, ms/step, other load): a disturbed 2-thread chunk and a disturbed 1-thread one
    recs = [(1, 4.0, 0.0), (2, 2.0, 0.0), (1, 4.4, 0.0), (2, 9.0, 1.2), (1, 8.0, 0.9), (2, 2.2, 0.05)]
    s = scaling.summarize(recs, [1, 2], 0.1)
    assert (s["chunks"], s["quiet"]) == (6, 4)
    one, two = s["by_threads"][1], s["by_threads"][2]
    assert (one["n"], one["median_ms"], one["min_ms"]) == (2, 4.2, 4.0)
    assert (two["n"], two["median_ms"], two["min_ms"]) == (2, 2.1, 2.0)
    assert two["speedup_of_medians"] == pytest.approx(2.0)
    assert two["pairs"] == 1 and two["speedup_median_pair"] == pytest.approx(2.0)   # (1, 4.0) -> (2, 2.0)
    text = scaling.format_summary("cnn", s, 30, 0.1)
    assert "4 of 6 chunks quiet" in text and "| 2 | 2 | 2.100 | 2.000 | 2.00 | 2.00 (1 pairs) |" in text


def test_scaling_by_pass_medians_of_quiet_chunks_and_excess():
    from bench import scaling
    # per chunk: (threads, ms/step, other load, parts); the disturbed chunk's parts are dropped
    recs = [(1, 4.0, 0.0, {"conv backward": 3.0, "kernel conv2d_bwd_input": 2.0}),
            (2, 2.5, 0.0, {"conv backward": 1.8, "kernel conv2d_bwd_input": 1.0}),
            (1, 4.2, 0.0, {"conv backward": 3.2, "kernel conv2d_bwd_input": 2.2}),
            (2, 9.0, 1.5, {"conv backward": 8.0, "kernel conv2d_bwd_input": 7.0}),
            (2, 2.7, 0.0, {"conv backward": 2.0, "kernel conv2d_bwd_input": 1.2})]
    parts = scaling.by_part(recs, [1, 2], 0.1)
    assert parts["conv backward"] == {1: pytest.approx(3.1), 2: pytest.approx(1.9)}
    assert parts["kernel conv2d_bwd_input"] == {1: pytest.approx(2.1), 2: pytest.approx(1.1)}
    text = scaling.format_parts(parts, [1, 2])
    # passes before kernels; excess = 1.9 - 3.1 / 2
    assert text.index("| conv backward |") < text.index("| kernel conv2d_bwd_input |")
    assert "| conv backward | 3.100 | 1.900 | 1.63 | +0.350 |" in text
    assert scaling.parts(None, 1.0, 10) is None


def test_scaling_by_pass_runs_with_the_timers_and_removes_them(monkeypatch):
    from bench import scaling
    from pyconv import _kernels
    fwd = _kernels.conv2d_fwd
    records = scaling.measure("cnn", [1, 2], 2, 0.01, scaling.stepprofile.Profile())
    assert _kernels.conv2d_fwd is fwd   # the timers are gone after the run
    assert {r[0] for r in records} == {1, 2}
    p = records[0][3]
    assert p["kernel conv2d_fwd"] > 0   # (layer names count up within a process: conv2d_3, ...)
    assert any(k.startswith("conv2d") and k.endswith(" backward") and v > 0 for k, v in p.items())
    assert p["fit loop (outside the passes)"] >= 0


def test_onnx_inference_bench_checks_then_reports(tmp_path, capsys, threads):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from bench import onnx_infer
    out = tmp_path / "o.json"
    assert onnx_infer.main(["--batches", "1", "3", "--repeats", "5", "--threads", "1", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    rows = got["rows"]
    assert [(r["model"], r["batch"]) for r in rows] == [("cnn", 1), ("cnn", 3), ("dnn", 1), ("dnn", 3)]
    assert all(r["ratio"] == pytest.approx(r["pyconv_ms"] / r["onnxruntime_ms"]) for r in rows)
    # the breakdown: one call = kernels + outside, and the DNN runs its two dense layers' kernels
    for b in got["breakdown"]:
        assert b["kernel_ms"] + b["outside_ms"] == pytest.approx(b["call_ms"])
        assert 0 < b["kernel_ms"] <= b["instrumented_ms"] and min(b["by_kernel"].values()) > 0
    assert [b["model"] for b in got["breakdown"]] == ["cnn", "dnn"]
    assert set(got["breakdown"][1]["by_kernel"]) == {"dense_fwd", "softmax_fwd"}
    assert got["breakdown"][1]["kernel_calls"] == 3   # two dense layers and the softmax
    text = capsys.readouterr().out
    assert "pyconv / ort" in text and "DNN predict_on_batch at batch 1" in text


def test_inference_bench_alternates_in_blocks():
    from bench import onnx_infer
    calls = []
    meds = onnx_infer.alternating_medians([lambda: calls.append("a"), lambda: calls.append("b")],
                                          repeats=3, warmup=1, block=2)
    assert "".join(calls) == "ab" + "aabb" * 2 and len(meds) == 2


def test_inference_bench_settles_until_the_process_is_idle():
    """Each block starts once no thread of the process spins (onnxruntime's pool spins ~45 ms
    after a call): a thread kept busy holds settle() up until it stops, or for `most` seconds
    at most; an idle process passes in two windows."""
    import threading
    from bench import onnx_infer

    def busy_for(seconds):
        stop = time.perf_counter() + seconds

        def spin():
            while time.perf_counter() < stop:
                sum(range(1000))
        t = threading.Thread(target=spin)
        t.start()
        return t, stop
    t, stop = busy_for(0.15)
    waited = onnx_infer.settle()
    t.join()
    assert waited >= 0.1 and time.perf_counter() >= stop, waited
    assert onnx_infer.SETTLE_LEAST <= onnx_infer.settle() < onnx_infer.SETTLE_LEAST + 0.05
    assert onnx_infer.settle(least=0) < 0.05   # idle: two windows
    t, _ = busy_for(0.4)
    waited = onnx_infer.settle(most=0.1)
    t.join()
    assert 0.1 <= waited < 0.25, waited


def test_onnx_inference_bench_rejects_a_median_of_too_few(capsys):
    from bench import onnx_infer
    with pytest.raises(SystemExit):
        onnx_infer.main(["--repeats", "3"])
    assert "--repeats >= 5" in capsys.readouterr().err


def test_child_env_sets_threads():
    env = epoch.child_env(3)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert env["KERAS_BACKEND"] == "tensorflow"


# ---- the step profiler's bookkeeping ------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_profile_charges_kernels_to_the_innermost_scope(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(stepprofile.time, "perf_counter", clock)
    prof = stepprofile.Profile()

    def kern():
        clock.t += 2.0

    k = prof.kernel_wrapper("conv2d_fwd", kern)

    def layer_forward():
        clock.t += 1.0   # Python before the kernel
        k()
        inner()          # same scope re-entered (Dense.forward -> forward_pre): not nested
        clock.t += 0.5

    inner = prof.scope_wrapper(("conv2d", "forward"), lambda: k())
    fwd = prof.scope_wrapper(("conv2d", "forward"), layer_forward)
    fwd()
    k()  # outside every layer: charged to the fit loop
    key = ("conv2d", "forward")
    assert prof.incl[key] == 5.5 and prof.kernel[key] == 4.0 and prof.calls[key] == 1
    assert prof.kernels_in[key]["conv2d_fwd"] == 2
    assert prof.kernel[stepprofile.ROOT] == 2.0 and prof.kcalls["conv2d_fwd"] == 3
    assert prof.by_kernel["conv2d_fwd"] == 6.0 and prof.order == [key]


def test_instrument_and_restore():
    from pyconv import _kernels, layers, models
    m = worker.keras_like_model(layers, models, "dnn")
    x = np.zeros((64, 28, 28), np.float32)
    y = np.zeros(64, np.int64)
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)  # builds the layers and the metrics
    original = _kernels.dense_fwd
    prof = stepprofile.Profile()
    restore = stepprofile.instrument(m, prof)
    assert _kernels.dense_fwd is not original and "_fwd" in vars(m.layers[1])
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    restore()
    assert _kernels.dense_fwd is original and "_fwd" not in vars(m.layers[1])
    scopes = {k[0] for k in prof.order}
    assert {m.layers[1].name, m.layers[2].name, "loss", "optimizer", "metrics"} <= scopes
    assert prof.kcalls["dense_fwd"] == 2 * 2 and prof.kcalls["softmax_xent"] == 2
    assert prof.kernels_in[(m.layers[1].name, "backward")]["dense_bwd"] == 2


def test_profile_rows_add_up():
    """The exclusive rows sum to the step (an identity of the bookkeeping, not a timing)."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    p = stepprofile.profile_model("dnn", x, y, steps=2, rounds=1)
    assert sum(r["total_ms"] for r in p["rows"]) == pytest.approx(p["step_ms"])
    assert p["kernel_ms"] + p["outside_ms"] == pytest.approx(p["step_ms"])
    assert p["rows"][-1]["part"] == "fit loop"
    text = stepprofile.format_profile(p)
    assert "Python overhead" in text and "| dense_fwd |" in text and "Upper bound" in text


def test_timer_calibration_is_a_cost_and_is_taken_out(monkeypatch):
    """calibrate() gives non-negative per-call costs; profile_model removes exactly those costs
    times the calls from the instrumented run (checked with fixed costs: bookkeeping only)."""
    inside, outside, scope = stepprofile.calibrate(n=2000, rounds=2)
    assert min(inside, outside, scope) >= 0 and inside + outside < 1e-3
    monkeypatch.setattr(stepprofile, "calibrate", lambda: (1e-6, 2e-6, 3e-6))
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    p = stepprofile.profile_model("dnn", x, y, steps=2, rounds=1)
    kcalls = p["kernel_calls_per_step"]
    scopes = sum(r["calls_per_step"] for r in p["rows"][:-1])
    want = p["outside_ms"] - (kcalls * 2e-3 + scopes * 3e-3)
    assert p["calibrated_outside_ms"] == pytest.approx(want)
    kern = p["kernel_ms"] - kcalls * 1e-3
    assert p["calibrated_overhead_pct"] == pytest.approx(100 * want / (want + kern))


def test_disturbed_runs_are_flagged_and_superseded_ones_dropped():
    runs = fake_runs()
    runs[0]["other_load"] = 1.5                                   # pyconv repeat 0: kept, disturbed
    runs.append(dict(model="cnn", framework="torch", epoch_seconds=[99.0], test_accuracy=0.1,
                     peak_rss_mib=9_999.0, other_load=1.9, superseded=True))   # retried: ignored
    rows = epoch.summarize(runs, ["cnn"], ["pyconv", "torch"], n_train=6_000, roofline=200.0,
                           max_other_load=0.3)
    assert rows[0]["disturbed"] == 1 and rows[1]["disturbed"] == 0
    assert rows[1]["measured_s"] == 2.5 and rows[1]["peak_rss_mib"] == 900.0
    table = epoch.format_table(rows)
    assert "| CNN | pyconv | 20.00 * |" in table
    info = dict(fake_info(), max_other_load=0.3)
    assert "* disturbed: other processes kept more than 0.3 cores busy" in epoch.footer(info, rows)
    assert "CNN pyconv (1 of 3)" in epoch.footer(info, rows)
    assert not epoch.disturbed({"other_load": None}, 0.3) and epoch.disturbed({"other_load": 0.31}, 0.3)


def test_python_m_bench_imports_pyconv_from_the_repository_root():
    """README: `python -m bench --quick` from the repository root after `pip install .`, where
    ./pyconv is the source tree without its extension (CI's install is such a one)."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", "import bench, bench.kernels, pyconv; print(pyconv._kernels.isa_active())"],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_bn_ab_calls_are_the_same_passes():
    """bench.bn_ab: this tree's calls, and REV's with --base-relu-pass (relu_bwd, then the plain
    backward), give the same bits for each pass name."""
    import numpy as np
    import pyconv
    from bench import bn_ab
    rng = np.random.default_rng(0)
    x, dy = (rng.standard_normal((2, 3, 3, 8)).astype(np.float32) for _ in range(2))
    gamma, beta = (rng.standard_normal(8).astype(np.float32) for _ in range(2))
    y, mean, _, invstd, scale, shift = pyconv._kernels.bn_train(x, gamma, beta, 1e-3, relu=True, coefs=True)
    data = (x, dy, gamma, beta, mean, invstd, scale, shift, y)
    ours, relu_pass = bn_ab.calls(pyconv._kernels, data, False), bn_ab.calls(pyconv._kernels, data, True)
    assert list(ours) == ["backward", "backward+relu", "train forward+relu"]
    for name in ours:
        for a, b in zip(ours[name](), relu_pass[name]()):
            assert np.array_equal(a, b), name


def test_ab_kernels_cases():
    """bench.ab_kernels: each layer and pass a case names is a call of that kernel with its
    FLOPs (2 per multiply-add), the same for both builds; here on this tree alone."""
    import pyconv
    from bench import ab_kernels
    for case, flops in (("conv3_bf_2", 2.0 * 2 * 9 * 64 * 9 * 64),
                        ("convt_bi_1", 2.0 * 196 * 128 * 64 * 9)):
        fn, f = ab_kernels.make_call(pyconv, case)
        assert f == flops
        out = fn()
        assert np.all(np.isfinite(out[0] if isinstance(out, tuple) else out))
    fn, _ = ab_kernels.make_call(pyconv, "convt_fw_1")
    assert fn().shape == (1, 28, 28, 64)


def test_blocking_bench_runs_every_pair_each_round_and_restores_the_rule():
    from bench import blocking
    from pyconv import _kernels
    args = blocking.parse(["--blocks", "232:192,0:0", "--rounds", "2"])
    assert args.blocks == [(232, 192), (0, 0)] and args.rounds == 2
    for bad in ("232", "a:b", "-1:0"):
        with pytest.raises(SystemExit):
            blocking.parse(["--blocks", bad])
    seen = []
    fns = {"kc": (lambda: seen.append(_kernels.blocking()["kc"]), 1.0)}
    rule = _kernels.blocking()
    res = blocking.measure(fns, [(0, 64), (0, 0)], rounds=2, calls=2, warm=1)
    assert seen == [64] * 3 + [rule["kc"]] * 3 + [64] * 3 + [rule["kc"]] * 3
    assert _kernels.blocking() == rule and all(len(v) == 2 for v in res.values())
    assert set(blocking.cases(batches=(2,))) >= {"conv2 forward b2", "conv3 filter grad b2"}


def test_blocking_bench_forms_time_every_form_in_both_modes_and_restore_the_caps():
    from bench import blocking
    from pyconv import _kernels
    assert blocking.parse(["--forms"]).forms
    calls = []

    def width():
        w = _kernels.set_pool_width(0)
        _kernels.set_pool_width(w)
        return w
    cases_ = {"k": (lambda f: calls.append((f, width())), 1.0)}
    prev = _kernels.set_pool_width(0)
    res = blocking.measure_forms(cases_, 2, rounds=1)
    assert _kernels.set_pool_width(prev) == 0
    assert sorted(res) == [("k", m, f) for m in ("omp", "pool") for f in (0, 1, 2)]
    assert [c for c in calls if c[1] == 2] and [c for c in calls if c[1] == 0]   # pool width 2, then none
    assert len(calls) == 2 * 3 * 8
    fc = blocking.form_cases()
    got = fc["dense 16x576->64"][0](2)
    np.testing.assert_array_equal(got, fc["dense 16x576->64"][0](0))
