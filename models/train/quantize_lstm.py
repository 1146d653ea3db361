#!/usr/bin/env python3
"""int8 quantization of a bundle's LSTMs, written by hand with the onnx package
(python3-onnx on Debian, or pip's onnx) and numpy; ONNX Runtime's Python
quantizer is not needed.

  quantize_lstm.py [--matmul] IN_BUNDLE OUT_BUNDLE NAME

Every window's output must not depend on the other rows of its batch (a
restart, another batch size or another order must reproduce the same files:
nerstream's TestOutputIndependentOfBatchMates). ONNX Runtime's
DynamicQuantizeLSTM breaks that: it quantizes its whole input, and at every
step the whole batch's hidden state, with one scale. So each ONNX LSTM node
is rewritten into plain ONNX + com.microsoft MatMulIntegerToFloat, batched but
with scales that never span rows:

- input projection, for all steps at once: X [seq, batch, input] is quantized
  per token (symmetric, scale = max|x| / 127 over that token's features,
  uint8 with zero point 128), multiplied by W (int8 per output channel,
  symmetric, scale = max|w| / 127) in MatMulIntegerToFloat, then by the
  token's scale;
- recurrence: a Scan over time, one step for the whole batch: h = o * tanh(c)
  lies in (-1, 1), so it is quantized with the fixed scale 1/127 (uint8, zero
  point 128), multiplied by R (int8 per output channel) with the LSTM bias
  fused; gates and cell state stay float32 (ONNX LSTM defaults: sigmoid,
  tanh, tanh; gate order i, o, f, c).

Integer products are exact and every float operation is elementwise or per
row, so a window's logits are a function of the window alone. The LSTMs must
be forward, without sequence_lens, peepholes, clip or custom activations, with
zero initial states, and only their Y output read (the BiLSTM exports here:
the backward direction is a forward LSTM over reversed windows).

With --matmul, every MatMul whose second input is a 2-D weight also becomes
DynamicQuantizeMatMul (weights per output column): what a BERT-shaped graph
needs. Those are NOT per row (their activation scale spans the batch): not for
bundles that must reproduce their files. Every other node stays float32.
Weights stored as float16 + Cast (or shared through Identity) are read through
those nodes (which are dropped once unused). The bundle's other files are
copied; config.json's nerstream.name becomes NAME.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def qcols(w):
    """w: [N, K] float -> (int8 [K, N], scale [N]): symmetric per output channel, scale = max|w| / 127."""
    scale = np.abs(w).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.T), scale.astype(np.float32)


SHARED = {"q_zp128": np.array(128, np.uint8), "q_f128": np.array(128, np.float32), "q_f127": np.array(127, np.float32),
          "q_one": np.array(1, np.float32), "q_h_scale": np.array(1 / 127, np.float32), "q_tiny": np.array(1e-30, np.float32),
          "q_axis0": np.array([0], np.int64), "q_axis1": np.array([1], np.int64)}


def lstm_int8(node, inits, base):
    """The nodes and initializers that replace one ONNX LSTM node (see the module's docstring)."""
    def mk(op, ins, outs, **kw):
        return helper.make_node(op, ins, outs, **kw)
    ins = list(node.input) + [""] * (8 - len(node.input))
    x, w_name, r_name, b_name, seq, h0, c0, peep = ins[:8]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) - {"hidden_size", "direction", "layout"} or attrs.get("direction", b"forward") != b"forward" \
            or attrs.get("layout", 0) != 0 or seq or peep:
        sys.exit(f"{node.name}: want a forward LSTM with default activations, no clip, sequence_lens or peepholes (have {attrs})")
    hs = attrs["hidden_size"]
    w = numpy_helper.to_array(inits[w_name]).astype(np.float32)[0]  # [4h, input]
    r = numpy_helper.to_array(inits[r_name]).astype(np.float32)[0]  # [4h, h]
    bias = numpy_helper.to_array(inits[b_name]).astype(np.float32)[0] if b_name else np.zeros(8 * hs, np.float32)
    wq, ws = qcols(w)
    rq, rs = qcols(r)
    p, s = base, base + "step_"
    init = {p + "W": wq, p + "W_scale": ws, p + "R": rq, p + "R_scale": rs, p + "B": bias[:4 * hs] + bias[4 * hs:],
            p + "split_iof_c": np.array([3 * hs, hs], np.int64), p + "split_i_o_f": np.array([hs, hs, hs], np.int64)}
    zeros = [mk("Shape", [x], [p + "xshape"]), mk("Gather", [p + "xshape", "q_axis1"], [p + "batch"], axis=0),
             mk("Concat", [p + "batch", p + "hidden"], [p + "hshape"], axis=0),
             mk("ConstantOfShape", [p + "hshape"], [p + "zeros"], value=numpy_helper.from_array(np.zeros(1, np.float32)))]
    init[p + "hidden"] = np.array([hs], np.int64)
    nodes = zeros + [
        # per-token scale: max|x| over the token's features / 127
        mk("Abs", [x], [p + "xabs"]), mk("ReduceMax", [p + "xabs"], [p + "xmax0"], axes=[-1], keepdims=1),
        mk("Max", [p + "xmax0", "q_tiny"], [p + "xmax"]), mk("Div", [p + "xmax", "q_f127"], [p + "xscale"]),
        mk("Div", ["q_f127", p + "xmax"], [p + "xinv"]), mk("Mul", [x, p + "xinv"], [p + "x127"]),
        mk("Round", [p + "x127"], [p + "xr"]), mk("Add", [p + "xr", "q_f128"], [p + "xu"]),
        mk("Cast", [p + "xu"], [p + "xq"], to=TensorProto.UINT8),
        mk("MatMulIntegerToFloat", [p + "xq", p + "W", "q_one", p + "W_scale", "q_zp128"], [p + "xw"], domain="com.microsoft"),
        mk("Mul", [p + "xw", p + "xscale"], [p + "proj"])]  # [seq, batch, 4h]: X W^T
    body = [
        mk("Mul", [s + "h", "q_f127"], [s + "h127"]), mk("Add", [s + "h127", "q_f128"], [s + "hu"]),
        mk("Round", [s + "hu"], [s + "hr"]), mk("Cast", [s + "hr"], [s + "hq"], to=TensorProto.UINT8),
        mk("MatMulIntegerToFloat", [s + "hq", p + "R", "q_h_scale", p + "R_scale", "q_zp128", "", p + "B"], [s + "hr_b"], domain="com.microsoft"),
        mk("Add", [s + "hr_b", s + "x"], [s + "gates"]),
        mk("Split", [s + "gates", p + "split_iof_c"], [s + "iof", s + "cg"], axis=1),
        mk("Sigmoid", [s + "iof"], [s + "iof_s"]),
        mk("Split", [s + "iof_s", p + "split_i_o_f"], [s + "i", s + "o", s + "f"], axis=1),
        mk("Tanh", [s + "cg"], [s + "cg_t"]),
        mk("Mul", [s + "f", s + "c"], [s + "fc"]), mk("Mul", [s + "i", s + "cg_t"], [s + "ig"]),
        mk("Add", [s + "fc", s + "ig"], [s + "c_next"]), mk("Tanh", [s + "c_next"], [s + "c_t"]),
        mk("Mul", [s + "o", s + "c_t"], [s + "h_next"]), mk("Identity", [s + "h_next"], [s + "y"])]
    vi = lambda n, shape: helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
    graph = helper.make_graph(body, s + "body", [vi(s + "h", [None, hs]), vi(s + "c", [None, hs]), vi(s + "x", [None, 4 * hs])],
                              [vi(s + "h_next", [None, hs]), vi(s + "c_next", [None, hs]), vi(s + "y", [None, hs])])
    nodes += [mk("Scan", [p + "zeros", p + "zeros", p + "proj"], [p + "h_last", p + "c_last", p + "ys"], body=graph,
                 num_scan_inputs=1, name=(node.name or "lstm") + "_int8"),
              mk("Unsqueeze", [p + "ys", "q_axis1"], [node.output[0]])]  # Y: [seq, 1, batch, h]
    return nodes, init, (h0, c0)


def main(src, dst, name, matmul=False):
    src, dst = Path(src), Path(dst)
    model = onnx.load(src / "model.onnx")
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    # weights stored as float16 + Cast (export_ensemble.py / export_v2.py --fp16), or shared through an
    # Identity (the exporter's deduplication): read through them (nodes are in topological order)
    for node in g.node:
        if node.op_type in ("Cast", "Identity") and node.input[0] in inits and node.output[0] not in inits:
            inits[node.output[0]] = inits[node.input[0]]
    new_nodes, n = [], 0
    for node in g.node:
        if matmul and node.op_type == "MatMul" and node.input[1] in inits and len(inits[node.input[1]].dims) == 2:
            b = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)  # [K, N]
            scale = np.abs(b).max(axis=0) / 127.0
            scale[scale == 0] = 1.0
            bq = np.clip(np.rint(b / scale[None, :]), -127, 127).astype(np.int8)
            base = f"q{n}_"
            n += 1
            g.initializer.extend([numpy_helper.from_array(bq, base + "B"), numpy_helper.from_array(scale.astype(np.float32), base + "B_scale"),
                                  numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), base + "B_zero_point")])
            new_nodes.append(helper.make_node("DynamicQuantizeMatMul", [node.input[0], base + "B", base + "B_scale", base + "B_zero_point"],
                                              list(node.output), name=(node.name or "matmul") + "_quant", domain="com.microsoft"))
            continue
        if node.op_type != "LSTM":
            new_nodes.append(node)
            continue
        nodes, init, states = lstm_int8(node, inits, f"q{n}_")
        n += 1
        for s0 in states:  # initial states must be zeros: the Scan starts from its own
            src_node = next((nd for nd in g.node if s0 and s0 in nd.output), None)
            if s0 and not (src_node is not None and src_node.op_type == "ConstantOfShape"
                           and (not src_node.attribute or not np.any(numpy_helper.to_array(src_node.attribute[0].t)))):
                sys.exit(f"{node.name}: initial state {s0} is not a ConstantOfShape of zeros")
        read = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
        if any(o and o in read for o in node.output[1:]):
            sys.exit(f"{node.name}: Y_h / Y_c are read; the rewrite returns Y only")
        g.initializer.extend(numpy_helper.from_array(v, k) for k, v in init.items())
        new_nodes.extend(nodes)
    if n == 0:
        sys.exit(f"{src}/model.onnx has nothing to quantize")
    g.initializer.extend(numpy_helper.from_array(v, k) for k, v in SHARED.items())
    del g.node[:]
    g.node.extend(new_nodes)
    # drop Casts (and then initializers) nothing reads any more, until nothing changes
    while True:
        used = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
        used |= {i for nd in g.node for a in nd.attribute if a.g.node for b in a.g.node for i in b.input}  # Scan bodies
        live = [nd for nd in g.node if nd.op_type not in ("Cast", "Identity") or nd.output[0] in used]
        if len(live) == len(g.node):
            break
        del g.node[:]
        g.node.extend(live)
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    dst.mkdir(parents=True, exist_ok=True)
    onnx.save(model, dst / "model.onnx")
    for f in src.iterdir():
        if f.name not in ("model.onnx", "MODEL_CARD.md", "config.json") and f.is_file():
            shutil.copy(f, dst / f.name)
    cfg = json.loads((src / "config.json").read_text())
    cfg.setdefault("nerstream", {})["name"] = name
    cfg["nerstream"]["quantization"] = ("int8 LSTM weights per output channel, symmetric (MatMulIntegerToFloat); activations per token"
                                        " (input projection) and with the fixed scale 1/127 (hidden state): no scale spans the batch"
                                        + ("; MatMuls: DynamicQuantizeMatMul (scales span the batch)" if matmul else ""))
    (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"{n} nodes quantized; {dst / 'model.onnx'}: {(dst / 'model.onnx').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    args = sys.argv[1:]
    mm = "--matmul" in args
    args = [a for a in args if a != "--matmul"]
    if len(args) != 3:
        sys.exit(__doc__)
    main(*args, matmul=mm)
