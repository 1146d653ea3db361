package model

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestReadGraphIOMatchesONNXRuntime: for every bundle in the repository the
// header walk reports exactly what ONNX Runtime reports after loading the
// whole model into a session.
func TestReadGraphIOMatchesONNXRuntime(t *testing.T) {
	if err := Init(); err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(tiny, "model.onnx")}
	more, _ := filepath.Glob("../../models/*/model.onnx")
	paths = append(paths, more...)
	if len(paths) < 2 {
		t.Fatalf("no shipped bundles found beside %s", tiny)
	}
	for _, p := range paths {
		t.Run(filepath.Base(filepath.Dir(p)), func(t *testing.T) {
			ins, outs, err := readGraphIO(p)
			if err != nil {
				t.Fatal(err)
			}
			wantIns, wantOuts, err := ort.GetInputOutputInfo(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ins, wantIns) || !reflect.DeepEqual(outs, wantOuts) {
				t.Fatalf("header walk:\n  in %v\n  out %v\nONNX Runtime:\n  in %v\n  out %v", ins, outs, wantIns, wantOuts)
			}
		})
	}
}

// appendMsg appends a length-delimited field (a message, string or bytes).
func appendMsg(b []byte, num protowire.Number, payload []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), payload)
}

// appendNum appends a varint field.
func appendNum(b []byte, num protowire.Number, x uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), x)
}

// synthModel builds a ModelProto (IR 3, where initializers may be listed as
// graph inputs) with int64 [batch, 128] inputs of the given names, one float
// [batch, 128, 11] output "logits", and float initializers of the given names.
func synthModel(inputs []string, inits []string) []byte {
	vi := func(name string, elem uint64, dims []int64) []byte {
		var shape []byte
		for _, d := range dims {
			if d > 0 {
				shape = appendMsg(shape, fShapeDim, appendNum(nil, fDimValue, uint64(d)))
			} else {
				shape = appendMsg(shape, fShapeDim, appendMsg(nil, 2, []byte("batch"))) // dim_param
			}
		}
		tt := appendMsg(appendNum(nil, fTensorTypeElem, elem), fTensorTypeShape, shape)
		return appendMsg(appendMsg(nil, fValueInfoName, []byte(name)), fValueInfoType, appendMsg(nil, fTypeTensor, tt))
	}
	var g []byte
	for _, name := range inits {
		tp := appendMsg(nil, 1, []byte{4, 4}) // dims (packed)
		tp = appendMsg(tp, fTensorProtoName, []byte(name))
		tp = appendMsg(tp, 9, bytes.Repeat([]byte{1}, 64)) // raw_data
		g = appendMsg(g, fGraphInitializer, tp)
	}
	for _, name := range inputs {
		g = appendMsg(g, fGraphInput, vi(name, 7, []int64{0, 128}))
	}
	g = appendMsg(g, fGraphOutput, vi("logits", 1, []int64{0, 128, 11}))
	return appendMsg(appendNum(nil, 1, 3), fModelGraph, g) // ir_version 3
}

func TestReadGraphIO(t *testing.T) {
	model := synthModel([]string{"input_ids", "attention_mask", "w"}, []string{"w"})
	ins, outs, err := graphIOFrom(bytes.NewReader(model), int64(len(model)))
	if err != nil {
		t.Fatal(err)
	}
	want := []ort.InputOutputInfo{
		{Name: "input_ids", OrtValueType: ort.ONNXTypeTensor, Dimensions: ort.Shape{-1, 128}, DataType: ort.TensorElementDataTypeInt64},
		{Name: "attention_mask", OrtValueType: ort.ONNXTypeTensor, Dimensions: ort.Shape{-1, 128}, DataType: ort.TensorElementDataTypeInt64},
	}
	if !reflect.DeepEqual(ins, want) {
		t.Fatalf("inputs %v, want %v (an initializer listed as an input is not fed)", ins, want)
	}
	if len(outs) != 1 || outs[0].Name != "logits" || !reflect.DeepEqual(outs[0].Dimensions, ort.Shape{-1, 128, 11}) || outs[0].DataType != ort.TensorElementDataTypeFloat {
		t.Fatalf("outputs %v", outs)
	}
	for _, bad := range [][]byte{
		[]byte("this is not an onnx file"),
		model[:len(model)-5], // truncated
		{},
		appendNum(nil, 1, 3), // no graph
	} {
		if _, _, err := graphIOFrom(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, errNotONNX) {
			t.Errorf("%q: err %v, want errNotONNX", bad, err)
		}
	}
}

// FuzzReadGraphIO: any bytes give inputs/outputs or an errNotONNX, never a
// panic or a hang.
func FuzzReadGraphIO(f *testing.F) {
	f.Add(synthModel([]string{"input_ids", "attention_mask"}, []string{"w"}))
	f.Add([]byte("not onnx"))
	if b, err := os.ReadFile(filepath.Join(tiny, "model.onnx")); err == nil && len(b) > 4096 {
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := graphOpsFrom(bytes.NewReader(b), int64(len(b))); err != nil && !errors.Is(err, errNotONNX) {
			t.Fatalf("operators: err %v, want nil or errNotONNX", err)
		}
		ins, outs, err := graphIOFrom(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, v := range append(ins, outs...) {
			if v.Name == "" {
				t.Fatal("a value without a name")
			}
		}
	})
}

// Recurrent tells the BiLSTM bundles (float: LSTM, int8: a Scan over time per
// LSTM) from the BERT-shaped test model, from the node lists alone.
func TestBundleRecurrent(t *testing.T) {
	for dir, want := range map[string]bool{
		"../../models/jnlpba-v2": true, "../../models/jnlpba-v2-int8": true, tiny: false,
	} {
		b, err := LoadBundle(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Recurrent()
		if err != nil || got != want {
			t.Errorf("%s: Recurrent() = %v, %v; want %v", dir, got, err, want)
		}
	}
	// The int8 bundle's recurrences are Scans over time whose bodies hold
	// the gates (Sigmoid appears only there): subgraphs are read too.
	if ops, err := readGraphOps("../../models/jnlpba-v2-int8/model.onnx"); err != nil || ops["Scan"] != 8 || ops["Sigmoid"] != 8 {
		t.Errorf("int8 bundle operators %v, %v: want 8 Scan and the 8 Sigmoid of their bodies", ops, err)
	}
	ops, err := readGraphOps(filepath.Join(tiny, "model.onnx"))
	if err != nil || ops["MatMul"] == 0 || ops["Softmax"] == 0 {
		t.Fatalf("tiny BERT operators %v, %v: want MatMul and Softmax among them", ops, err)
	}
	if _, err := readGraphOps(filepath.Join(t.TempDir(), "missing.onnx")); err == nil {
		t.Fatal("missing file: no error")
	}
	bad := []byte("this is not an onnx file")
	if _, err := graphOpsFrom(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, errNotONNX) {
		t.Fatalf("not ONNX: err %v, want errNotONNX", err)
	}
}
