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

// synthModel builds a ModelProto with the given graph inputs (name, elem
// type, dims; 0 = symbolic), one float output and initializers by name.
func synthModel(inputs []string, inits []string) []byte {
	vi := func(name string, elem uint64, dims []int64) []byte {
		var shape []byte
		for _, d := range dims {
			var dim []byte
			if d > 0 {
				dim = protowire.AppendTag(dim, fDimValue, protowire.VarintType)
				dim = protowire.AppendVarint(dim, uint64(d))
			} else {
				dim = protowire.AppendTag(dim, 2, protowire.BytesType) // dim_param
				dim = protowire.AppendString(dim, "batch")
			}
			shape = protowire.AppendTag(shape, fShapeDim, protowire.BytesType)
			shape = protowire.AppendBytes(shape, dim)
		}
		var tt []byte
		tt = protowire.AppendTag(tt, fTensorTypeElem, protowire.VarintType)
		tt = protowire.AppendVarint(tt, elem)
		tt = protowire.AppendTag(tt, fTensorTypeShape, protowire.BytesType)
		tt = protowire.AppendBytes(tt, shape)
		var typ []byte
		typ = protowire.AppendTag(typ, fTypeTensor, protowire.BytesType)
		typ = protowire.AppendBytes(typ, tt)
		var b []byte
		b = protowire.AppendTag(b, fValueInfoName, protowire.BytesType)
		b = protowire.AppendString(b, name)
		b = protowire.AppendTag(b, fValueInfoType, protowire.BytesType)
		return protowire.AppendBytes(b, typ)
	}
	var g []byte
	for _, name := range inits {
		var tp []byte
		tp = protowire.AppendTag(tp, 1, protowire.BytesType) // dims (packed)
		tp = protowire.AppendBytes(tp, []byte{4, 4})
		tp = protowire.AppendTag(tp, fTensorProtoName, protowire.BytesType)
		tp = protowire.AppendString(tp, name)
		tp = protowire.AppendTag(tp, 9, protowire.BytesType) // raw_data
		tp = protowire.AppendBytes(tp, bytes.Repeat([]byte{1}, 64))
		g = protowire.AppendTag(g, fGraphInitializer, protowire.BytesType)
		g = protowire.AppendBytes(g, tp)
	}
	for _, name := range inputs {
		g = protowire.AppendTag(g, fGraphInput, protowire.BytesType)
		g = protowire.AppendBytes(g, vi(name, 7, []int64{0, 128}))
	}
	g = protowire.AppendTag(g, fGraphOutput, protowire.BytesType)
	g = protowire.AppendBytes(g, vi("logits", 1, []int64{0, 128, 11}))
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType) // ir_version
	m = protowire.AppendVarint(m, 3)
	m = protowire.AppendTag(m, fModelGraph, protowire.BytesType)
	return protowire.AppendBytes(m, g)
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
		protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 3), // no graph
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
