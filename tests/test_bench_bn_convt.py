"""bench/bn_convt.py's harness: every row is produced, with the byte and FLOP counts of its
docstring, and the BN-CNN has its three BatchNormalizations folded (times nothing that matters:
batch 1, one repeat, no PyTorch)."""
from bench import bn_convt


def test_tables_without_torch(capsys):
    out = bn_convt.print_tables([1], 1, None)
    bn, ct, cnn = out["batchnorm"], out["conv_transpose"], out["bn_cnn"]
    assert [(r["layer"], r["pass_"]) for r in bn] == [
        (l, p) for l, _ in bn_convt.BN_SHAPES for p in ("train forward", "train backward", "inference")]
    r = bn[1]   # train backward, 26x26x32: dy + x + dx
    assert abs(r["gbps"] * r["ms"] * 1e-3 * 1e9 - 3 * 26 * 26 * 32 * 4) < 1
    assert all(r["torch_ms"] is None for r in bn + ct)
    assert [r["pass_"] for r in ct] == ["forward", "backward_input", "backward_filter"]
    assert abs(ct[0]["gflops"] * ct[0]["ms"] * 1e6 - 2 * 14 * 14 * 128 * 64 * 9) < 1
    assert cnn[0]["folds"] == 3
    text = capsys.readouterr().out
    assert "| BN 14x14x256 | 1 | inference |" in text and "(3 BN folded) | 1 |" in text
