#!/usr/bin/env python3
"""Dynamic int8 quantization of a bundle's LSTM weights (ONNX Runtime's
com.microsoft DynamicQuantizeLSTM), written by hand because onnxruntime's
Python quantizer is not installable here (PyPI is out of reach); python3-onnx
(Debian) is enough.

  quantize_lstm.py IN_BUNDLE OUT_BUNDLE NAME

Each ONNX LSTM node becomes DynamicQuantizeLSTM: W and R are quantized per
output channel (symmetric int8, zero point 0, scale = max|w| / 127) and
transposed to the layout the contrib op expects ([dirs, input, 4*hidden]).
Activations are quantized dynamically at run time by the op itself, with one
scale per call over its whole input: over a batch, a window's output would
depend on the other rows of its batch (a restart or another batch size would
change confidences and even labels). So each DynamicQuantizeLSTM runs inside a
Scan over the batch axis, one window at a time: every window gets its own
scales and the same output whatever its batch mates (nerstream's
TestOutputIndependentOfBatchMates). The LSTM must have no sequence_lens and
zero (or absent) initial states, and only its Y output may be read.
With --matmul, every MatMul whose second input is a 2-D weight also becomes
DynamicQuantizeMatMul (weights per output column, the same rule): that is what
a BERT-shaped graph needs; those are NOT wrapped per row (their activation
scale spans the batch: not for bundles that must reproduce their files).
Every other node stays float32. Weights stored as
float16 + Cast (or shared through Identity) are read through those nodes
(which are dropped once unused). The bundle's other
files are copied; config.json's nerstream.name becomes NAME.

  quantize_lstm.py [--matmul] IN_BUNDLE OUT_BUNDLE NAME
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def per_row(qnode, x, out, hidden, base):
    """Wrap a DynamicQuantizeLSTM (inputs already named) in a Scan over the
    batch axis of X [seq, batch, input]: the body sees one window [seq, input],
    runs the op on [seq, 1, input] with zero initial states and returns Y
    [seq, hidden]; the Scan stacks the rows on axis 1 and an Unsqueeze restores
    Y's [seq, 1, batch, hidden]. Returns the nodes and the new initializers."""
    p = base + "row_"
    ins = list(qnode.input)
    ins[0], ins[5], ins[6] = p + "x3", p + "zeros", p + "zeros"
    body = helper.make_graph(
        [helper.make_node("Unsqueeze", [p + "x", p + "axis1"], [p + "x3"]),
         helper.make_node(qnode.op_type, ins, [p + "y4"], domain=qnode.domain,
                          **{a.name: helper.get_attribute_value(a) for a in qnode.attribute}),
         helper.make_node("Squeeze", [p + "y4", p + "axes12"], [p + "y"])],
        p + "body",
        [helper.make_tensor_value_info(p + "x", TensorProto.FLOAT, ["sequence", None])],
        [helper.make_tensor_value_info(p + "y", TensorProto.FLOAT, ["sequence", hidden])],
        initializer=[numpy_helper.from_array(np.array([1], np.int64), p + "axis1"),
                     numpy_helper.from_array(np.array([1, 2], np.int64), p + "axes12"),
                     numpy_helper.from_array(np.zeros((1, 1, hidden), np.float32), p + "zeros")])
    nodes = [helper.make_node("Scan", [x], [p + "ys"], name=(qnode.name or "lstm") + "_per_row", body=body,
                              num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1]),
             helper.make_node("Unsqueeze", [p + "ys", p + "axis1_out"], [out])]
    return nodes, [numpy_helper.from_array(np.array([1], np.int64), p + "axis1_out")]


def quantize_per_channel(w):
    """w: [dirs, 4h, k] float -> (int8 [dirs, k, 4h], scale [dirs, 4h])."""
    scale = np.abs(w).max(axis=2) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale[:, :, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.transpose(0, 2, 1)), scale.astype(np.float32)


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
        ins = list(node.input) + [""] * (8 - len(node.input))
        x, w_name, r_name, b, seq, h0, c0, p = ins[:8]
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        r = numpy_helper.to_array(inits[r_name]).astype(np.float32)
        wq, ws = quantize_per_channel(w)
        rq, rs = quantize_per_channel(r)
        base = f"q{n}_"
        n += 1
        for arr, nm in [(wq, "W"), (ws, "W_scale"), (np.zeros_like(ws, dtype=np.int8), "W_zero_point"),
                        (rq, "R"), (rs, "R_scale"), (np.zeros_like(rs, dtype=np.int8), "R_zero_point")]:
            g.initializer.append(numpy_helper.from_array(arr, base + nm))
        q = helper.make_node(
            "DynamicQuantizeLSTM",
            [x, base + "W", base + "R", b, seq, h0, c0, p,
             base + "W_scale", base + "W_zero_point", base + "R_scale", base + "R_zero_point"],
            list(node.output), name=(node.name or "lstm") + "_quant", domain="com.microsoft")
        q.attribute.extend(node.attribute)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("direction", b"forward") not in (b"forward", "forward") or seq or p:
            sys.exit(f"{node.name}: per-row wrapping needs a forward LSTM without sequence_lens or peepholes")
        for s0 in (h0, c0):  # initial states must be zeros: the Scan body uses its own
            if s0 and not any(nd.output[0] == s0 and nd.op_type == "ConstantOfShape" and not np.any(
                    numpy_helper.to_array(nd.attribute[0].t) if nd.attribute else 0) for nd in g.node):
                sys.exit(f"{node.name}: initial state {s0} is not a ConstantOfShape of zeros")
        used_later = {i for nd in g.node for i in nd.input} | {o.name for o in g.output}
        if any(o and o in used_later for o in node.output[1:]):
            sys.exit(f"{node.name}: Y_h / Y_c are read; per-row wrapping returns Y only")
        nodes, extra = per_row(q, x, node.output[0], attrs["hidden_size"], base)
        g.initializer.extend(extra)
        new_nodes.extend(nodes)
    if n == 0:
        sys.exit(f"{src}/model.onnx has nothing to quantize")
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
    cfg["nerstream"]["quantization"] = ("int8 weights per output channel, symmetric: DynamicQuantizeLSTM, one window at a time"
                                        " (Scan over the batch: activation scales per window)" + (" and DynamicQuantizeMatMul" if matmul else ""))
    (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print(f"{n} nodes quantized; {dst / 'model.onnx'}: {(dst / 'model.onnx').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    args = sys.argv[1:]
    mm = "--matmul" in args
    args = [a for a in args if a != "--matmul"]
    if len(args) != 3:
        sys.exit(__doc__)
    main(*args, matmul=mm)
